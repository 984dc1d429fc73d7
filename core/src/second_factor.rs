//! A second factor: an authenticator app (TOTP, RFC 6238: SHA-1, six
//! digits, 30-second steps, one step of drift either way) and ten
//! single-use recovery codes for the day the phone is lost.
//!
//! Sign-in with a second factor is two calls. The first factor (password,
//! emailed code, reset link) ends in [`Error::second_factor_required`]
//! carrying a challenge: a 256-bit token whose digest keys the pending
//! sign-in in the ephemeral store for five minutes. The second call
//! ([`crate::SecondFactors::complete_sign_in`]) spends a code against it.
//! Wrong codes count against the account's second-factor budget (five free,
//! then doubling waits, as for passwords); a code from the app is good once
//! (`last_step` only moves forward, in one conditional UPDATE, so two
//! concurrent uses of one code open one session); a recovery code is
//! marked used by one conditional UPDATE too.

use std::time::Duration;

use rand::Rng;
use sqlx::{Any, FromRow, Transaction};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::audit::{record_in, Event};
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{AuthenticatorSetup, EventKind, EventReason, SecondFactors, User};
use crate::sessions::Issued;
use crate::throttle::Subject;
use crate::tokens::{random_token, token_hash, well_formed};
use crate::user_store::{self, UserRow};
use crate::{now, Auth, ClientInfo, Letter, Services};

/// How long the step between the first factor and the second may take.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Seconds per TOTP step, digits per code, and steps of drift accepted.
const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
const SKEW_STEPS: u64 = 1;
/// RFC 4226 §4 recommends 160-bit shared secrets.
const SECRET_BYTES: usize = 20;
/// An enrolment not confirmed within this long must start again.
const SETUP_TTL_SECS: i64 = 15 * 60;
pub const RECOVERY_CODES: usize = 10;
/// Recovery codes: 10 characters from 31 that cannot be confused with
/// each other (no 0/o, 1/l/i), about 49 bits each, shown as `xxxxx-xxxxx`.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_LEN: usize = 10;

#[derive(FromRow)]
struct FactorRow {
    secret: String,
    confirmed_at: Option<i64>,
    created_at: i64,
}

/// How a sign-in's first factor was proven, kept with the challenge and
/// logged with the sign-in (`password+totp`, `code+recovery`).
fn method_with(first: &str, second: &str) -> String {
    format!("{first}+{second}")
}

/// The TOTP generator for `secret`, labelled for `account` in the app
/// (the label's separator, `:`, cannot appear in the issuer).
fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Totp {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(SKEW_STEPS as u16)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account)
        .build_noncompliant()
}

/// The step whose code `code` is, among the steps around `at` (unix
/// seconds), compared in constant time; `None` when it is none of them.
fn matching_step(totp: &Totp, code: &str, at: u64) -> Option<u64> {
    use subtle::ConstantTimeEq;
    let current = at / STEP_SECS;
    let mut found = None;
    for step in current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS {
        let expected = totp.generate(step * STEP_SECS).to_string();
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// A code from an authenticator app: six digits once spaces are gone.
fn app_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// A recovery code as stored: lower-case, without the dash or spaces.
fn recovery_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == RECOVERY_LEN && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(code)
}

fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..RECOVERY_LEN)
                .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// Base32 (RFC 4648) in groups of four, as people type it into an app.
fn grouped(secret: &[u8]) -> String {
    let encoded = Secret::from(secret).to_base32();
    encoded
        .as_bytes()
        .chunks(4)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of `uri` as an SVG element, ready to place in a page.
fn qr_svg(uri: &str) -> Result<String, Error> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| Error::internal().caused_by(e))?;
    let document = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in HTML, the XML declaration is noise.
    let start = document.find("<svg").unwrap_or(0);
    Ok(document[start..].to_owned())
}

fn wrong() -> Error {
    Error::of(ErrorCode::CodeWrong, Reason::SecondFactorWrong).on("code")
}

fn expired() -> Error {
    Error::of(ErrorCode::Unauthorized, Reason::SecondFactorExpired)
}

fn challenge_key(token: &str) -> String {
    format!("2fa:{}", token_hash(token))
}

/// The factor row of `user_id`, if any.
async fn factor(db: &crate::Db, user_id: &str) -> Result<Option<FactorRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT secret, confirmed_at, created_at FROM totp_factors WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Whether `user_id` must give a second factor to sign in.
pub(crate) async fn required_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<bool, StoreError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// Replaces `user_id`'s recovery codes with fresh ones; returns them.
async fn renew_recovery_codes_in(
    services: &Services,
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<Vec<String>, Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from)?;
    let codes = new_recovery_codes();
    for code in &codes {
        let digest = services.recovery_digest(user_id, &recovery_code(code).unwrap_or_default());
        sqlx::query("INSERT INTO recovery_codes (user_id, digest) VALUES ($1, $2)")
            .bind(user_id)
            .bind(digest)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(codes)
}

/// Everything second-factor about `user_id`, gone (deleting the account,
/// removing the app).
pub(crate) async fn remove_all_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<(), StoreError> {
    for statement in [
        "DELETE FROM recovery_codes WHERE user_id = $1",
        "DELETE FROM totp_factors WHERE user_id = $1",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Which second factor a code proved.
enum Proven {
    App,
    Recovery { left: u32 },
}

impl Services {
    fn recovery_digest(&self, user_id: &str, code: &str) -> String {
        self.tokens.code_digest("recovery", user_id, code)
    }

    /// The first factor of `user` was proven by `method`: when the account
    /// has a second factor, the sign-in waits for it (the error carries the
    /// challenge); otherwise go on.
    pub(crate) async fn challenge(&self, user: &UserRow, method: &str) -> Error {
        let token = random_token();
        // The password hash in the challenge: a password changed or reset
        // between the two steps ends the pending sign-in.
        let pending = format!(
            "{}\n{}\n{}",
            user.id,
            method,
            token_hash(&user.password_hash)
        );
        match self
            .ephemeral
            .put_text(&challenge_key(&token), &pending, CHALLENGE_TTL)
            .await
        {
            Ok(()) => Error::second_factor_required(token),
            Err(err) => err.into(),
        }
    }

    /// Checks `code` (from the app, or a recovery code) for `user_id`'s
    /// second factor and spends it.
    async fn prove(
        &self,
        user_id: &str,
        account: &str,
        code: &str,
    ) -> Result<Option<Proven>, Error> {
        if let Some(code) = app_code(code) {
            let Some(row) = factor(&self.db, user_id).await? else {
                return Ok(None);
            };
            if row.confirmed_at.is_none() {
                return Ok(None);
            }
            let secret = self.tokens.open(user_id, &row.secret).ok_or_else(|| {
                Error::internal().caused_by("an authenticator secret does not open")
            })?;
            let Some(step) = matching_step(
                &totp(secret, &self.config.product, account),
                &code,
                now() as u64,
            ) else {
                return Ok(None);
            };
            // A code is good once: the step only moves forward, and of two
            // concurrent uses one moves it.
            let moved = sqlx::query(
                "UPDATE totp_factors SET last_step = $1 WHERE user_id = $2 AND last_step < $1",
            )
            .bind(step as i64)
            .bind(user_id)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
            return Ok((moved.rows_affected() == 1).then_some(Proven::App));
        }
        let Some(code) = recovery_code(code) else {
            return Ok(None);
        };
        let mut tx = self.db.begin().await?;
        let spent = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .bind(self.recovery_digest(user_id, &code))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if spent.rows_affected() != 1 {
            return Ok(None);
        }
        let left = recovery_codes_left_in(&mut tx, user_id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Some(Proven::Recovery { left }))
    }
}

async fn recovery_codes_left_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<u32, StoreError> {
    let (left,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(left as u32)
}

/// The second factors `user_id`'s account has.
pub(crate) async fn of_user(db: &crate::Db, user_id: &str) -> Result<SecondFactors, Error> {
    let row = factor(db, user_id).await?;
    let mut tx = db.begin().await?;
    let left = recovery_codes_left_in(&mut tx, user_id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(SecondFactors {
        authenticator_since: row.as_ref().and_then(|r| r.confirmed_at),
        authenticator_pending: row
            .as_ref()
            .is_some_and(|r| r.confirmed_at.is_none() && now() - r.created_at <= SETUP_TTL_SECS),
        recovery_codes_left: left,
    })
}

impl crate::SecondFactors<'_> {
    /// The second factors `auth`'s account has.
    pub async fn status(&self, auth: &Auth) -> Result<SecondFactors, Error> {
        of_user(&self.db, &auth.user.id).await
    }

    /// Starts setting up an authenticator app: a new secret, kept sealed
    /// and unconfirmed until a code from the app proves it was copied.
    /// Starting again replaces an unconfirmed one.
    pub async fn start_authenticator(&self, auth: &Auth) -> Result<AuthenticatorSetup, Error> {
        let mut secret = vec![0u8; SECRET_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let sealed = self.tokens.seal(&auth.user.id, &secret);
        let now = now();
        let mut tx = self.db.begin().await?;
        // Replaces only an unconfirmed enrolment: a confirmed app stays.
        sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NULL")
            .bind(&auth.user.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let inserted = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(&auth.user.id)
        .bind(&sealed)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() != 1 {
            return Err(Error::of(ErrorCode::Conflict, Reason::AuthenticatorOn));
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.setup_of(&auth.user, secret)
    }

    /// The unconfirmed set-up of `auth`'s account, to show again (a page
    /// reloaded before the code was typed).
    pub async fn pending_authenticator(
        &self,
        auth: &Auth,
    ) -> Result<Option<AuthenticatorSetup>, Error> {
        let Some(row) = factor(&self.db, &auth.user.id).await? else {
            return Ok(None);
        };
        if row.confirmed_at.is_some() || now() - row.created_at > SETUP_TTL_SECS {
            return Ok(None);
        }
        let secret = self
            .tokens
            .open(&auth.user.id, &row.secret)
            .ok_or_else(|| Error::internal().caused_by("an authenticator secret does not open"))?;
        self.setup_of(&auth.user, secret).map(Some)
    }

    fn setup_of(&self, user: &User, secret: Vec<u8>) -> Result<AuthenticatorSetup, Error> {
        let shown = grouped(&secret);
        let uri = totp(secret, &self.config.product, &user.username)
            .to_url()
            .map_err(|e| Error::internal().caused_by(e))?;
        Ok(AuthenticatorSetup {
            qr_svg: qr_svg(&uri)?,
            uri,
            secret: shown,
        })
    }

    /// Confirms the app with a code it shows; the account then signs in
    /// with it. Returns the new recovery codes, shown this once.
    pub async fn confirm_authenticator(
        &self,
        auth: &Auth,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, Error> {
        let user_id = &auth.user.id;
        let code = app_code(code).ok_or_else(|| Error::invalid("code", Reason::CodeFormat))?;
        let row = factor(&self.db, user_id)
            .await?
            .filter(|r| r.confirmed_at.is_none() && now() - r.created_at <= SETUP_TTL_SECS)
            .ok_or_else(|| Error::of(ErrorCode::Conflict, Reason::AuthenticatorOff))?;
        // Guessing a fresh secret's code is throttled like any other.
        let ticket = self
            .login_attempt(Subject::SecondFactor(user_id), client)
            .await?;
        let secret = self
            .tokens
            .open(user_id, &row.secret)
            .ok_or_else(|| Error::internal().caused_by("an authenticator secret does not open"))?;
        let totp = totp(secret, &self.config.product, &auth.user.username);
        let Some(step) = matching_step(&totp, &code, now() as u64) else {
            self.login_failed(ticket, Some(user_id), client).await?;
            return Err(wrong());
        };
        self.login_succeeded(ticket).await?;
        let mut tx = self.db.begin().await?;
        let confirmed = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $1, last_step = $2 \
             WHERE user_id = $3 AND confirmed_at IS NULL",
        )
        .bind(now())
        .bind(step as i64)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if confirmed.rows_affected() != 1 {
            return Err(Error::of(ErrorCode::Conflict, Reason::AuthenticatorOn));
        }
        let codes = renew_recovery_codes_in(self, &mut tx, user_id).await?;
        record_in(
            &mut tx,
            Event::new(EventKind::SecondFactorAdded, client)
                .user(user_id)
                .detail("totp"),
        )
        .await?;
        let mail = self.letter(
            &auth.user.locale,
            &auth.user.email,
            Letter::AuthenticatorChanged { added: true },
        );
        self.enqueue_mail_in(&mut tx, &mail).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(codes)
    }

    /// Removes the app and the recovery codes. Needs the password (or, for
    /// an account without one, a recent sign-in) and a current second
    /// factor: a stolen session alone cannot turn it off.
    pub async fn remove_authenticator(
        &self,
        auth: &Auth,
        password: String,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let user = self.confirm_identity(auth, password, "password").await?;
        self.require_second_factor(&user, code, client).await?;
        let mut tx = self.db.begin().await?;
        remove_all_in(&mut tx, &user.id).await?;
        record_in(
            &mut tx,
            Event::new(EventKind::SecondFactorRemoved, client)
                .user(&user.id)
                .detail("totp"),
        )
        .await?;
        let mail = self.letter(
            &user.locale,
            &user.email,
            Letter::AuthenticatorChanged { added: false },
        );
        self.enqueue_mail_in(&mut tx, &mail).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// A new set of recovery codes (the old ones stop working), for someone
    /// who proves the second factor now.
    pub async fn renew_recovery_codes(
        &self,
        auth: &Auth,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, Error> {
        let user = user_store::by_id(&self.db, &auth.user.id)
            .await?
            .ok_or_else(Error::unauthorized)?;
        self.require_second_factor(&user, code, client).await?;
        let mut tx = self.db.begin().await?;
        let codes = renew_recovery_codes_in(self, &mut tx, &user.id).await?;
        record_in(
            &mut tx,
            Event::new(EventKind::RecoveryCodesRenewed, client).user(&user.id),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(codes)
    }

    /// A current second factor from the signed-in owner, throttled like a
    /// sign-in's; refused when the account has none.
    async fn require_second_factor(
        &self,
        user: &UserRow,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let has = {
            let mut tx = self.db.begin().await?;
            let has = required_in(&mut tx, &user.id).await?;
            tx.commit().await.map_err(StoreError::from)?;
            has
        };
        if !has {
            return Err(Error::of(ErrorCode::Conflict, Reason::AuthenticatorOff));
        }
        let ticket = self
            .login_attempt(Subject::SecondFactor(&user.id), client)
            .await?;
        match self.prove(&user.id, &user.username, code).await? {
            Some(proven) => {
                self.login_succeeded(ticket).await?;
                self.after_proof(user, &proven, client).await
            }
            None => {
                self.login_failed(ticket, Some(&user.id), client).await?;
                Err(wrong())
            }
        }
    }

    /// A used recovery code is logged and its owner told.
    async fn after_proof(
        &self,
        user: &UserRow,
        proven: &Proven,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let Proven::Recovery { left } = *proven else {
            return Ok(());
        };
        self.record(
            Event::new(EventKind::RecoveryCodeUsed, client)
                .user(&user.id)
                .detail(left.to_string()),
        )
        .await?;
        self.enqueue_mail(self.letter(&user.locale, &user.email, Letter::RecoveryCodeUsed { left }))
            .await
    }

    /// The second step of a sign-in: `challenge` from the first step's
    /// answer and a code from the app or a recovery code.
    pub async fn complete_sign_in(
        &self,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        if !well_formed(challenge) {
            return Err(expired());
        }
        let key = challenge_key(challenge);
        let pending = self.ephemeral.get_text(&key).await?.ok_or_else(expired)?;
        let mut parts = pending.splitn(3, '\n');
        let (Some(user_id), Some(method), Some(stamp)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(expired());
        };
        let user = user_store::by_id(&self.db, user_id)
            .await?
            .filter(|u| token_hash(&u.password_hash) == stamp)
            .ok_or_else(expired)?;
        if code.trim().is_empty() {
            return Err(Error::invalid("code", Reason::CodeFormat));
        }
        let ticket = self
            .login_attempt(Subject::SecondFactor(&user.id), client)
            .await?;
        let Some(proven) = self.prove(&user.id, &user.username, code).await? else {
            self.record(
                Event::new(EventKind::LoginFailed, client)
                    .user(&user.id)
                    .reason(EventReason::WrongSecondFactor),
            )
            .await?;
            self.login_failed(ticket, Some(&user.id), client).await?;
            return Err(wrong());
        };
        self.login_succeeded(ticket).await?;
        // A spent recovery code is reported even if this sign-in loses.
        self.after_proof(&user, &proven, client).await?;
        // One sign-in per challenge, however many right codes race.
        if self.ephemeral.take_text(&key).await?.is_none() {
            return Err(expired());
        }
        if user.is_disabled() {
            return self.refuse_disabled(&user.id, client).await;
        }
        let second = match proven {
            Proven::App => "totp",
            Proven::Recovery { .. } => "recovery",
        };
        self.signed_in(&user, &method_with(method, second), client)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, truncated to six digits.
    #[test]
    fn rfc_6238_vectors() {
        let totp = totp(b"12345678901234567890".to_vec(), "Latchkey", "ada");
        for (time, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
            (20000000000, "353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "at {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side() {
        let totp = totp(b"12345678901234567890".to_vec(), "Latchkey", "ada");
        let at = 1111111111;
        let step = at / STEP_SECS;
        for (offset, expected) in [
            (-30i64, Some(step - 1)),
            (0, Some(step)),
            (30, Some(step + 1)),
        ] {
            let code = totp.generate((at as i64 + offset) as u64).to_string();
            assert_eq!(matching_step(&totp, &code, at), expected);
        }
        let far = totp.generate(at + 90).to_string();
        assert_eq!(matching_step(&totp, &far, at), None);
    }

    #[test]
    fn codes_are_read_forgivingly_and_strictly() {
        assert_eq!(app_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(app_code("12345"), None);
        assert_eq!(app_code("12345a"), None);
        assert_eq!(recovery_code("ABCDE-FGHJK").as_deref(), Some("abcdefghjk"));
        assert_eq!(
            recovery_code("abcde fghj0"),
            None,
            "0 is not in the alphabet"
        );
        assert_eq!(recovery_code("abcde"), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_well_formed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert!(recovery_code(code).is_some(), "{code}");
        }
    }

    #[test]
    fn the_secret_is_shown_in_groups_of_base32() {
        assert_eq!(
            grouped(b"12345678901234567890"),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }

    #[test]
    fn the_qr_code_is_an_svg_element() {
        let svg =
            qr_svg("otpauth://totp/Latchkey:ada?secret=GEZDGNBVGY3TQOJQ&issuer=Latchkey").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }
}
