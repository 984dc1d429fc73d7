//! Signing in through another identity provider ("Sign in with Kakao"):
//! any OpenID Connect provider (Google and Kakao are presets of it), with
//! the authorization code flow, PKCE and a nonce always, and the ID token
//! verified against the provider's published keys; and GitHub and Naver,
//! which speak plain OAuth 2.0 and say who signed in at their profile
//! endpoints (`oauth`).
//!
//! The rules, safe by default:
//! - an identity already linked signs in to its account (a disabled one is
//!   refused; an authenticator app is still asked for);
//! - a new identity opens an account only with an email its provider says
//!   it verified;
//! - a new identity whose verified email belongs to an account here is
//!   linked only after someone signs in to that account, afresh, and
//!   confirms: never silently;
//! - an unverified (or missing) email links nothing and opens nothing;
//! - a signed-in user may link more, and remove them unless that would
//!   leave no way to sign in.
//!
//! A sign-in's `state` is single use, lives ten minutes, and is bound to
//! the browser that began it (the edge keeps it in a cookie and hands it
//! back): a callback address carried to another browser does nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use latchkey_types::paths::landing;

use crate::audit::Event;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::letter::Letter;
use crate::limits::Rate;
use crate::model::{EventKind, LinkedIdentity, Role, UpstreamInfo, UpstreamToken, User};
use crate::sessions::Issued;
use crate::tokens::{random_token, token_hash};
use crate::user_store::{self, UserRow};
use crate::{now, validate, Auth, ClientInfo};

/// How long a sign-in at a provider may take, and how long an identity
/// waits for its account's owner to sign in and link it.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// A provider's discovery document and keys are fetched again after this.
const DISCOVERY_TTL: Duration = Duration::from_secs(5 * 60);
/// …or sooner, for a token its copy could not verify, but not more often.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Sign-ins one address may begin in an hour: each holds a little memory
/// for ten minutes.
const STARTS_PER_HOUR_PER_IP: u32 = 60;

pub use crate::config::{UpstreamKind as Kind, UpstreamProvider as Provider};

mod oauth;

/// The providers' discovered metadata and the HTTP client that asks them.
pub struct Upstreams {
    http: openidconnect::reqwest::Client,
    /// One slot per provider, each behind its own lock held across the
    /// fetch: sign-ins arriving together fetch once, and a provider that
    /// does not answer holds up only its own sign-ins.
    discovered: std::sync::Mutex<HashMap<String, Arc<Slot>>>,
}

type Slot = tokio::sync::Mutex<Option<(Instant, Arc<CoreProviderMetadata>)>>;

impl Default for Upstreams {
    fn default() -> Self {
        let http = openidconnect::reqwest::Client::builder()
            // Following a redirect from a token endpoint would let it send
            // our requests anywhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("Latchkey")
            .build()
            .expect("a TLS client with the bundled roots");
        Self {
            http,
            discovered: std::sync::Mutex::default(),
        }
    }
}

impl Upstreams {
    /// The provider's metadata, from this instance's copy while it is
    /// fresh (`again`: fetch anew, e.g. after a key it did not know).
    async fn metadata(
        &self,
        provider: &Provider,
        again: bool,
    ) -> Result<Arc<CoreProviderMetadata>, Error> {
        let slot = {
            let mut slots = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(provider.id.clone()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        // Asked again (a token that did not verify), a copy younger than
        // REFETCH_AFTER still stands: answers cannot make us hammer it.
        let fresh_for = if again { REFETCH_AFTER } else { DISCOVERY_TTL };
        if let Some((at, metadata)) = slot.as_ref() {
            if at.elapsed() < fresh_for {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(failed)?;
        match CoreProviderMetadata::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                *slot = Some((Instant::now(), metadata.clone()));
                Ok(metadata)
            }
            // Down for a moment: the copy it has still names its keys.
            Err(err) => match slot.as_ref() {
                Some((_, stale)) => {
                    tracing::warn!(provider = %provider.id, error = %err, "provider discovery failed; using the copy held");
                    Ok(stale.clone())
                }
                None => Err(failed(err)),
            },
        }
    }
}

/// What the browser brought back to the callback address.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Answer {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 6749 §4.1.2.1: `access_denied` when the person cancelled.
    pub error: Option<String>,
}

/// A sign-in that began: send the browser to `url`, and keep `state` in
/// a cookie for the way back.
#[derive(Debug)]
pub struct Started {
    pub url: String,
    pub state: String,
}

/// How a finished sign-in at a provider ended.
#[derive(Debug)]
pub enum Finished {
    /// Signed in (an identity already linked, or a new account).
    SignedIn {
        user: User,
        issued: Issued,
        /// Where the browser goes now (a path here).
        next: String,
    },
    /// Linked to the signed-in account that asked.
    Linked { provider: String },
    /// The provider's verified email belongs to an account here: its owner
    /// must sign in first, then confirm. `token` goes in a cookie.
    ProveFirst { token: String },
}

/// `finish`'s outcome, whether it was a signed-in user linking (the edge
/// answers those on the security page, not the sign-in page), and where
/// the sign-in was to land (carried on when a second factor is asked).
#[derive(Debug)]
pub struct Finish {
    pub linking: bool,
    pub next: String,
    pub outcome: Result<Finished, Error>,
}

/// A sign-in in flight, stored under its `state` between the two legs.
#[derive(Serialize, Deserialize)]
struct Flight {
    provider: String,
    verifier: String,
    nonce: String,
    next: String,
    /// Set when a signed-in user is linking: their account.
    link_to: Option<String>,
}

/// An identity waiting for its account's owner to sign in and confirm.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    subject: String,
    email: String,
    user_id: String,
    /// Unix seconds: only a sign-in since proves the account…
    at: i64,
    /// …but not a session already open in that same second.
    open_then: Vec<String>,
    /// The provider's access token, sealed, when kept.
    #[serde(default)]
    token: Option<String>,
}

/// A pending link as the confirmation page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    pub provider: UpstreamInfo,
    pub email: String,
}

/// What a provider said about the person, once verified.
#[derive(Debug, Clone)]
pub struct Profile {
    pub subject: String,
    /// Only an address the provider says it verified.
    pub verified_email: Option<String>,
    /// The address it gave, verified or not (shown beside a link).
    pub email: Option<String>,
    /// A name to start the username from.
    pub name_hint: Option<String>,
    /// The provider's access token (never printed), kept only when the
    /// operator asks.
    pub access_token: AccessToken,
}

fn state_key(state: &str) -> String {
    format!("upstream:state:{}", token_hash(state))
}

fn pending_key(token: &str) -> String {
    format!("upstream:link:{}", token_hash(token))
}

fn failed(err: impl std::fmt::Display) -> Error {
    Error {
        cause: Some(err.to_string()),
        ..Error::of(ErrorCode::Unavailable, Reason::UpstreamFailed)
    }
}

fn expired() -> Error {
    Error::of(ErrorCode::BadRequest, Reason::UpstreamExpired)
}

/// A profile from what a provider said: the address counts as verified
/// only when it is one (`verified`) and a usable address.
fn profile_of(
    subject: String,
    email: Option<String>,
    verified: bool,
    name_hint: Option<String>,
    access_token: AccessToken,
) -> Profile {
    let email = email.and_then(|e| validate::email(&e).ok());
    Profile {
        subject,
        verified_email: email.clone().filter(|_| verified),
        email,
        name_hint,
        access_token,
    }
}

/// What a kept token is sealed to: its identity's row.
fn token_owner(issuer: &str, subject: &str) -> String {
    format!("identity\n{issuer}\n{subject}")
}

/// A username made from a provider's name for the person: the allowed
/// characters of it, cut to fit (`None`: nothing usable).
fn username_from(hint: &str) -> Option<String> {
    let name: String = hint
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
        .take(24)
        .collect();
    (name.len() >= 3).then_some(name)
}

impl crate::Upstream<'_> {
    /// The providers people may sign in with here.
    pub fn providers(&self) -> Vec<UpstreamInfo> {
        self.config.upstreams.iter().map(Provider::info).collect()
    }

    fn provider(&self, id: &str) -> Result<&Provider, Error> {
        self.config
            .upstreams
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::of(ErrorCode::NotFound, Reason::UpstreamUnknown))
    }

    fn redirect_uri(&self, provider: &Provider) -> String {
        format!("{}/login/with/{}/back", self.config.public_url, provider.id)
    }

    /// Begins a sign-in at `provider`; `next` is where it lands.
    pub async fn start(
        &self,
        provider: &str,
        next: &str,
        client: &ClientInfo,
    ) -> Result<Started, Error> {
        self.begin(provider, landing(next).to_owned(), None, client)
            .await
    }

    /// Begins linking an account at `provider` to the signed-in user's: a
    /// new way in, so it asks for the password (or a fresh sign-in) and a
    /// fresh second factor, as adding a passkey does.
    pub async fn start_link(
        &self,
        auth: &Auth,
        provider: &str,
        password: String,
    ) -> Result<Started, Error> {
        self.provider(provider)?;
        // An unproven address may be a squatter's account: a provider they
        // linked would outlive the owner taking it back.
        if !auth.user.email_verified {
            return Err(Error::of(ErrorCode::EmailUnverified, Reason::VerifyFirst));
        }
        self.confirm_identity(auth, password, "password").await?;
        self.require_fresh_second_factor(auth).await?;
        let next = "/security/accounts".to_owned();
        self.begin(provider, next, Some(auth.user.id.clone()), &auth.client)
            .await
    }

    async fn begin(
        &self,
        provider: &str,
        next: String,
        link_to: Option<String>,
        client: &ClientInfo,
    ) -> Result<Started, Error> {
        let provider = self.provider(provider)?;
        if let Some(ip) = client.limit_key() {
            self.limit(
                &format!("upstream:start:{ip}"),
                Rate::per_hour(STARTS_PER_HOUR_PER_IP),
            )
            .await?;
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token();
        let nonce = random_token();
        let url = match provider.kind {
            Kind::OpenIdConnect => {
                self.oidc_authorize_url(provider, &state, &nonce, challenge)
                    .await?
            }
            _ => oauth::authorize_url(
                provider,
                &self.redirect_uri(provider),
                &state,
                challenge.as_str(),
            )?,
        };
        let flight = Flight {
            provider: provider.id.clone(),
            verifier: verifier.secret().clone(),
            nonce,
            next,
            link_to,
        };
        let flight = serde_json::to_string(&flight).map_err(|e| Error::internal().caused_by(e))?;
        self.ephemeral
            .put_text(&state_key(&state), &flight, STATE_TTL)
            .await?;
        Ok(Started { url, state })
    }

    /// The provider's authorization address, from its discovery document.
    async fn oidc_authorize_url(
        &self,
        provider: &Provider,
        state: &str,
        nonce: &str,
        challenge: PkceCodeChallenge,
    ) -> Result<String, Error> {
        let oidc = self.client(provider, false).await?;
        let mut request = oidc
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                {
                    let state = state.to_owned();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.to_owned();
                    move || Nonce::new(nonce)
                },
            )
            .set_pkce_challenge(challenge);
        for scope in &provider.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        Ok(url.into())
    }

    /// Finishes a sign-in when the browser comes back from `provider`
    /// with `answer`; `browser_state` is the state its cookie kept.
    pub async fn finish(
        &self,
        provider: &str,
        answer: &Answer,
        browser_state: Option<&str>,
        client: &ClientInfo,
    ) -> Finish {
        // The state must be the one this browser began with, and is spent
        // whatever follows.
        let flight = match (browser_state, answer.state.as_deref()) {
            (Some(kept), Some(back)) if bool::from(kept.as_bytes().ct_eq(back.as_bytes())) => {
                self.ephemeral.take_text(&state_key(kept)).await
            }
            _ => Ok(None),
        };
        let flight: Option<Flight> = match flight {
            Ok(found) => found.and_then(|json| serde_json::from_str(&json).ok()),
            Err(err) => {
                return Finish {
                    linking: false,
                    next: String::new(),
                    outcome: Err(err.into()),
                }
            }
        };
        let Some(flight) = flight.filter(|f| f.provider == provider) else {
            return Finish {
                linking: false,
                next: String::new(),
                outcome: Err(expired()),
            };
        };
        let linking = flight.link_to.is_some();
        let next = flight.next.clone();
        let outcome = self.land(answer, flight, client).await;
        Finish {
            linking,
            next,
            outcome,
        }
    }

    async fn land(
        &self,
        answer: &Answer,
        flight: Flight,
        client: &ClientInfo,
    ) -> Result<Finished, Error> {
        let provider = self.provider(&flight.provider)?;
        if let Some(error) = &answer.error {
            return Err(match error.as_str() {
                "access_denied" => Error::of(ErrorCode::BadRequest, Reason::UpstreamCancelled),
                other => failed(format!("the provider answered {other:?}")),
            });
        }
        let code = answer.code.as_deref().ok_or_else(expired)?;
        let profile = match provider.kind {
            Kind::OpenIdConnect => self.oidc_profile(provider, code, &flight).await?,
            _ => {
                let back = oauth::Returned {
                    code,
                    state: answer.state.as_deref().unwrap_or_default(),
                    verifier: &flight.verifier,
                    redirect_uri: &self.redirect_uri(provider),
                };
                oauth::profile(&self.upstreams.http, provider, back).await?
            }
        };
        let owner = identity_owner(&self.db, provider, &profile.subject).await?;
        if let Some(user_id) = &flight.link_to {
            return match owner {
                Some(owner) if owner == *user_id => Ok(Finished::Linked {
                    provider: provider.id.clone(),
                }),
                Some(_) => Err(Error::of(ErrorCode::Conflict, Reason::UpstreamTaken)),
                None => {
                    let email = profile.email.clone().unwrap_or_default();
                    let token = self.kept(provider, &profile);
                    self.link(user_id, provider, &profile.subject, &email, token, client)
                        .await?;
                    Ok(Finished::Linked {
                        provider: provider.id.clone(),
                    })
                }
            };
        }
        if let Some(user_id) = owner {
            let user = user_store::by_id(&self.db, &user_id)
                .await?
                .ok_or_else(expired)?;
            return self
                .sign_in(&user, provider, &profile, flight.next, client)
                .await;
        }
        let email = profile
            .verified_email
            .as_deref()
            .ok_or_else(|| Error::of(ErrorCode::Forbidden, Reason::UpstreamNoEmail))?;
        if let Some(user) = user_store::by_login(&self.db, email).await? {
            // This same person's other return may have opened it since the
            // look-up above (the account and its identity commit together).
            if identity_owner(&self.db, provider, &profile.subject).await? == Some(user.id.clone())
            {
                return self
                    .sign_in(&user, provider, &profile, flight.next, client)
                    .await;
            }
            let token = random_token();
            let at = now();
            let open_then: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM sessions WHERE user_id = $1 AND created_at >= $2",
            )
            .bind(&user.id)
            .bind(at)
            .fetch_all(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
            let pending = Pending {
                provider: provider.id.clone(),
                subject: profile.subject.clone(),
                email: email.to_owned(),
                user_id: user.id,
                at,
                open_then,
                token: self.kept(provider, &profile),
            };
            let pending =
                serde_json::to_string(&pending).map_err(|e| Error::internal().caused_by(e))?;
            self.ephemeral
                .put_text(&pending_key(&token), &pending, STATE_TTL)
                .await?;
            return Ok(Finished::ProveFirst { token });
        }
        self.open_account(provider, &profile, email, flight.next, client)
            .await
    }

    /// A client for `provider` from its metadata (`again`: fetched anew).
    async fn client(&self, provider: &Provider, again: bool) -> Result<Oidc, Error> {
        let metadata = self.upstreams.metadata(provider, again).await?;
        // The secret goes in the Basic header unless the provider says it
        // takes it only in the form (Kakao).
        let basic = metadata
            .token_endpoint_auth_methods_supported()
            .is_none_or(|methods| methods.contains(&CoreClientAuthMethod::ClientSecretBasic));
        let auth_type = match basic {
            true => AuthType::BasicAuth,
            false => AuthType::RequestBody,
        };
        Ok(CoreClient::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.clone())),
        )
        .set_auth_type(auth_type)
        .set_redirect_uri(RedirectUrl::new(self.redirect_uri(provider)).map_err(failed)?))
    }

    /// Trades the code for tokens and reads who signed in: the ID token's
    /// signature, issuer, audience, expiry and nonce are checked; an email
    /// counts only if the provider says it verified it (in the ID token,
    /// or else at its userinfo endpoint).
    async fn oidc_profile(
        &self,
        provider: &Provider,
        code: &str,
        flight: &Flight,
    ) -> Result<Profile, Error> {
        let mut oidc = self.client(provider, false).await?;
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(failed)?
            .set_pkce_verifier(PkceCodeVerifier::new(flight.verifier.clone()))
            .request_async(&self.upstreams.http)
            .await
            .map_err(failed)?;
        let id_token = tokens.id_token().ok_or_else(|| failed("no ID token"))?;
        let nonce = Nonce::new(flight.nonce.clone());
        let verify = |oidc: &Oidc| {
            let verifier = oidc.id_token_verifier().set_allowed_algs(SIGNATURES);
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verify(&oidc) {
            Ok(claims) => claims,
            // Perhaps signed with a key newer than this instance's copy of
            // the provider's keys: fetch them once more.
            Err(_) => {
                oidc = self.client(provider, true).await?;
                verify(&oidc).map_err(failed)?
            }
        };
        let subject = claims.subject().clone();
        let mut email = claims.email().map(|e| e.as_str().to_owned());
        let mut verified = claims.email_verified();
        if verified.is_none() {
            // Not said in the ID token (Kakao's): the userinfo endpoint may
            // say it, for the same subject; then its address is the one
            // vouched for, or none.
            if let Ok(request) =
                oidc.user_info(tokens.access_token().clone(), Some(subject.clone()))
            {
                let info: CoreUserInfoClaims = request
                    .request_async(&self.upstreams.http)
                    .await
                    .map_err(failed)?;
                email = info.email().map(|e| e.as_str().to_owned());
                verified = info.email_verified();
            }
        }
        let name_hint = claims
            .preferred_username()
            .map(|n| n.as_str().to_owned())
            .or_else(|| {
                email
                    .as_deref()
                    .and_then(|e| e.split('@').next())
                    .map(str::to_owned)
            });
        Ok(profile_of(
            subject.as_str().to_owned(),
            email,
            verified == Some(true),
            name_hint,
            tokens.access_token().clone(),
        ))
    }

    /// The access token to keep, sealed to its identity: only when the
    /// operator asks.
    fn kept(&self, provider: &Provider, profile: &Profile) -> Option<String> {
        self.config.keep_upstream_tokens.then(|| {
            let owner = token_owner(&provider.subject_space(), &profile.subject);
            self.tokens
                .seal(&owner, profile.access_token.secret().as_bytes())
        })
    }

    /// With tokens not kept (any more), removes those kept before: run at
    /// start-up. How many went.
    pub async fn forget_tokens_unless_kept(&self) -> Result<u64, Error> {
        if self.config.keep_upstream_tokens {
            return Ok(0);
        }
        let gone = sqlx::query(
            "UPDATE identities SET access_token = NULL, token_kept_at = NULL \
             WHERE access_token IS NOT NULL",
        )
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(gone.rows_affected())
    }

    /// The access token `provider` gave at the user's last sign-in through
    /// it, when the deployment keeps them.
    pub async fn kept_token(&self, user_id: &str, provider: &str) -> Result<UpstreamToken, Error> {
        let row: Option<(String, String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT issuer, subject, access_token, token_kept_at FROM identities \
             WHERE user_id = $1 AND provider = $2",
        )
        .bind(user_id)
        .bind(provider)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let (issuer, subject, sealed, kept_at) =
            row.ok_or_else(|| Error::of(ErrorCode::NotFound, Reason::NoSuchIdentity))?;
        // Kept before the operator stopped keeping them: no longer handed out.
        let token = (sealed, kept_at, self.config.keep_upstream_tokens);
        let (Some(sealed), Some(kept_at), true) = token else {
            return Err(Error::of(ErrorCode::NotFound, Reason::UpstreamTokenNotKept));
        };
        let access_token = self
            .tokens
            .open(&token_owner(&issuer, &subject), &sealed)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            // Sealed under another deployment secret.
            .ok_or_else(|| Error::of(ErrorCode::NotFound, Reason::UpstreamTokenNotKept))?;
        Ok(UpstreamToken {
            provider: provider.to_owned(),
            access_token,
            kept_at,
        })
    }

    /// Signs in to the account an identity is linked to.
    async fn sign_in(
        &self,
        user: &UserRow,
        provider: &Provider,
        profile: &Profile,
        next: String,
        client: &ClientInfo,
    ) -> Result<Finished, Error> {
        if user.is_disabled() {
            return self.refuse_disabled(&user.id, client).await;
        }
        // The newest token replaces the kept one (or, not kept any more,
        // clears it).
        let token = self.kept(provider, profile);
        sqlx::query(
            "UPDATE identities SET last_used_at = $1, access_token = $2, token_kept_at = $3 \
             WHERE issuer = $4 AND subject = $5 AND user_id = $6",
        )
        .bind(now())
        .bind(&token)
        .bind(token.as_ref().map(|_| now()))
        .bind(provider.subject_space())
        .bind(&profile.subject)
        .bind(&user.id)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let method = method_of(provider);
        let (factors,): (i64,) = sqlx::query_as(&crate::second_factor::required_sql("$1"))
            .bind(&user.id)
            .fetch_one(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        if factors > 0 {
            let device = self.known_device(user, client);
            return Err(self.challenge(user, &method, device).await);
        }
        let (user, issued) = self.signed_in(user, &method, client).await?;
        Ok(Finished::SignedIn { user, issued, next })
    }

    /// Opens an account for a new identity whose verified email no account
    /// has, linked to it, and signs in.
    async fn open_account(
        &self,
        provider: &Provider,
        profile: &Profile,
        email: &str,
        next: String,
        client: &ClientInfo,
    ) -> Result<Finished, Error> {
        self.limit_signups(client).await?;
        let base = profile
            .name_hint
            .as_deref()
            .and_then(username_from)
            .unwrap_or_else(|| "user".to_owned());
        // The name, then the name and a few random digits: someone may
        // have it already (the unique index decides).
        for attempt in 0..5 {
            let username = match attempt {
                0 => base.clone(),
                _ => format!("{base}{}", rand::random::<u32>() % 10_000),
            };
            let account =
                crate::accounts::NewAccount::from_parts(email.to_owned(), username, String::new());
            let mut tx = self.db.begin().await?;
            let user = match account.insert_in(&mut tx, Role::User, client).await {
                Ok(user) => user,
                Err(err) if err.code == ErrorCode::UsernameTaken => continue,
                // Taken meanwhile: by this same person's other return (it
                // linked the account, so sign in to it), or by someone else
                // or a live undo link (said as such).
                Err(err) if err.code == ErrorCode::EmailTaken => {
                    drop(tx);
                    let owner = identity_owner(&self.db, provider, &profile.subject).await?;
                    let user = match owner {
                        Some(id) => user_store::by_id(&self.db, &id).await?,
                        None => None,
                    };
                    return match user {
                        Some(user) => self.sign_in(&user, provider, profile, next, client).await,
                        None => Err(err),
                    };
                }
                Err(err) => return Err(err),
            };
            sqlx::query("UPDATE users SET email_verified = 1 WHERE id = $1")
                .bind(&user.id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            let token = self.kept(provider, profile);
            let identity = Identity {
                subject: &profile.subject,
                email,
                token,
            };
            insert_identity(&mut tx, &user.id, provider, &identity, true).await?;
            self.record_in(
                &mut tx,
                Event::new(EventKind::SignUp, client).user(&user.id),
            )
            .await?;
            let linked = Event::new(EventKind::IdentityLinked, client)
                .user(&user.id)
                .detail(&provider.id);
            self.record_in(&mut tx, linked).await?;
            let user = UserRow {
                email_verified: 1,
                ..user
            };
            let method = method_of(provider);
            let issued = self
                .start_session_in(&mut tx, &user, &method, client)
                .await?;
            self.logged_in_in(&mut tx, &user, &method, client).await?;
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(Finished::SignedIn {
                user: user.to_user(),
                issued,
                next,
            });
        }
        Err(Error::of(ErrorCode::UsernameTaken, Reason::UsernameTaken))
    }

    /// Links an identity to `user_id`, logged (and announced) as a new way
    /// in.
    async fn link(
        &self,
        user_id: &str,
        provider: &Provider,
        subject: &str,
        email: &str,
        token: Option<String>,
        client: &ClientInfo,
    ) -> Result<(), Error> {
        let owner = user_store::by_id(&self.db, user_id)
            .await?
            .ok_or_else(Error::unauthorized)?;
        let mut tx = self.db.begin().await?;
        let identity = Identity {
            subject,
            email,
            token,
        };
        insert_identity(&mut tx, user_id, provider, &identity, false).await?;
        self.record_in(
            &mut tx,
            Event::new(EventKind::IdentityLinked, client)
                .user(user_id)
                .detail(&provider.id),
        )
        .await?;
        let mail = self.letter(
            &owner.locale,
            &owner.email,
            Letter::IdentityLinked {
                provider: &provider.name,
            },
        );
        self.enqueue_mail_in(&mut tx, &mail).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// The identity waiting for `auth`'s account under `token`, if it
    /// still waits.
    pub async fn pending(&self, auth: &Auth, token: &str) -> Result<Option<PendingLink>, Error> {
        let Some(json) = self.ephemeral.get_text(&pending_key(token)).await? else {
            return Ok(None);
        };
        // Another account signed in on this browser sees nothing of it.
        let Some(pending) = serde_json::from_str::<Pending>(&json)
            .ok()
            .filter(|p| p.user_id == auth.user.id)
        else {
            return Ok(None);
        };
        Ok(self.provider(&pending.provider).ok().map(|p| PendingLink {
            provider: p.info(),
            email: pending.email,
        }))
    }

    /// The owner, signed in since the identity came back, confirms the
    /// link: it is made, and the token spent. Returns the provider's id.
    pub async fn confirm(&self, auth: &Auth, token: &str) -> Result<String, Error> {
        let gone = || Error::of(ErrorCode::BadRequest, Reason::UpstreamLinkExpired);
        let json = self
            .ephemeral
            .get_text(&pending_key(token))
            .await?
            .ok_or_else(gone)?;
        let pending: Pending = serde_json::from_str(&json).map_err(|_| gone())?;
        let opened = crate::sessions::opened_at(&self.db, &auth.session_id).await?;
        // Someone else's account, or a session open before the identity
        // came back: not a proof of this account now.
        let fresh = opened.is_some_and(|at| {
            at > pending.at || (at == pending.at && !pending.open_then.contains(&auth.session_id))
        });
        if pending.user_id != auth.user.id || !fresh {
            return Err(gone());
        }
        if self
            .ephemeral
            .take_text(&pending_key(token))
            .await?
            .is_none()
        {
            return Err(gone());
        }
        let provider = self.provider(&pending.provider)?;
        match identity_owner(&self.db, provider, &pending.subject).await? {
            Some(owner) if owner == auth.user.id => {}
            Some(_) => return Err(Error::of(ErrorCode::Conflict, Reason::UpstreamTaken)),
            None => {
                self.link(
                    &auth.user.id,
                    provider,
                    &pending.subject,
                    &pending.email,
                    pending.token,
                    &auth.client,
                )
                .await?
            }
        }
        Ok(provider.id.clone())
    }

    /// The accounts at other providers linked to `user_id`.
    pub async fn identities(&self, user_id: &str) -> Result<Vec<LinkedIdentity>, Error> {
        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT provider, email, created_at, last_used_at FROM identities \
             WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows
            .into_iter()
            .map(
                |(provider, email, created_at, last_used_at)| LinkedIdentity {
                    provider,
                    email,
                    created_at,
                    last_used_at,
                },
            )
            .collect())
    }

    /// Removes the signed-in user's identity at `provider` (with the same
    /// proof as removing a passkey), unless it is their last way to sign in
    /// (no password, no passkey, no other).
    pub async fn unlink(&self, auth: &Auth, provider: &str, password: String) -> Result<(), Error> {
        self.confirm_identity(auth, password, "password").await?;
        let mut tx = self.db.begin().await?;
        // Counted and removed under the account row's write lock (SQLite's
        // one writer; PostgreSQL's FOR UPDATE): two removals racing cannot
        // each leave the other as the last way in.
        let (password, passkeys): (String, i64) = sqlx::query_as(&format!(
            "SELECT u.password_hash, (SELECT COUNT(*) FROM passkeys WHERE user_id = u.id) \
             FROM users u WHERE u.id = $1{}",
            self.db.update_lock("u")
        ))
        .bind(&auth.user.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let linked: Vec<String> =
            sqlx::query_scalar("SELECT provider FROM identities WHERE user_id = $1")
                .bind(&auth.user.id)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        // Only a provider still offered here is a way in.
        let others = linked
            .iter()
            .filter(|p| *p != provider && self.provider(p).is_ok())
            .count();
        if others == 0 && password.is_empty() && passkeys == 0 {
            return Err(Error::of(ErrorCode::Conflict, Reason::UpstreamLastWay));
        }
        let removed = sqlx::query("DELETE FROM identities WHERE user_id = $1 AND provider = $2")
            .bind(&auth.user.id)
            .bind(provider)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if removed.rows_affected() == 0 {
            return Err(Error::of(ErrorCode::NotFound, Reason::NoSuchIdentity));
        }
        self.record_in(
            &mut tx,
            Event::new(EventKind::IdentityUnlinked, &auth.client)
                .user(&auth.user.id)
                .detail(provider),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

/// The OpenID Connect client of one provider, from its discovery document.
type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The signatures an ID token may carry: public-key ones only (never
/// `none`, never an HMAC keyed with our own client secret).
const SIGNATURES: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How a session begun through `provider` was signed in (`upstream:kakao`).
fn method_of(provider: &Provider) -> String {
    format!("upstream:{}", provider.id)
}

/// The account an identity is linked to, if any.
async fn identity_owner(
    db: &crate::Db,
    provider: &Provider,
    subject: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2")
            .bind(provider.subject_space())
            .bind(subject)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// An identity to store: who at the provider, the address it gave, its
/// token (sealed) when kept.
struct Identity<'a> {
    subject: &'a str,
    email: &'a str,
    token: Option<String>,
}

/// Stores a link (`signed_in`: it just signed in, too); the keys refuse a
/// second identity at one provider for an account, and an identity already
/// linked elsewhere.
async fn insert_identity(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    provider: &Provider,
    identity: &Identity<'_>,
    signed_in: bool,
) -> Result<(), Error> {
    let now = now();
    let inserted = sqlx::query(
        "INSERT INTO identities \
         (issuer, subject, provider, user_id, email, created_at, last_used_at, access_token, token_kept_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(provider.subject_space())
    .bind(identity.subject)
    .bind(&provider.id)
    .bind(user_id)
    .bind(identity.email)
    .bind(now)
    .bind(signed_in.then_some(now))
    .bind(&identity.token)
    .bind(identity.token.as_ref().map(|_| now))
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) => Err(match StoreError::from(err) {
            StoreError::Conflict(index) if index.contains("user_provider") => {
                Error::of(ErrorCode::Conflict, Reason::UpstreamAlreadyLinked)
            }
            StoreError::Conflict(_) => Error::of(ErrorCode::Conflict, Reason::UpstreamTaken),
            other => other.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_usable_part_of_a_name() {
        assert_eq!(
            username_from("Ada.Lovelace").as_deref(),
            Some("ada.lovelace")
        );
        assert_eq!(username_from("김철수 kim").as_deref(), Some("kim"));
        assert_eq!(username_from("김철수"), None);
        assert_eq!(username_from(&"a".repeat(40)).unwrap().len(), 24);
    }
}
