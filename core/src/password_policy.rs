//! The password policy (docs/DESIGN.md, after NIST SP 800-63B): length bounds, no
//! composition rules, not one of the most common passwords, not built from
//! the account's own email or username. The strength meter runs the same
//! rules, so what it calls acceptable is exactly what sign-up, reset and
//! change accept.

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::error::{Error, ErrorCode, Reason};

pub const MAX_PASSWORD_LEN: usize = 128;

/// The 10,000 most common passwords of the Xato corpus, in rank order (as
/// zxcvbn ships them, MIT), lower-case. Compared case-insensitively.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

/// How much of a password zxcvbn reads for the meter.
const ESTIMATE_CHARS: usize = 48;

/// Checks a new password for the account `email`/`username`.
pub fn check(password: &str, min_len: usize, email: &str, username: &str) -> Result<(), Error> {
    let len = password.chars().count();
    if len < min_len {
        return Err(Error::counted(
            ErrorCode::InvalidInput,
            Reason::PasswordTooShort,
            min_len as u64,
        )
        .on("password"));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(Error::counted(
            ErrorCode::InvalidInput,
            Reason::PasswordTooLong,
            MAX_PASSWORD_LEN as u64,
        )
        .on("password"));
    }
    let lowered = password.to_lowercase();
    if COMMON.contains(lowered.as_str()) {
        return Err(weak(Reason::PasswordCommon));
    }
    let local = email.split('@').next().unwrap_or_default();
    let contains = |needle: &str| needle.chars().count() >= 3 && lowered.contains(needle);
    if contains(username) || contains(local) {
        return Err(weak(Reason::PasswordPersonal));
    }
    Ok(())
}

/// The live meter's reading of a candidate: the policy's verdict plus
/// zxcvbn's estimate (0–4) and advice. The UI's wire type (`Strength`) is
/// built from this with the refusal in words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimate {
    pub score: u8,
    /// The policy's refusal, as sign-up would answer it.
    pub refused: Option<Error>,
    /// zxcvbn's warning, in zxcvbn's English.
    pub warning_text: Option<String>,
    /// zxcvbn's advice, in zxcvbn's English.
    pub suggestions: Vec<String>,
    /// zxcvbn's warning by name (`this_is_a_top10_password`, …).
    pub warning: Option<String>,
    /// zxcvbn's advice by name (`add_another_word_or_two`, …).
    pub tips: Vec<String>,
}

impl Estimate {
    /// Whether sign-up, reset and change would accept it.
    pub fn acceptable(&self) -> bool {
        self.refused.is_none()
    }
}

/// Scores a candidate for the live meter: the policy's verdict plus
/// zxcvbn's estimate and advice. Email and username may be empty (sign-up
/// before they are typed).
pub fn strength(password: &str, min_len: usize, email: &str, username: &str) -> Estimate {
    let verdict = check(password, min_len, email, username);
    if password.chars().count() > MAX_PASSWORD_LEN {
        // zxcvbn's cost grows with length; the verdict already says no.
        return Estimate {
            refused: verdict.err(),
            ..Estimate::default()
        };
    }
    let local = email.split('@').next().unwrap_or_default();
    let inputs: Vec<&str> = [email, local, username]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    // zxcvbn's cost grows steeply with length (a 128-character repeat of
    // words took 170 ms); a password is at least as strong as its prefix,
    // so the estimate reads the first ESTIMATE_CHARS.
    let prefix: String = password.chars().take(ESTIMATE_CHARS).collect();
    let estimate = zxcvbn::zxcvbn(&prefix, &inputs);
    let feedback = estimate.feedback();
    let warning = feedback.and_then(|f| f.warning());
    let suggestions = feedback.map(|f| f.suggestions()).unwrap_or_default();
    Estimate {
        score: if verdict.is_ok() {
            u8::from(estimate.score())
        } else {
            0
        },
        warning_text: warning.map(|w| w.to_string()),
        suggestions: suggestions.iter().map(ToString::to_string).collect(),
        warning: warning.map(|w| snake_name(&format!("{w:?}"))),
        tips: suggestions
            .iter()
            .map(|s| snake_name(&format!("{s:?}")))
            .collect(),
        refused: verdict.err(),
    }
}

/// `ThisIsATop10Password` → `this_is_a_top10_password`: zxcvbn's feedback
/// variants as the meter's translation keys.
fn snake_name(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn weak(reason: Reason) -> Error {
    Error::of(ErrorCode::WeakPassword, reason).on("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_ten_thousand_lower_case_entries() {
        assert_eq!(COMMON.len(), 10_000);
        assert!(COMMON.iter().all(|p| *p == p.to_lowercase()));
        assert!(COMMON.contains("password1") && COMMON.contains("qwertyuiop"));
    }

    #[test]
    fn passwords_follow_the_policy() {
        let ok = |p: &str| check(p, 8, "ada@example.com", "ada").is_ok();
        assert!(ok("a perfectly fine phrase"));
        assert!(!ok("short"), "too short");
        assert!(!ok(&"x".repeat(129)), "too long");
        assert!(ok(&"xy".repeat(64)), "128 is the limit");
        for common in [
            "password1",
            "Password1",
            "QWERTYUIOP",
            "iloveyou",
            "trustno1",
        ] {
            let err = check(common, 8, "x@example.com", "xyz").unwrap_err();
            assert_eq!(err.code, ErrorCode::WeakPassword, "{common}");
            assert_eq!(err.field.as_deref(), Some("password"));
        }
        assert!(check("my-name-is-lovelace!", 8, "lovelace@example.com", "ada").is_err());
        assert!(check("hello-ADA-lovelace", 8, "x@example.com", "ada").is_err());
        assert!(
            check("a very fine phrase", 20, "x@example.com", "xyz").is_err(),
            "configured minimum"
        );
    }

    #[test]
    fn zxcvbn_feedback_gets_translation_keys() {
        assert_eq!(
            snake_name("ThisIsATop10Password"),
            "this_is_a_top10_password"
        );
        let keys = strength("zxcvbnmasdfgh", 8, "", "");
        assert_eq!(
            keys.warning.as_deref(),
            Some("this_is_similar_to_a_commonly_used_password"),
            "{keys:?}"
        );
        assert_eq!(keys.tips, ["add_another_word_or_two"]);
        let common = strength("password1", 8, "", "");
        assert_eq!(
            common.refused.and_then(|e| e.reason),
            Some(Reason::PasswordCommon)
        );
    }

    #[test]
    fn the_meter_agrees_with_the_policy() {
        let weak = strength("password1", 8, "", "");
        assert!(!weak.acceptable() && weak.score == 0 && weak.refused.is_some());
        let mine = strength("ada-lovelace-99", 8, "ada@example.com", "lovelace");
        assert!(!mine.acceptable());
        let strong = strength("correct horse battery staple", 8, "", "");
        assert!(strong.acceptable() && strong.score >= 3, "{strong:?}");
        let meh = strength("abcdefgh1", 8, "", "");
        assert!(meh.acceptable() && meh.score <= 2, "{meh:?}");
        assert!(!strength(&"x".repeat(500), 8, "", "").acceptable());
    }

    /// The slowest readings we know of at the longest length the meter
    /// scores (128): dictionary words, repeats, keyboard runs, dates. The
    /// figure printed here is what the README reports; the service's
    /// budget for a reading is 500 ms.
    #[test]
    fn the_worst_long_inputs_are_measured() {
        let words = "correcthorsebatterystaplepassworddragonmonkey".repeat(3);
        let candidates = [
            "a".repeat(128),
            "ab".repeat(64),
            "qwertyuiopasdfghjkl".repeat(7)[..128].to_owned(),
            "1234567890".repeat(13)[..128].to_owned(),
            "19841231".repeat(16),
            words[..128].to_owned(),
            "Passw0rd!".repeat(15)[..128].to_owned(),
        ];
        let mut worst = std::time::Duration::ZERO;
        for candidate in &candidates {
            assert_eq!(candidate.chars().count(), 128);
            let started = std::time::Instant::now();
            let _ = strength(candidate, 8, "ada@example.com", "ada");
            worst = worst.max(started.elapsed());
        }
        println!("worst 128-character strength reading: {worst:?}");
        assert!(worst < std::time::Duration::from_millis(100), "{worst:?}");
    }
}
