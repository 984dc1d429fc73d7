//! Input rules for emails and usernames, applied at the edge of every flow
//! (DESIGN.md "sign up"; passwords are in `policy`). Each returns a field
//! error the UI can show in place.

use validator::ValidateEmail;

use crate::error::{AppError, Reason};

/// Trims and lower-cases; rejects what is not an address.
pub fn email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::invalid("email", Reason::EmailMissing));
    }
    if email.len() > 254 || !email.validate_email() {
        return Err(AppError::invalid("email", Reason::EmailInvalid));
    }
    Ok(email)
}

/// 3–32 characters of `[a-z0-9_.-]`, stored lower-case.
pub fn username(raw: &str) -> Result<String, AppError> {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err(AppError::invalid("username", Reason::UsernameLength));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return Err(AppError::invalid("username", Reason::UsernameChars));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "a b@example.com"] {
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
