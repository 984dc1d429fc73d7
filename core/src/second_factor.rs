//! A second factor: an authenticator app (TOTP, RFC 6238: SHA-1, six
//! digits, 30-second steps, one step of drift either way) and ten
//! single-use recovery codes for the day the phone is lost.
//!
//! Sign-in with a second factor is two calls. The first factor (password,
//! emailed code) ends in [`Error::second_factor_required`] carrying a
//! challenge, `{user id}.{256-bit token}`. The account's one pending
//! sign-in is kept under its id in the ephemeral store for five minutes,
//! with the token's digest (a newer sign-in replaces it, so a flood of
//! right passwords holds one entry per account). The second call
//! ([`crate::SecondFactors::complete_sign_in`]) spends a code against it.
//!
//! Wrong codes count against a second-factor budget (five free, then
//! doubling waits, as for passwords; a browser that signed in to the
//! account before has a budget of its own, so a stranger who knows the
//! password cannot keep the owner out), and past [`DAILY_WRONG`] in a day
//! the budget pauses for the rest of the day and the owner is mailed:
//! someone knows the password. A code from the app is good once
//! (`last_step` only moves forward, in one conditional UPDATE, so two
//! concurrent uses of one code open one session); a recovery code is
//! marked used by one conditional UPDATE too. A reset link starts no
//! challenge: for an account with an app the reset form asks for the code
//! with the new password, before the link is spent.
//!
//! Changes that could hand the account over (password, email, deletion, an
//! admin's actions) need a session that proved the second factor in the
//! last [`STEP_UP_WINDOW_SECS`]: its sign-in, or a step-up since.

use std::time::Duration;

use rand::Rng;
use sqlx::{Any, FromRow, Transaction};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::audit::Event;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{AuthenticatorSetup, EventKind, EventReason, SecondFactors, User};
use crate::sessions::Issued;
use crate::throttle::{Subject, Ticket};
use crate::tokens::{random_token, token_hash, well_formed};
use crate::user_store::{self, UserRow};
use crate::{now, Auth, ClientInfo, Letter, Services};

/// How long the step between the first factor and the second may take.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// How long a session's last proof of the second factor lets it change the
/// password or email, delete the account or act as an admin (step-up).
pub const STEP_UP_WINDOW_SECS: i64 = 600;
/// Wrong second factors a budget gets in a day before it pauses for the
/// rest of the day: a guesser who knows the password gets this many tries,
/// at about three in a million each.
pub const DAILY_WRONG: u64 = 20;
const DAY: Duration = Duration::from_secs(24 * 3600);
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

/// How a sign-in's factors were proven, logged with it (`password+totp`,
/// `code+recovery`).
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

/// A sealed secret that does not open was sealed under another
/// `LATCHKEY_SECRET`: nothing the user can fix, so a 503 and a line in the
/// log for the operator.
fn unopened() -> Error {
    Error::unavailable().caused_by(
        "an authenticator secret does not open: was LATCHKEY_SECRET changed? \
         Restore it, or have an admin reset this user's two-step sign-in",
    )
}

/// Where an account's pending sign-in is kept.
fn challenge_key(user_id: &str) -> String {
    format!("2fa:{user_id}")
}

/// A challenge's account and secret part, if it has the shape of one.
fn parse_challenge(challenge: &str) -> Option<(&str, &str)> {
    let (user_id, token) = challenge.rsplit_once('.')?;
    (!user_id.is_empty() && user_id.len() <= 64 && well_formed(token)).then_some((user_id, token))
}

/// A pending sign-in as stored: the token's digest, how the first factor
/// was proven, the password hash it saw (a password changed meanwhile ends
/// it) and the known browser it came from, if any.
#[derive(Debug, PartialEq, Eq)]
struct Pending {
    digest: String,
    method: String,
    stamp: String,
    device: Option<String>,
}

impl Pending {
    fn encode(&self) -> String {
        let device = self.device.as_deref().unwrap_or_default();
        format!("{}\n{}\n{}\n{device}", self.digest, self.method, self.stamp)
    }

    fn decode(value: &str) -> Option<Self> {
        let mut parts = value.splitn(4, '\n');
        let (digest, method, stamp) = (parts.next()?, parts.next()?, parts.next()?);
        let device = parts.next().filter(|d| !d.is_empty()).map(str::to_owned);
        Some(Self {
            digest: digest.to_owned(),
            method: method.to_owned(),
            stamp: stamp.to_owned(),
            device,
        })
    }
}

/// The budget a second factor for `user_id` from `device` spends.
fn budget_of(user_id: &str, device: Option<&str>) -> String {
    match device {
        Some(device) => format!("{user_id}:{device}"),
        None => user_id.to_owned(),
    }
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

/// SQL counting the second factors the account `user` (a parameter or a
/// column) must give one of to sign in: more than none means one is due.
/// The one definition, for [`required_in`] and the log-in's locking read.
pub(crate) fn required_sql(user: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM totp_factors t WHERE t.user_id = {user} AND t.confirmed_at IS NOT NULL"
    )
}

/// Whether `user_id` must give a second factor to sign in.
pub(crate) async fn required_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<bool, StoreError> {
    let (factors,): (i64,) = sqlx::query_as(&required_sql("$1"))
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(factors > 0)
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

/// Everything second-factor about `user_id` confirmed at or after `since`
/// (0: all of it), gone: removing the app, an admin's reset, deleting the
/// account, or the owner taking the account back (`first_proof`, undoing
/// an email change). Returns whether an app went.
pub(crate) async fn remove_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    since: i64,
) -> Result<bool, StoreError> {
    let removed = sqlx::query(
        "DELETE FROM totp_factors WHERE user_id = $1 \
         AND (confirmed_at IS NULL OR confirmed_at >= $2)",
    )
    .bind(user_id)
    .bind(since)
    .execute(&mut **tx)
    .await?;
    let left: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    if left.is_none() {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(removed.rows_affected() > 0)
}

/// Marks `session_id` as having proved the second factor now.
pub(crate) async fn proved_in_session(db: &crate::Db, session_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET second_factor_at = $1 WHERE id = $2")
        .bind(now())
        .bind(session_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Which second factor a code proved.
enum Proven {
    App,
    Recovery { left: u32 },
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
    let (passkeys,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(SecondFactors {
        passkeys: passkeys as u32,
        authenticator_since: row.as_ref().and_then(|r| r.confirmed_at),
        authenticator_pending: row
            .as_ref()
            .is_some_and(|r| r.confirmed_at.is_none() && now() - r.created_at <= SETUP_TTL_SECS),
        recovery_codes_left: left,
    })
}

impl Services {
    /// Refuses a change that could hand the account over (password, email,
    /// deletion, an admin's action) unless the session proved the second
    /// factor in the last [`STEP_UP_WINDOW_SECS`]; an account without one
    /// passes (its password or recent sign-in is checked where the change
    /// asks for it).
    pub(crate) async fn require_fresh_second_factor(&self, auth: &Auth) -> Result<(), Error> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT s.second_factor_at FROM sessions s \
             JOIN totp_factors t ON t.user_id = s.user_id \
             WHERE s.id = $1 AND t.confirmed_at IS NOT NULL",
        )
        .bind(&auth.session_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        match row {
            None => Ok(()),
            Some((Some(at),)) if now() - at <= STEP_UP_WINDOW_SECS => Ok(()),
            Some(_) => Err(Error::counted(
                ErrorCode::ReauthRequired,
                Reason::StepUpRequired,
                (STEP_UP_WINDOW_SECS / 60) as u64,
            )),
        }
    }

    fn recovery_digest(&self, user_id: &str, code: &str) -> String {
        self.tokens.code_digest("recovery", user_id, code)
    }

    /// The first factor of `user` was proven by `method` (from the known
    /// browser `device`, if any): the sign-in waits for the second factor,
    /// and the error carries the challenge that continues it.
    pub(crate) async fn challenge(
        &self,
        user: &UserRow,
        method: &str,
        device: Option<&str>,
    ) -> Error {
        let token = random_token();
        let pending = Pending {
            digest: token_hash(&token),
            method: method.to_owned(),
            stamp: token_hash(&user.password_hash),
            device: device.map(str::to_owned),
        };
        match self
            .ephemeral
            .put_text(&challenge_key(&user.id), &pending.encode(), CHALLENGE_TTL)
            .await
        {
            Ok(()) => Error::second_factor_required(format!("{}.{token}", user.id)),
            Err(err) => err.into(),
        }
    }

    /// Counts an attempt at a second factor against `budget`, or refuses
    /// it while a wait or the day's pause runs.
    async fn second_factor_attempt(
        &self,
        budget: &str,
        client: &ClientInfo,
    ) -> Result<Ticket, Error> {
        let paused = self
            .ephemeral
            .remaining(&format!("2fa-paused:{budget}"))
            .await?;
        if let Some(left) = paused {
            return Err(Error::rate_limited(
                left.as_secs().max(1),
                Reason::LoginThrottled,
            ));
        }
        self.login_attempt(Subject::SecondFactor(budget), client)
            .await
    }

    /// A wrong second factor: counted for the throttle and for the day; the
    /// day's last allowed one pauses the budget and tells the owner.
    async fn second_factor_wrong(
        &self,
        ticket: Ticket,
        budget: &str,
        user: &UserRow,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        self.login_failed(ticket, Some(&user.id), client).await?;
        let (wrong, left) = self
            .ephemeral
            .count(&format!("2fa-day:{budget}"), DAY)
            .await?;
        if wrong == DAILY_WRONG {
            self.ephemeral
                .cooldown(&format!("2fa-paused:{budget}"), left)
                .await?;
            let letter = Letter::SecondFactorGuessing;
            self.enqueue_mail(self.letter(&user.locale, &user.email, letter))
                .await?;
        }
        Ok(())
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
            let secret = self
                .tokens
                .open(user_id, &row.secret)
                .ok_or_else(unopened)?;
            let totp = totp(secret, &self.config.product, account);
            let Some(step) = matching_step(&totp, &code, now() as u64) else {
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
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
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

    /// A current second factor from `user` (throttled like a sign-in's),
    /// when the account has one; refused when it has none.
    async fn require_second_factor(
        &self,
        user: &UserRow,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let has = required_in(&mut tx, &user.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if !has {
            return Err(Error::of(ErrorCode::Conflict, Reason::AuthenticatorOff));
        }
        let ticket = self.second_factor_attempt(&user.id, client).await?;
        match self.prove(&user.id, &user.username, code).await? {
            Some(proven) => {
                self.login_succeeded(ticket).await?;
                self.after_proof(user, &proven, client).await
            }
            None => {
                self.second_factor_wrong(ticket, &user.id, user, client)
                    .await?;
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
        let letter = Letter::RecoveryCodeUsed { left };
        self.enqueue_mail(self.letter(&user.locale, &user.email, letter))
            .await
    }

    /// A reset link for `user`: when the account has an app, `code` (from
    /// it, or a recovery code) must come with the new password, checked
    /// before the link is spent, so a mailbox alone can neither replace
    /// the password nor sign every device out. Returns whether it was
    /// checked.
    pub(crate) async fn second_factor_for_reset(
        &self,
        user: &UserRow,
        code: Option<&str>,
        client: &ClientInfo,
    ) -> Result<bool, Error> {
        let mut tx = self.db.begin().await?;
        let required = required_in(&mut tx, &user.id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if !required {
            return Ok(false);
        }
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Error::of(ErrorCode::MfaRequired, Reason::SecondFactorRequired).on("code")
            })?;
        self.require_second_factor(user, code, client).await?;
        Ok(true)
    }

    /// After a reset checked the second factor: the session it opens has
    /// proved it.
    pub(crate) async fn reset_proved(&self, session_id: &str) -> Result<(), Error> {
        Ok(proved_in_session(&self.db, session_id).await?)
    }
}

impl crate::SecondFactors<'_> {
    /// The second factors `auth`'s account has.
    pub async fn status(&self, auth: &Auth) -> Result<SecondFactors, Error> {
        of_user(&self.db, &auth.user.id).await
    }

    /// Starts setting up an authenticator app: a new secret, kept sealed
    /// and unconfirmed until a code from the app proves it was copied.
    /// Starting again replaces an unconfirmed one. Needs the password (or,
    /// without one, a recent sign-in): an app added from a stolen session
    /// would lock the owner out.
    pub async fn start_authenticator(
        &self,
        auth: &Auth,
        password: String,
    ) -> Result<AuthenticatorSetup, Error> {
        self.confirm_identity(auth, password, "password").await?;
        let mut secret = vec![0u8; SECRET_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let sealed = self.tokens.seal(&auth.user.id, &secret);
        // One statement: it replaces only an unconfirmed enrolment, so of
        // two racing starts the later wins and a confirmed app stays.
        let written = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
             created_at = excluded.created_at, last_step = 0 \
             WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(&auth.user.id)
        .bind(&sealed)
        .bind(now())
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        if written.rows_affected() != 1 {
            return Err(Error::of(ErrorCode::Conflict, Reason::AuthenticatorOn));
        }
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
            .ok_or_else(unopened)?;
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
    /// with it, and this session has just proved it. Returns the new
    /// recovery codes, shown this once.
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
            .ok_or_else(unopened)?;
        let totp = totp(secret, &self.config.product, &auth.user.username);
        let Some(step) = matching_step(&totp, &code, now() as u64) else {
            self.login_failed(ticket, Some(user_id), client).await?;
            return Err(wrong());
        };
        self.login_succeeded(ticket).await?;
        let mut tx = self.db.begin().await?;
        // The secret the code was checked against, not one a racing "start
        // again" put in its place.
        let confirmed = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $1, last_step = $2 \
             WHERE user_id = $3 AND confirmed_at IS NULL AND secret = $4",
        )
        .bind(now())
        .bind(step as i64)
        .bind(user_id)
        .bind(&row.secret)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if confirmed.rows_affected() != 1 {
            return Err(Error::of(ErrorCode::Conflict, Reason::AuthenticatorOff));
        }
        let codes = renew_recovery_codes_in(self, &mut tx, user_id).await?;
        self.record_in(
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
        proved_in_session(&self.db, &auth.session_id).await?;
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
        remove_in(&mut tx, &user.id, 0).await?;
        self.record_in(
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
        self.record_in(
            &mut tx,
            Event::new(EventKind::RecoveryCodesRenewed, client).user(&user.id),
        )
        .await?;
        // The owner hears of it: a session and one code are enough to renew.
        let mail = self.letter(&user.locale, &user.email, Letter::RecoveryCodesRenewed);
        self.enqueue_mail_in(&mut tx, &mail).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(codes)
    }

    /// A fresh proof of the second factor for the signed-in session, so it
    /// may make the changes that ask for one (for [`STEP_UP_WINDOW_SECS`]).
    pub async fn step_up(&self, auth: &Auth, code: &str, client: &ClientInfo) -> Result<(), Error> {
        let user = user_store::by_id(&self.db, &auth.user.id)
            .await?
            .ok_or_else(Error::unauthorized)?;
        self.require_second_factor(&user, code, client).await?;
        Ok(proved_in_session(&self.db, &auth.session_id).await?)
    }

    /// The second step of a sign-in: `challenge` from the first step's
    /// answer and a code from the app or a recovery code.
    pub async fn complete_sign_in(
        &self,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        let (user_id, token) = parse_challenge(challenge).ok_or_else(expired)?;
        let key = challenge_key(user_id);
        let digest = token_hash(token);
        let same = |value: &str| {
            Pending::decode(value)
                .filter(|p| bool::from(p.digest.as_bytes().ct_eq(digest.as_bytes())))
        };
        let pending = self
            .ephemeral
            .get_text(&key)
            .await?
            .and_then(|value| same(&value))
            .ok_or_else(expired)?;
        let user = user_store::by_id(&self.db, user_id)
            .await?
            .filter(|u| token_hash(&u.password_hash) == pending.stamp)
            .ok_or_else(expired)?;
        if code.trim().is_empty() {
            return Err(Error::invalid("code", Reason::CodeFormat));
        }
        let budget = budget_of(&user.id, pending.device.as_deref());
        let ticket = self.second_factor_attempt(&budget, client).await?;
        let Some(proven) = self.prove(&user.id, &user.username, code).await? else {
            self.record(
                Event::new(EventKind::LoginFailed, client)
                    .user(&user.id)
                    .reason(EventReason::WrongSecondFactor),
            )
            .await?;
            self.second_factor_wrong(ticket, &budget, &user, client)
                .await?;
            return Err(wrong());
        };
        self.login_succeeded(ticket).await?;
        // A spent recovery code is reported even if this sign-in loses.
        self.after_proof(&user, &proven, client).await?;
        // One sign-in per challenge, however many right codes race.
        let taken = self.ephemeral.take_text(&key).await?;
        if taken.and_then(|value| same(&value)).is_none() {
            return Err(expired());
        }
        if user.is_disabled() {
            return self.refuse_disabled(&user.id, client).await;
        }
        let second = match proven {
            Proven::App => "totp",
            Proven::Recovery { .. } => "recovery",
        };
        let (user, issued) = self
            .signed_in(&user, &method_with(&pending.method, second), client)
            .await?;
        proved_in_session(&self.db, &issued.session_id).await?;
        Ok((user, issued))
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
    fn pending_sign_ins_round_trip_and_challenges_are_read_strictly() {
        let pending = Pending {
            digest: "d".into(),
            method: "password".into(),
            stamp: "s".into(),
            device: Some("dev".into()),
        };
        assert_eq!(Pending::decode(&pending.encode()), Some(pending));
        let without = Pending {
            device: None,
            ..Pending::decode("d\npassword\ns\n").unwrap()
        };
        assert_eq!(without.device, None);
        let token = random_token();
        assert_eq!(
            parse_challenge(&format!("0193-ab.{token}")),
            Some(("0193-ab", token.as_str()))
        );
        assert_eq!(parse_challenge(&token), None);
        assert_eq!(parse_challenge(&format!(".{token}")), None);
        assert_eq!(parse_challenge("user.short"), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_element() {
        let svg =
            qr_svg("otpauth://totp/Latchkey:ada?secret=GEZDGNBVGY3TQOJQ&issuer=Latchkey").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }
}
