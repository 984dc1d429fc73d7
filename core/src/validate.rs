//! Input rules for emails and usernames, applied at the edge of every flow
//! (docs/DESIGN.md "sign up"; passwords are in `password_policy`). Each returns a field
//! error the UI can show in place.

use validator::ValidateEmail;

use crate::error::{Error, Reason};

/// The longest address (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;
/// The longest name a log-in can be made with: an email or a username.
pub const MAX_LOGIN_LEN: usize = MAX_EMAIL_LEN;

/// Trims and lower-cases; rejects what is not an address. The domain is
/// stored in its ASCII (IDNA) form, so one mailbox has one spelling: a
/// full-width or internationalised domain is the same account as its
/// punycode. A dotless name (`localhost`) or an address literal is no
/// public mailbox and is refused.
pub fn email(raw: &str) -> Result<String, Error> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::invalid("email", Reason::EmailMissing));
    }
    let invalid = || Error::invalid("email", Reason::EmailInvalid);
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let domain = idna::domain_to_ascii(domain).map_err(|_| invalid())?;
    let literal = domain.starts_with('[') || domain.parse::<std::net::IpAddr>().is_ok();
    if !domain.contains('.') || domain.ends_with('.') || literal {
        return Err(invalid());
    }
    let email = format!("{local}@{domain}");
    if email.len() > MAX_EMAIL_LEN || !email.validate_email() {
        return Err(invalid());
    }
    Ok(email)
}

/// 3–32 characters of `[a-z0-9_.-]`, stored lower-case.
pub fn username(raw: &str) -> Result<String, Error> {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err(Error::invalid("username", Reason::UsernameLength));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Error::invalid("username", Reason::UsernameChars));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        // One mailbox, one spelling.
        assert_eq!(
            email("ada@ｅｘａｍｐｌｅ.ｃｏｍ").unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            email("ada@bücher.example").unwrap(),
            "ada@xn--bcher-kva.example"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "ada@127.0.0.1",
            "ada@example.com.",
        ] {
            let err = email(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn usernames_follow_the_rules() {
        assert_eq!(username(" Ada_L.ove-1 ").unwrap(), "ada_l.ove-1");
        for bad in ["ab", &"a".repeat(33), "ada lovelace", "ädä", "ada!"] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
    }
}
