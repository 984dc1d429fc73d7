//! Passkeys (WebAuthn, on webauthn-rs): a key pair the user's device makes
//! and keeps, unlocked by a fingerprint, face or PIN. Latchkey stores the
//! public half; signing in is the device signing a fresh challenge. A
//! passkey sign-in proves two factors (the device, and the user verifying
//! on it), so it never asks for the app's code.
//!
//! Both ceremonies are two calls, with their state in the ephemeral store
//! for five minutes (`AuthConfig::passkey_ceremony_ttl`), taken (single
//! use) by the second call:
//! - **Adding one** (signed in): the first call checks the password (or a
//!   fresh sign-in) and a fresh second factor, and keeps the ceremony under
//!   the session's id, so only the session that asked can finish it and a
//!   session holds one at a time. The page shows the options until then.
//! - **Signing in**: the first call (throttled per address) keeps the state
//!   under the digest of a random ceremony token given to the asker; the
//!   browser's answer names the account itself (a discoverable credential:
//!   no username typed), and the token must come with it.
//!
//! The relying party (the site passkeys are scoped to) is `PUBLIC_URL`'s
//! host. Browsers refuse passkeys on an IP address, so with one there
//! (`http://127.0.0.1:3000`, the development default) passkeys are off and
//! say so; `http://localhost:3000` works.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy,
};

use crate::audit::Event;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{EventKind, PasskeyInfo, User};
use crate::sessions::Issued;
use crate::tokens::token_hash;
use crate::user_store;
use crate::{now, Auth, ClientInfo, Letter, Services};

/// Passkeys one account may hold: more is a mistake or a flood.
pub const MAX_PASSKEYS: usize = 20;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The browser's answer is a few kilobytes; more is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The relying party passkeys are made for: `PUBLIC_URL`'s domain and
/// origin. `Ok(None)` when it names an IP address (browsers refuse
/// passkeys there); an error for a URL webauthn-rs cannot use, which the
/// server reports at start-up.
pub fn relying_party(public_url: &str, product: &str) -> Result<Option<Webauthn>, String> {
    let url = Url::parse(public_url)
        .map_err(|e| format!("PUBLIC_URL {public_url:?} is not a URL: {e}"))?;
    let Some(domain) = url.domain() else {
        return Ok(None);
    };
    WebauthnBuilder::new(domain, &url)
        .and_then(|builder| builder.rp_name(product).build())
        .map(Some)
        .map_err(|e| format!("passkeys cannot be scoped to PUBLIC_URL {public_url:?}: {e}"))
}

/// An adding ceremony as kept: the name chosen, the options the browser
/// gets, and webauthn-rs's state.
#[derive(Serialize, Deserialize)]
struct Adding {
    name: String,
    options: CreationChallengeResponse,
    state: PasskeyRegistration,
}

/// A passkey being added, as the page shows it until the device answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPasskey {
    pub name: String,
    /// The `CredentialCreationOptions` JSON for `navigator.credentials`.
    pub options: String,
}

/// A sign-in ceremony's first half: the token to send back with the
/// answer, and the `CredentialRequestOptions` JSON for the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInCeremony {
    pub ceremony: String,
    pub options: String,
}

#[derive(FromRow)]
struct Row {
    id: String,
    user_id: String,
    name: String,
    credential: String,
}

#[derive(FromRow)]
struct InfoRow {
    id: String,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

fn adding_key(session_id: &str) -> String {
    format!("passkey-add:{session_id}")
}

/// What a sign-in ceremony token is sealed for.
const SIGN_IN_SEAL: &str = "passkey-sign-in";
/// A sealed ceremony is a few hundred characters; more is not one.
const MAX_CEREMONY_LEN: usize = 4096;

/// Marks a used sign-in ceremony (written only after a verified answer).
fn spent_key(ceremony: &str) -> String {
    format!("passkey-spent:{}", token_hash(ceremony))
}

fn expired() -> Error {
    Error::of(ErrorCode::Unauthorized, Reason::PasskeyExpired)
}

fn refused() -> Error {
    Error::of(ErrorCode::Unauthorized, Reason::PasskeyRefused)
}

/// The browser's answer, parsed; a missing one is a ceremony the user (or
/// a browser without passkeys or JavaScript) did not finish.
fn answer<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::of(ErrorCode::BadRequest, Reason::PasskeyCancelled));
    }
    if raw.len() > MAX_ANSWER_BYTES {
        return Err(refused());
    }
    serde_json::from_str(raw).map_err(|_| Error::of(ErrorCode::BadRequest, Reason::PasskeyRefused))
}

/// A passkey's name: trimmed, "Passkey" when empty.
fn clean_name(raw: &str) -> Result<String, Error> {
    // Control characters (NUL, bidi overrides' neighbours, newlines) are
    // nobody's name and some stores refuse them.
    let name: String = raw.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::counted(
            ErrorCode::InvalidInput,
            Reason::PasskeyName,
            MAX_NAME_CHARS as u64,
        )
        .on("name"));
    }
    Ok(match name.is_empty() {
        true => "Passkey".to_owned(),
        false => name.to_owned(),
    })
}

fn json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal().caused_by(e))
}

impl Services {
    /// Every passkey of `user_id`, gone, and every account at another
    /// provider unlinked: the owner took the account back (first proof of
    /// the address, an email change undone) or an admin reset its sign-in
    /// factors, and either would be an intruder's way back in. Each removal
    /// is logged (with `why` and how many went) so the owner sees it in
    /// their activity. Returns how many ways in went (passkeys and linked
    /// accounts).
    pub(crate) async fn remove_passkeys_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: &str,
        why: Event<'_>,
    ) -> Result<u64, StoreError> {
        let removed = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        let unlinked = sqlx::query("DELETE FROM identities WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if unlinked > 0 {
            let event = Event {
                kind: EventKind::IdentityUnlinked,
                ..why.clone()
            };
            self.record_in(tx, event.user(user_id).detail(unlinked.to_string()))
                .await?;
        }
        if removed > 0 {
            self.record_in(tx, why.user(user_id).detail(removed.to_string()))
                .await?;
        }
        Ok(removed + unlinked)
    }
}

impl Services {
    fn relying(&self) -> Result<&Webauthn, Error> {
        self.relying_party
            .as_ref()
            .ok_or_else(|| Error::of(ErrorCode::Conflict, Reason::PasskeysOff))
    }
}

impl crate::Passkeys<'_> {
    /// Whether this deployment offers passkeys (see [`relying_party`]).
    pub fn enabled(&self) -> bool {
        self.relying_party.is_some()
    }

    /// `auth`'s passkeys, oldest first.
    pub async fn list(&self, auth: &Auth) -> Result<Vec<PasskeyInfo>, Error> {
        let rows: Vec<InfoRow> = sqlx::query_as(
            "SELECT id, name, created_at, last_used_at FROM passkeys \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(&auth.user.id)
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows
            .into_iter()
            .map(|r| PasskeyInfo {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
            })
            .collect())
    }

    /// Starts adding a passkey named `name`: the password (or, without
    /// one, a recent sign-in) and a fresh second factor first, since a
    /// passkey added from a borrowed session is a way in for good. Returns
    /// the options for the browser; they are also kept for the page.
    pub async fn start_adding(
        &self,
        auth: &Auth,
        name: &str,
        password: String,
    ) -> Result<PendingPasskey, Error> {
        let relying = self.relying()?;
        let name = clean_name(name)?;
        let user = self.confirm_identity(auth, password, "password").await?;
        self.require_fresh_second_factor(auth).await?;
        let existing: Vec<(String,)> =
            sqlx::query_as("SELECT credential_id FROM passkeys WHERE user_id = $1")
                .bind(&user.id)
                .fetch_all(&self.db.pool)
                .await
                .map_err(StoreError::from)?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(Error::counted(
                ErrorCode::Conflict,
                Reason::TooManyPasskeys,
                MAX_PASSKEYS as u64,
            ));
        }
        // The device is told which of its passkeys are here already.
        let exclude = existing
            .iter()
            .filter_map(|(id,)| URL_SAFE_NO_PAD.decode(id).ok())
            .collect::<Vec<_>>();
        let handle = Uuid::parse_str(&user.id).map_err(|e| Error::internal().caused_by(e))?;
        let (mut options, state) = relying
            .start_passkey_registration(handle, &user.username, &user.username, Some(exclude))
            .map_err(|e| Error::internal().caused_by(e))?;
        // A passkey must live on the device (discoverable) so signing in
        // needs no username; webauthn-rs asks for that only as a hint.
        options.public_key.authenticator_selection = Some(AuthenticatorSelectionCriteria {
            authenticator_attachment: None,
            resident_key: Some(ResidentKeyRequirement::Required),
            require_resident_key: true,
            user_verification: UserVerificationPolicy::Required,
        });
        let pending = PendingPasskey {
            name: name.clone(),
            options: json(&options)?,
        };
        let adding = Adding {
            name,
            options,
            state,
        };
        self.ephemeral
            .put_text(
                &adding_key(&auth.session_id),
                &json(&adding)?,
                self.config.passkey_ceremony_ttl,
            )
            .await?;
        Ok(pending)
    }

    /// The passkey this session is adding, if its ceremony is still open.
    pub async fn pending(&self, auth: &Auth) -> Result<Option<PendingPasskey>, Error> {
        let Some(kept) = self
            .ephemeral
            .get_text(&adding_key(&auth.session_id))
            .await?
        else {
            return Ok(None);
        };
        // One kept by an older version that no longer reads: start again.
        let Ok(adding) = serde_json::from_str::<Adding>(&kept) else {
            return Ok(None);
        };
        Ok(Some(PendingPasskey {
            name: adding.name,
            options: json(&adding.options)?,
        }))
    }

    /// Drops the ceremony this session started (the page's "Cancel").
    pub async fn cancel_adding(&self, auth: &Auth) -> Result<(), Error> {
        self.ephemeral
            .take_text(&adding_key(&auth.session_id))
            .await?;
        Ok(())
    }

    /// Finishes adding: `credential` is the browser's answer
    /// (`PublicKeyCredential.toJSON()`). An empty one (cancelled on the
    /// device) leaves the ceremony open to try again.
    pub async fn finish_adding(
        &self,
        auth: &Auth,
        credential: &str,
        client: &ClientInfo,
    ) -> Result<PasskeyInfo, Error> {
        let relying = self.relying()?;
        let credential: RegisterPublicKeyCredential = answer(credential)?;
        let kept = self
            .ephemeral
            .take_text(&adding_key(&auth.session_id))
            .await?
            .ok_or_else(expired)?;
        let adding: Adding = serde_json::from_str(&kept).map_err(|_| expired())?;
        let passkey = relying
            .finish_passkey_registration(&credential, &adding.state)
            .map_err(|_| refused())?;
        let info = PasskeyInfo {
            id: Uuid::now_v7().to_string(),
            name: adding.name,
            created_at: now(),
            last_used_at: None,
        };
        let mut tx = self.db.begin().await?;
        // The user's row first (the order every change to an account takes
        // its locks in): the owner taking the account back (which ends this
        // session and removes passkeys) commits either wholly before this
        // check or after this passkey, which it then removes. It also
        // orders two sessions adding at once against the cap.
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(&auth.user.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let live: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL")
                .bind(&auth.session_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        if live.is_none() {
            return Err(Error::unauthorized());
        }
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(&auth.user.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if count as usize >= MAX_PASSKEYS {
            return Err(Error::counted(
                ErrorCode::Conflict,
                Reason::TooManyPasskeys,
                MAX_PASSKEYS as u64,
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&info.id)
        .bind(&auth.user.id)
        .bind(URL_SAFE_NO_PAD.encode(passkey.cred_id()))
        .bind(&info.name)
        .bind(json(&passkey)?)
        .bind(info.created_at)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => {}
            // A credential id is the device's choice: one already here
            // (on any account) is refused, never replaced.
            Err(StoreError::Conflict(_)) => return Err(refused()),
            Err(err) => return Err(err.into()),
        }
        self.record_in(
            &mut tx,
            Event::new(EventKind::PasskeyAdded, client)
                .user(&auth.user.id)
                .detail(info.name.clone()),
        )
        .await?;
        let mail = self.letter(
            &auth.user.locale,
            &auth.user.email,
            Letter::PasskeyChanged { added: true },
        );
        self.enqueue_mail_in(&mut tx, &mail).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(info)
    }

    /// Renames one of `auth`'s passkeys.
    pub async fn rename(&self, auth: &Auth, id: &str, name: &str) -> Result<(), Error> {
        let name = clean_name(name)?;
        let renamed = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(&name)
            .bind(id)
            .bind(&auth.user.id)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        match renamed.rows_affected() {
            0 => Err(Error::of(ErrorCode::NotFound, Reason::NoSuchPasskey)),
            _ => Ok(()),
        }
    }

    /// Removes one of `auth`'s passkeys: the password (or a recent sign-in)
    /// and a fresh second factor, as for adding one. The emailed sign-in
    /// code stays, so no passkey is ever the last way in.
    pub async fn remove(
        &self,
        auth: &Auth,
        id: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let user = self.confirm_identity(auth, password, "password").await?;
        self.require_fresh_second_factor(auth).await?;
        let mut tx = self.db.begin().await?;
        let name: Option<(String,)> =
            sqlx::query_as("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(&user.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        let Some((name,)) = name else {
            return Err(Error::of(ErrorCode::NotFound, Reason::NoSuchPasskey));
        };
        let removed = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(&user.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if removed.rows_affected() != 1 {
            return Err(Error::of(ErrorCode::NotFound, Reason::NoSuchPasskey));
        }
        self.record_in(
            &mut tx,
            Event::new(EventKind::PasskeyRemoved, client)
                .user(&user.id)
                .detail(name),
        )
        .await?;
        let mail = self.letter(
            &user.locale,
            &user.email,
            Letter::PasskeyChanged { added: false },
        );
        self.enqueue_mail_in(&mut tx, &mail).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Starts a sign-in with a passkey. No account is named: the device
    /// offers the passkeys it holds for this site. Nothing is stored: the
    /// ceremony token is webauthn-rs's state and its deadline, sealed
    /// (XChaCha20-Poly1305 under `LATCHKEY_SECRET`), so a flood of log-in
    /// pages costs no memory anywhere.
    pub fn start_sign_in(&self) -> Result<SignInCeremony, Error> {
        let relying = self.relying()?;
        let (options, state) = relying
            .start_discoverable_authentication()
            .map_err(|e| Error::internal().caused_by(e))?;
        let deadline = now() + self.config.passkey_ceremony_ttl.as_secs() as i64;
        let plain = format!("{deadline}|{}", json(&state)?);
        Ok(SignInCeremony {
            ceremony: self.tokens.seal(SIGN_IN_SEAL, plain.as_bytes()),
            options: json(&options)?,
        })
    }

    /// A sign-in ceremony's state and deadline, if it is one of ours and
    /// its time is not over.
    fn opened(&self, ceremony: &str) -> Option<(DiscoverableAuthentication, i64)> {
        if ceremony.len() > MAX_CEREMONY_LEN {
            return None;
        }
        let plain = self.tokens.open(SIGN_IN_SEAL, ceremony)?;
        let plain = std::str::from_utf8(&plain).ok()?;
        let (deadline, state) = plain.split_once('|')?;
        let deadline = deadline.parse::<i64>().ok().filter(|d| *d > now())?;
        Some((serde_json::from_str(state).ok()?, deadline))
    }

    /// Finishes a sign-in: `ceremony` from [`Self::start_sign_in`] and the
    /// browser's answer. A verified answer spends the ceremony (a marker
    /// in the ephemeral store until its deadline: only a real passkey's
    /// answer writes one).
    pub async fn sign_in(
        &self,
        ceremony: &str,
        credential: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), Error> {
        let relying = self.relying()?;
        let credential: PublicKeyCredential = answer(credential)?;
        let (state, deadline) = self.opened(ceremony).ok_or_else(expired)?;
        // Used already: say so, rather than what its replay would fail on.
        if self
            .ephemeral
            .remaining(&spent_key(ceremony))
            .await?
            .is_some()
        {
            return Err(expired());
        }
        let (handle, credential_id) = relying
            .identify_discoverable_authentication(&credential)
            .map_err(|_| refused())?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, user_id, name, credential FROM passkeys \
             WHERE credential_id = $1 AND user_id = $2",
        )
        .bind(URL_SAFE_NO_PAD.encode(credential_id))
        .bind(handle.to_string())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let row = row.ok_or_else(|| Error::of(ErrorCode::Unauthorized, Reason::PasskeyUnknown))?;
        let mut passkey: Passkey =
            serde_json::from_str(&row.credential).map_err(|e| Error::internal().caused_by(e))?;
        // Checks the signature, the challenge, the origin, user
        // verification and the signature counter (a cloned key's goes
        // backwards).
        let result = relying
            .finish_discoverable_authentication_v2(&credential, state, &passkey)
            .map_err(|_| refused())?;
        // One sign-in per ceremony, however many right answers race.
        let left = std::time::Duration::from_secs((deadline - now()).max(1) as u64);
        if self
            .ephemeral
            .cooldown(&spent_key(ceremony), left)
            .await?
            .is_some()
        {
            return Err(expired());
        }
        let stored = match passkey.update_credential(&result) {
            Some(true) => json(&passkey)?,
            _ => row.credential.clone(),
        };
        // Only from the state checked: a passkey removed meanwhile, or
        // another sign-in's newer counter, refuses this one.
        let updated = sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3 AND credential = $4",
        )
        .bind(stored)
        .bind(now())
        .bind(&row.id)
        .bind(&row.credential)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        if updated.rows_affected() != 1 {
            return Err(refused());
        }
        let user = user_store::by_id(&self.db, &row.user_id)
            .await?
            .ok_or_else(|| Error::of(ErrorCode::Unauthorized, Reason::PasskeyUnknown))?;
        if user.is_disabled() {
            return self.refuse_disabled(&user.id, client).await;
        }
        tracing::debug!(passkey = %row.name, "signed in with a passkey");
        let (user, issued) = self.signed_in(&user, "passkey", client).await?;
        crate::second_factor::proved_in_session(&self.db, &issued.session_id).await?;
        Ok((user, issued))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_domain() {
        let rp = relying_party("https://auth.example.com", "Latchkey").unwrap();
        assert!(rp.is_some());
        assert!(relying_party("http://localhost:3000", "Latchkey")
            .unwrap()
            .is_some());
        // Browsers refuse passkeys on an address: off, not an error.
        assert!(relying_party("http://127.0.0.1:3000", "Latchkey")
            .unwrap()
            .is_none());
        assert!(relying_party("http://[::1]:3000", "Latchkey")
            .unwrap()
            .is_none());
        assert!(relying_party("not a url", "Latchkey").is_err());
    }

    #[test]
    fn names_are_trimmed_defaulted_and_bounded() {
        assert_eq!(clean_name("  Phone ").unwrap(), "Phone");
        assert_eq!(clean_name("").unwrap(), "Passkey");
        assert_eq!(clean_name(&"가".repeat(64)).unwrap(), "가".repeat(64));
        let long = clean_name(&"a".repeat(65)).unwrap_err();
        assert_eq!(long.reason, Some(Reason::PasskeyName));
        assert!(long.is_for("name"));
    }

    #[test]
    fn answers_are_read_strictly() {
        let empty = answer::<PublicKeyCredential>("  ").unwrap_err();
        assert_eq!(empty.reason, Some(Reason::PasskeyCancelled));
        let garbage = answer::<PublicKeyCredential>("{\"id\": 1}").unwrap_err();
        assert_eq!(garbage.reason, Some(Reason::PasskeyRefused));
        let huge = answer::<PublicKeyCredential>(&"x".repeat(MAX_ANSWER_BYTES + 1)).unwrap_err();
        assert_eq!(huge.reason, Some(Reason::PasskeyRefused));
    }
}
