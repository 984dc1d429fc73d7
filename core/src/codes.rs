//! Email one-time codes (docs/DESIGN.md "email code"): six CSPRNG digits handled as
//! a string, stored only as an HMAC under `otp:{purpose}:{email}` for a short
//! TTL, checked and consumed atomically, dead after `CodeConfig::max_tries`
//! wrong tries.

use rand::Rng;

use crate::audit::Event;
use crate::error::{Error, ErrorCode, Reason};
use crate::limits::Rate;
use crate::model::{EventKind, EventReason};
use crate::Letter;
use crate::{ClientInfo, Services};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ChangeEmail,
    SignIn,
    /// Finishing a sign-up that hides which addresses have accounts.
    SignUp,
}

impl Purpose {
    /// Whether a code of this purpose works only for the one it was issued
    /// to. A change-of-address code must work only for its account:
    /// otherwise one account's code (asked for with its own password) would
    /// move another account, reached through a stolen session, to the same
    /// address. A sign-up code must work only with the token its sign-up
    /// got, so that whoever reads the mailbox without having chosen the
    /// password cannot finish someone else's sign-up.
    fn binds_owner(self) -> bool {
        matches!(self, Self::ChangeEmail | Self::SignUp)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify",
            Self::ChangeEmail => "change",
            Self::SignIn => "signin",
            Self::SignUp => "signup",
        }
    }
}

/// Six decimal digits from the OS CSPRNG, leading zeros kept.
pub fn generate_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// The code as typed, or a field error: spaces and dashes are forgiven.
pub fn normalise_code(raw: &str) -> Result<String, Error> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid("code", Reason::CodeFormat));
    }
    Ok(code)
}

fn cooldown_key(purpose: Purpose, email: &str) -> String {
    format!("cooldown:{}:{email}", purpose.as_str())
}

fn guessing_key(purpose: Purpose, email: &str) -> String {
    format!("codes-paused:{}:{email}", purpose.as_str())
}

/// Where a code is kept. A change-of-address code is kept per account too,
/// so one account's request cannot replace or burn another's pending code
/// for the same address.
fn key(purpose: Purpose, email: &str, owner: Option<&str>) -> String {
    match (purpose, owner) {
        (Purpose::ChangeEmail, Some(account)) => format!("otp:change:{email}:{account}"),
        _ => format!("otp:{}:{email}", purpose.as_str()),
    }
}

impl Services {
    /// Mails a fresh code to `email`, replacing any earlier one. Refused while
    /// the resend cooldown runs and past the per-address and per-IP limits.
    /// `account` is whom the code is for: its id goes in the log, its
    /// language into the mail.
    pub(crate) async fn send_code(
        &self,
        purpose: Purpose,
        email: &str,
        account: (&str, &str),
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let owner = purpose.binds_owner().then_some(account.0);
        let code = self.issue_code(purpose, email, owner, client).await?;
        self.mail_code(purpose, email, account, &code, client).await
    }

    /// Stores a fresh code for `email` (replacing any earlier one) and
    /// returns it, under the resend cooldown and the per-address and per-IP
    /// limits. Nothing here depends on whether the address has an account,
    /// so a code nobody is mailed (a decoy) behaves exactly like a real one.
    /// `owner`: whom a binding purpose's code is for (an account id, a
    /// sign-up token).
    pub(crate) async fn issue_code(
        &self,
        purpose: Purpose,
        email: &str,
        owner: Option<&str>,
        client: &ClientInfo,
    ) -> Result<String, Error> {
        let cfg = &self.config.codes;
        // The client's limit first: a client past it makes no key for the
        // addresses it sprays.
        if let Some(ip) = client.limit_key() {
            self.limit(
                &format!("rl:code-send:ip:{ip}"),
                Rate::per_hour(cfg.sends_per_hour_per_ip),
            )
            .await?;
        }
        self.start_cooldown(purpose, email).await?;
        self.limit(
            &format!("rl:code-send:email:{email}"),
            Rate::per_hour(cfg.sends_per_hour_per_email),
        )
        .await?;
        let code = generate_code();
        let digest = self.code_digest(purpose, email, owner, &code);
        self.ephemeral
            .put_code(&key(purpose, email, owner), &digest, cfg.ttl)
            .await?;
        Ok(code)
    }

    /// Mails an issued code to its account's owner, and logs it.
    pub(crate) async fn mail_code(
        &self,
        purpose: Purpose,
        email: &str,
        (user_id, locale): (&str, &str),
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let cfg = &self.config.codes;
        let minutes = cfg.ttl.as_secs() / 60;
        self.enqueue_mail(self.letter(
            locale,
            email,
            Letter::Code {
                purpose,
                code,
                minutes,
            },
        ))
        .await?;
        let event = Event::new(EventKind::CodeSent, client)
            .user(user_id)
            .detail(purpose.as_str());
        self.record(event).await
    }

    /// `check_code`, for a code issued to `owner` (see `binds_owner`).
    pub(crate) async fn check_bound_code(
        &self,
        purpose: Purpose,
        email: &str,
        user_id: Option<&str>,
        owner: Option<&str>,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let code = normalise_code(code)?;
        if let Some(ip) = client.limit_key() {
            self.limit(
                &format!("rl:code-check:ip:{ip}"),
                Rate::per_hour(self.config.codes.checks_per_hour_per_ip),
            )
            .await?;
        }
        // Past the wrong codes an address may get in a day, its codes are
        // refused, right or wrong: a new code resets the tries of one code,
        // not this.
        let paused = guessing_key(purpose, email);
        if let Some(left) = self.ephemeral.remaining(&paused).await? {
            return Err(
                Error::rate_limited(left.as_secs().max(1), Reason::CodeGuessing).on("code"),
            );
        }
        let digest = self.code_digest(purpose, email, owner, &code);
        use crate::ephemeral::CodeCheck;
        let outcome = self
            .ephemeral
            .check_code(
                &key(purpose, email, owner),
                &digest,
                self.config.codes.max_tries,
            )
            .await?;
        if let CodeCheck::Wrong { .. } = outcome {
            self.count_wrong_code(purpose, email, user_id, client)
                .await?;
        }
        let failure = match outcome {
            CodeCheck::Accepted => None,
            CodeCheck::Wrong { tries_left: 0 } => Some(EventReason::Dead),
            CodeCheck::Wrong { .. } => Some(EventReason::Wrong),
            CodeCheck::Missing => Some(EventReason::Expired),
        };
        if let Some(reason) = failure {
            let mut event = Event::new(EventKind::CodeFailed, client)
                .reason(reason)
                .detail(purpose.as_str());
            if let Some(id) = user_id {
                event = event.user(id);
            }
            self.record(event).await?;
        }
        match outcome {
            CodeCheck::Accepted => Ok(()),
            CodeCheck::Wrong { tries_left: 0 } => {
                Err(Error::of(ErrorCode::CodeDead, Reason::CodeDead).on("code"))
            }
            CodeCheck::Wrong { tries_left } => Err(Error::counted(
                ErrorCode::CodeWrong,
                Reason::CodeWrong,
                u64::from(tries_left),
            )
            .on("code")),
            CodeCheck::Missing => {
                Err(Error::of(ErrorCode::CodeExpired, Reason::CodeExpired).on("code"))
            }
        }
    }

    /// Counts a wrong code against the address's daily allowance; the one
    /// that uses it up pauses the address's codes for the rest of the
    /// window, mails the owner (once: only that one can) and is logged.
    async fn count_wrong_code(
        &self,
        purpose: Purpose,
        email: &str,
        user_id: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let cfg = &self.config.codes;
        let (wrong, left) = self
            .ephemeral
            .count(
                &format!("wrong-codes:{}:{email}", purpose.as_str()),
                cfg.guess_window,
            )
            .await?;
        if wrong != cfg.guesses_per_window {
            return Ok(());
        }
        self.ephemeral
            .cooldown(&guessing_key(purpose, email), left)
            .await?;
        tracing::warn!(
            purpose = purpose.as_str(),
            wrong,
            "codes paused for an address"
        );
        let mut event = Event::new(EventKind::CodeFailed, client)
            .reason(EventReason::Guessing)
            .detail(purpose.as_str());
        if let Some(id) = user_id {
            event = event.user(id);
            if let Some(user) = crate::user_store::by_id(&self.db, id).await? {
                self.enqueue_mail(self.letter(&user.locale, email, Letter::CodeGuessing))
                    .await?;
            }
        }
        self.record(event).await
    }

    /// What is stored of a code: an HMAC over the purpose, the address, the
    /// account it is bound to (if its purpose binds one) and the code.
    fn code_digest(
        &self,
        purpose: Purpose,
        email: &str,
        owner: Option<&str>,
        code: &str,
    ) -> String {
        let subject = match owner {
            Some(owner) => format!("{email}\n{owner}"),
            None => email.to_owned(),
        };
        self.tokens.code_digest(purpose.as_str(), &subject, code)
    }

    /// Starts the resend cooldown for `email`, or refuses while one runs.
    pub(crate) async fn start_cooldown(&self, purpose: Purpose, email: &str) -> Result<(), Error> {
        let key = cooldown_key(purpose, email);
        match self
            .ephemeral
            .cooldown(&key, self.config.codes.resend_cooldown)
            .await?
        {
            None => Ok(()),
            Some(left) => {
                let secs = left.as_secs().max(1);
                Err(Error::rate_limited(secs, Reason::CodeCooldown))
            }
        }
    }
}

impl crate::Codes<'_> {
    /// Checks a code once. Right: consumed. Wrong: counted, and dead at the
    /// fifth try. Missing: expired, used or never sent.
    /// `user_id`: the account the code belongs to, if known (for the log,
    /// and the owner of a change-of-address code).
    pub async fn check_code(
        &self,
        purpose: Purpose,
        email: &str,
        user_id: Option<&str>,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let owner = user_id.filter(|_| purpose == Purpose::ChangeEmail);
        self.check_bound_code(purpose, email, user_id, owner, code, client)
            .await
    }

    /// Whole seconds until another code may be sent (0: now).
    pub async fn resend_wait(&self, purpose: Purpose, email: &str) -> Result<u64, Error> {
        let left = self
            .ephemeral
            .remaining(&cooldown_key(purpose, email))
            .await?;
        Ok(left.map_or(0, |d| d.as_secs_f64().ceil() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digit_strings() {
        for _ in 0..1000 {
            let code = generate_code();
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
        assert_eq!(
            normalise_code(" 012 345 ").unwrap(),
            "012345",
            "leading zero kept"
        );
        assert!(normalise_code("12345").is_err());
        assert!(normalise_code("12345a").is_err());
    }
}
