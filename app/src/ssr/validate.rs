//! Input rules, applied at the edge of every flow (DESIGN.md "sign up" and
//! "password policy"). Each returns a field error the UI can show in place.

use validator::ValidateEmail;

use crate::error::AppError;

pub const MAX_PASSWORD_LEN: usize = 128;

/// Trims and lower-cases; rejects what is not an address.
pub fn email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::invalid("email", "Enter your email address."));
    }
    if email.len() > 254 || !email.validate_email() {
        return Err(AppError::invalid(
            "email",
            "Enter a valid email address, like name@example.com.",
        ));
    }
    Ok(email)
}

/// 3–32 characters of `[a-z0-9_.-]`, stored lower-case.
pub fn username(raw: &str) -> Result<String, AppError> {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err(AppError::invalid(
            "username",
            "Choose a username of 3 to 32 characters.",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
    {
        return Err(AppError::invalid(
            "username",
            "Use only letters, digits, '_', '.' and '-' in your username.",
        ));
    }
    Ok(name)
}

/// NIST SP 800-63B: length bounds, no composition rules, and nothing built
/// from the account's own identifiers.
pub fn password(
    password: &str,
    min_len: usize,
    email: &str,
    username: &str,
) -> Result<(), AppError> {
    let len = password.chars().count();
    if len < min_len {
        return Err(AppError::invalid(
            "password",
            format!("Use at least {min_len} characters."),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(AppError::invalid(
            "password",
            format!("Use at most {MAX_PASSWORD_LEN} characters."),
        ));
    }
    let lowered = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let contains = |needle: &str| needle.chars().count() >= 3 && lowered.contains(needle);
    if contains(username) || contains(local) {
        return Err(AppError::invalid(
            "password",
            "Your password must not contain your username or email.",
        ));
    }
    Ok(())
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

    #[test]
    fn passwords_follow_nist_rules() {
        assert!(password("a perfectly fine phrase", 8, "ada@example.com", "ada").is_ok());
        assert!(password("short", 8, "x@example.com", "xyz").is_err());
        assert!(password(&"x".repeat(129), 8, "x@example.com", "xyz").is_err());
        assert!(password("my-name-is-lovelace!", 8, "lovelace@example.com", "ada").is_err());
        assert!(password("hello-ADA-lovelace", 8, "x@example.com", "ada").is_err());
    }
}
