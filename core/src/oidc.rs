//! Latchkey as an OpenID Connect provider (OpenID Connect Core 1.0 with
//! the OAuth 2.1 draft's rules): the authorization code flow with PKCE,
//! the token endpoint, ID tokens and userinfo. Apps are registered in
//! `apps`; tokens are signed with the keys of `signing_keys`.
//!
//! Rules kept here (RFC 6749, 7636, 9207, OAuth 2.1):
//! - A redirect URI is the one registered, character for character. Until
//!   the app and its redirect URI are known to match, errors are shown on
//!   Latchkey's own page, never sent anywhere.
//! - PKCE with `S256` is required of public apps and checked for any app
//!   that sent a challenge; `plain` is refused.
//! - A code is good once, for 60 seconds, for the app and redirect URI it
//!   was made for. A second use revokes what the first one got.
//! - Scopes are what the app is registered for and the user allowed; a
//!   refresh never widens them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{decode, decode_header, encode, Algorithm, Header, Validation};

use crate::app_keys;
use crate::apps::{self, AppRow};
use crate::audit::Event;
use crate::db::StoreError;
use crate::ephemeral::Budget;
use crate::error::{Error, ErrorCode};
use crate::grants::{self, Grants};
use crate::limits::Rate;
use crate::model::EventKind;
use crate::signing_keys::Alg;
use crate::tokens::{random_token, token_hash};
use crate::{now, Auth, ClientInfo};

/// The `typ` of an app's access token (RFC 9068).
const ACCESS_TYP: &str = "at+jwt";
/// How long a code may wait to be redeemed.
const CODE_TTL: i64 = 60;
/// Codes one user may be given a minute: more than any person signs in
/// to apps, few enough that a script on a signed-in session cannot fill
/// the codes table.
const CODES_PER_USER: Rate = Rate::per_minute(30);
/// Requests with wrong app credentials one address (an IPv6 /64) may make
/// in a window before each further one waits, 1 s and doubling. Only
/// `invalid_client` counts: a spent or expired code or refresh token is an
/// app's everyday answer (and 256 random bits cannot be guessed), and
/// anyone could make an app's server collect those.
const TOKEN_FREE_FAILURES: u64 = 60;
const TOKEN_FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
const TOKEN_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
/// How long a parked authorization (while the user signs in or decides)
/// stays good.
const PARKED_TTL: i64 = 15 * 60;
/// What a parked authorization is sealed for.
const PARKED_SEAL: &str = "oidc authorization";

/// The authorization request's parameters, as the app sent them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
}

/// A checked authorization request: the app and redirect URI match, and
/// everything else is acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub client_id: String,
    pub app_name: String,
    pub logo_url: Option<String>,
    pub first_party: bool,
    /// A confidential app proves itself at the token endpoint; a public
    /// one cannot, so its users are asked every time (RFC 8252 §8.6).
    pub confidential: bool,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// `none` or `consent` (`login` became `not_before`).
    pub prompt: Option<String>,
    /// A sign-in older than this is not good enough (`prompt=login`: the
    /// request's time; `max_age`: that long before it).
    pub not_before: Option<i64>,
}

/// Why an authorization request goes no further.
#[derive(Debug)]
pub enum Refusal {
    /// No app has the `client_id` (or none was sent): said on Latchkey's
    /// own page, since nothing may be sent to an unverified address.
    UnknownApp,
    /// The `redirect_uri` is missing or not one the app registered: said
    /// on Latchkey's own page too.
    BadRedirectUri,
    /// The store failed.
    Failed(Error),
    /// The app's redirect URI with `error` (RFC 6749 §4.1.2.1).
    Redirect(String),
}

/// What the browser does next with an authorization.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Sign in (`again`: although signed in, as `prompt=login` or an
    /// exceeded `max_age` asks).
    SignIn { again: bool },
    /// Ask the user whether the app may have what it asked for.
    Consent,
    /// Back to the app, with a code or an error.
    Redirect(String),
}

/// An OAuth error of the token, userinfo, revocation or introspection
/// endpoints (RFC 6749 §5.2, RFC 6750 §3.1).
#[derive(Debug)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    /// 400, or 401 for `invalid_client` and `invalid_token`.
    pub status: u16,
    /// Seconds to wait, when too many requests failed (status 429).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" | "invalid_token" => 401,
            "insufficient_scope" => 403,
            "server_error" => 500,
            "temporarily_unavailable" => 503,
            _ => 400,
        };
        Self {
            error,
            description: description.into(),
            status,
            retry_after: None,
        }
    }

    /// Too many failed requests from one address: 429 with the wait.
    fn throttled(wait: std::time::Duration) -> Self {
        Self {
            status: 429,
            retry_after: Some(wait.as_secs().max(1)),
            ..Self::new(
                "temporarily_unavailable",
                "Too many failed requests; try again later.",
            )
        }
    }
}

impl From<Error> for OAuthError {
    fn from(err: Error) -> Self {
        match err.code {
            ErrorCode::Unavailable | ErrorCode::RateLimited => {
                Self::new("temporarily_unavailable", "Try again shortly.")
            }
            // Text the database cannot hold (a NUL in a client_id, on
            // PostgreSQL): the request's fault, not ours.
            ErrorCode::InvalidInput | ErrorCode::BadRequest => {
                Self::new("invalid_request", "The request is malformed.")
            }
            _ => {
                tracing::error!(cause = ?err.cause, code = ?err.code, "oidc: failed");
                Self::new("server_error", "The request could not be completed.")
            }
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        Error::from(err).into()
    }
}

/// How the app proved who it is at the token endpoint.
#[derive(Debug, Clone, Default)]
pub struct AppCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Sent in an `Authorization: Basic` header (`invalid_client` then
    /// answers 401 with `WWW-Authenticate`).
    pub basic: bool,
    /// `private_key_jwt`: `client_assertion_type` and `client_assertion`.
    pub assertion: Option<(String, String)>,
}

/// The one `client_assertion_type` there is (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The token endpoint's form.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenParams {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    pub grant_type: Option<String>,
    /// `authorization_code`: the code from the redirect.
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI the code was sent to.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier (RFC 7636).
    pub code_verifier: Option<String>,
    /// `refresh_token`: the token to rotate.
    pub refresh_token: Option<String>,
    /// `refresh_token`, `client_credentials`: fewer scopes than granted.
    pub scope: Option<String>,
    /// With `client_secret_post` or a public app (else in `Authorization: Basic`).
    pub client_id: Option<String>,
    /// With `client_secret_post`.
    pub client_secret: Option<String>,
    /// With `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// With `private_key_jwt`: a JWT the app signed (`iss` = `sub` = its
    /// `client_id`, `aud` = the issuer or this endpoint, a `jti`, at most
    /// 10 minutes to `exp`), good once.
    pub client_assertion: Option<String>,
}

/// The token endpoint's answer (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenSet {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An access token Latchkey issued to an app.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AppAccessClaims {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    /// The grant it belongs to (revoking the grant ends it at `userinfo`
    /// and introspection; elsewhere it expires within minutes).
    gid: String,
    iat: i64,
    exp: i64,
    jti: String,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    user_id: String,
    session_id: String,
    redirect_uri: String,
    scopes: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    method: String,
    expires_at: i64,
    used_at: Option<i64>,
    grant_id: Option<String>,
}

/// Whether the admin's first-party mark spares the user the consent
/// screen. Not for a public app sending the code to a loopback address:
/// any program on the user's machine can listen there and claim to be it,
/// so the user is asked (RFC 8252 §8.6).
fn skips_consent(a: &Authorization) -> bool {
    let loopback = url::Url::parse(&a.redirect_uri).is_ok_and(|url| apps::is_loopback(&url));
    a.first_party && (a.confidential || !loopback)
}

/// When and how a session was signed in.
#[derive(sqlx::FromRow)]
struct SignIn {
    created_at: i64,
    method: String,
}

/// What a sign-in `method` proved, as RFC 8176 `amr` values, and the
/// `acr` that follows (`"1"`: one factor, `"2"`: two, as Keycloak counts):
/// nothing for a session from before methods were recorded.
fn amr_acr(method: &str) -> Option<(Vec<&'static str>, &'static str)> {
    let mut amr: Vec<&'static str> = Vec::new();
    for part in method.split('+') {
        let value = match part {
            "password" | "signup" => "pwd",
            // Emailed codes and links (a reset proves the mailbox, not a
            // password), authenticator-app codes and recovery codes.
            "code" | "reset" | "totp" | "recovery" => "otp",
            // A passkey proves possession of a key.
            "passkey" => "pop",
            _ => return None,
        };
        if !amr.contains(&value) {
            amr.push(value);
        }
    }
    let factors = method.split('+').count();
    if factors > 1 {
        amr.push("mfa");
    }
    Some((amr, if factors > 1 { "2" } else { "1" }))
}

/// An app and what the user let it have (`Oidc::connected`).
#[derive(sqlx::FromRow)]
struct ConnectedRow {
    id: String,
    name: String,
    logo_url: Option<String>,
    scopes: String,
    since: i64,
    /// 1 for a live grant, 0 for a remembered consent.
    live: i64,
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: String,
    client_id: String,
    user_id: Option<String>,
    scopes: String,
    expires_at: i64,
    revoked_at: Option<i64>,
}

fn scopes_of(scope: Option<&str>) -> Vec<String> {
    let mut scopes: Vec<String> = scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The app's redirect URI with `pairs` added to its query.
fn redirect(uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (key, value) in pairs {
                    if let Some(value) = value {
                        query.append_pair(key, value);
                    }
                }
            }
            url.into()
        }
        // Registered URIs were checked when registered.
        Err(_) => uri.to_owned(),
    }
}

/// PKCE S256 (RFC 7636 §4.6).
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A PKCE value: 43 to 128 of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
fn pkce_shaped(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl crate::Oidc<'_> {
    /// Checks an authorization request (OIDC Core §3.1.2.1–2).
    pub async fn authorization(&self, p: &AuthorizeParams) -> Result<Authorization, Refusal> {
        let client_id = p.client_id.as_deref().ok_or(Refusal::UnknownApp)?;
        let app = apps::by_id(&self.db, client_id)
            .await
            .map_err(|err| match err.code {
                // A client_id the database cannot hold names no app.
                ErrorCode::InvalidInput => Refusal::UnknownApp,
                _ => Refusal::Failed(err),
            })?
            .ok_or(Refusal::UnknownApp)?;
        let redirect_uri = p.redirect_uri.as_deref().ok_or(Refusal::BadRedirectUri)?;
        if !app.redirects_to(redirect_uri) {
            return Err(Refusal::BadRedirectUri);
        }
        let refuse = |error: &str, description: &str| {
            Refusal::Redirect(redirect(
                redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description)),
                    ("state", p.state.as_deref()),
                    ("iss", Some(&self.config.issuer)),
                ],
            ))
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(refuse(
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ));
        }
        if !app.allows_grant("authorization_code") {
            return Err(refuse(
                "unauthorized_client",
                "This app may not use the authorization code flow.",
            ));
        }
        let scopes = scopes_of(p.scope.as_deref());
        if scopes.is_empty() || scopes.iter().any(|s| !app.allows_scope(s)) {
            return Err(refuse(
                "invalid_scope",
                "Ask for scopes the app is registered for.",
            ));
        }
        let code_challenge = match (&p.code_challenge, p.code_challenge_method.as_deref()) {
            (None, _) if !app.confidential() => {
                return Err(refuse(
                    "invalid_request",
                    "A public app must send a PKCE code_challenge (S256).",
                ))
            }
            (None, _) if p.nonce.is_none() => {
                return Err(refuse(
                    "invalid_request",
                    "Send a PKCE code_challenge (S256), or for OpenID Connect a nonce.",
                ))
            }
            (None, _) => None,
            (Some(challenge), Some("S256")) if pkce_shaped(challenge) => Some(challenge.clone()),
            (Some(_), Some("S256")) => {
                return Err(refuse("invalid_request", "code_challenge is malformed."))
            }
            (Some(_), _) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge_method must be S256.",
                ))
            }
        };
        let now = now();
        let (prompt, mut not_before) = match p.prompt.as_deref() {
            None | Some("") => (None, None),
            Some("login") => (None, Some(now)),
            Some(value @ ("none" | "consent")) => (Some(value.to_owned()), None),
            Some(_) => {
                return Err(refuse(
                    "invalid_request",
                    "prompt must be none, login or consent.",
                ))
            }
        };
        if let Some(raw) = p.max_age.as_deref() {
            let max_age = raw
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| refuse("invalid_request", "max_age must be whole seconds."))?;
            not_before = not_before.max(Some(now - max_age));
        }
        if p.nonce.as_ref().is_some_and(|n| n.len() > 512)
            || p.state.as_ref().is_some_and(|s| s.len() > 1024)
        {
            return Err(refuse("invalid_request", "nonce or state is too long."));
        }
        Ok(Authorization {
            client_id: app.id.clone(),
            app_name: app.name.clone(),
            logo_url: app.logo_url.clone(),
            first_party: app.first_party(),
            confidential: app.confidential(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: p.state.clone(),
            nonce: p.nonce.clone(),
            code_challenge,
            prompt,
            not_before,
        })
    }

    /// What happens next for `auth` (signed in or not): sign in, consent,
    /// or back to the app (with a code once nothing more is needed).
    pub async fn step(&self, auth: Option<&Auth>, a: &Authorization) -> Result<Step, Error> {
        let a = &match self.current(a).await? {
            Ok(current) => current,
            Err(refused) => return Ok(Step::Redirect(refused)),
        };
        let none = a.prompt.as_deref() == Some("none");
        let Some(auth) = auth else {
            return Ok(match none {
                true => Step::Redirect(self.refused(a, "login_required")),
                false => Step::SignIn { again: false },
            });
        };
        let sign_in = self.sign_in(&auth.session_id).await?;
        let stale = a.not_before.is_some_and(|at| sign_in.created_at < at);
        if stale {
            return Ok(match none {
                true => Step::Redirect(self.refused(a, "login_required")),
                false => Step::SignIn { again: true },
            });
        }
        let asked = a.prompt.as_deref() == Some("consent");
        let remembered = a.confidential && self.consented(&auth.user.id, a).await?;
        if !skips_consent(a) && (asked || !remembered) {
            return Ok(match none {
                true => Step::Redirect(self.refused(a, "consent_required")),
                false => Step::Consent,
            });
        }
        Ok(Step::Redirect(self.issue_code(auth, a, &sign_in).await?))
    }

    /// The user's answer on the consent screen: a code (and the consent
    /// remembered), or `access_denied`.
    pub async fn decide(
        &self,
        auth: &Auth,
        a: &Authorization,
        allow: bool,
    ) -> Result<String, Error> {
        let a = &match self.current(a).await? {
            Ok(current) => current,
            Err(refused) => return Ok(refused),
        };
        if !allow {
            return Ok(self.refused(a, "access_denied"));
        }
        let now = now();
        sqlx::query(
            "INSERT INTO oauth_consents (user_id, client_id, scopes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = $3, updated_at = $4",
        )
        .bind(&auth.user.id)
        .bind(&a.client_id)
        .bind(a.scopes.join(" "))
        .bind(now)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let sign_in = self.sign_in(&auth.session_id).await?;
        self.issue_code(auth, a, &sign_in).await
    }

    /// An authorization, sealed to wait while the user signs in or decides
    /// (in a cookie or a form field: nothing is kept on the server).
    pub fn park(&self, a: &Authorization) -> String {
        let plain = json!({ "until": now() + PARKED_TTL, "a": a }).to_string();
        self.tokens.seal(PARKED_SEAL, plain.as_bytes())
    }

    /// A parked authorization, if it is one of ours and still good.
    pub fn unpark(&self, sealed: &str) -> Option<Authorization> {
        let plain = self.tokens.open(PARKED_SEAL, sealed)?;
        let value: Value = serde_json::from_slice(&plain).ok()?;
        value["until"].as_i64().filter(|until| *until > now())?;
        serde_json::from_value(value["a"].clone()).ok()
    }

    /// A parked authorization against the app as registered now (it may
    /// have changed or gone in the minutes the request waited): `Err` is
    /// where to send the browser instead.
    async fn current(&self, a: &Authorization) -> Result<Result<Authorization, String>, Error> {
        let app = apps::by_id(&self.db, &a.client_id).await?;
        let Some(app) = app.filter(|app| app.redirects_to(&a.redirect_uri)) else {
            return Ok(Err("/oauth/problem?why=unknown_app".to_owned()));
        };
        if a.scopes.iter().any(|s| !app.allows_scope(s)) {
            return Ok(Err(self.refused(a, "invalid_scope")));
        }
        Ok(Ok(Authorization {
            app_name: app.name.clone(),
            logo_url: app.logo_url.clone(),
            first_party: app.first_party(),
            confidential: app.confidential(),
            ..a.clone()
        }))
    }

    fn refused(&self, a: &Authorization, error: &str) -> String {
        redirect(
            &a.redirect_uri,
            &[
                ("error", Some(error)),
                ("state", a.state.as_deref()),
                ("iss", Some(&self.config.issuer)),
            ],
        )
    }

    async fn sign_in(&self, session_id: &str) -> Result<SignIn, Error> {
        let found: Option<SignIn> =
            sqlx::query_as("SELECT created_at, method FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(StoreError::from)?;
        Ok(found.unwrap_or(SignIn {
            created_at: 0,
            method: String::new(),
        }))
    }

    async fn consented(&self, user_id: &str, a: &Authorization) -> Result<bool, Error> {
        let scopes: Option<String> = sqlx::query_scalar(
            "SELECT scopes FROM oauth_consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(&a.client_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(scopes.is_some_and(|allowed| {
            let allowed: Vec<&str> = allowed.split(' ').collect();
            a.scopes.iter().all(|s| allowed.contains(&s.as_str()))
        }))
    }

    async fn issue_code(
        &self,
        auth: &Auth,
        a: &Authorization,
        sign_in: &SignIn,
    ) -> Result<String, Error> {
        match self
            .limit(&format!("rl:oauth-code:{}", auth.user.id), CODES_PER_USER)
            .await
        {
            Err(err) if err.code == ErrorCode::RateLimited => {
                return Ok(self.refused(a, "temporarily_unavailable"))
            }
            other => other?,
        }
        let code = random_token();
        let now = now();
        self.prune(now).await?;
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, session_id, redirect_uri, scopes, \
             nonce, code_challenge, auth_time, method, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(token_hash(&code))
        .bind(&a.client_id)
        .bind(&auth.user.id)
        .bind(&auth.session_id)
        .bind(&a.redirect_uri)
        .bind(a.scopes.join(" "))
        .bind(&a.nonce)
        .bind(&a.code_challenge)
        .bind(sign_in.created_at)
        .bind(&sign_in.method)
        .bind(now + CODE_TTL)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(redirect(
            &a.redirect_uri,
            &[
                ("code", Some(&code)),
                ("state", a.state.as_deref()),
                ("iss", Some(&self.config.issuer)),
            ],
        ))
    }
}

impl crate::Oidc<'_> {
    /// The token endpoint (RFC 6749 §3.2): `authorization_code` (with
    /// PKCE), `refresh_token` (rotated, reuse revokes the grant) and
    /// `client_credentials`.
    pub async fn token(
        &self,
        credentials: &AppCredentials,
        p: &TokenParams,
        client: &ClientInfo,
    ) -> Result<TokenSet, OAuthError> {
        // Failures are counted after the fact, so requests in flight never
        // hold the budget: a burst of wrong ones overshoots by at most what
        // is in flight (each costs one lookup and one hash).
        let budget = client.limit_key().map(|key| Budget {
            key: format!("oauth-token:{key}"),
            free: TOKEN_FREE_FAILURES,
        });
        if let Some(budget) = &budget {
            if let Some(wait) = self.ephemeral.remaining(&budget.lock()).await? {
                return Err(OAuthError::throttled(wait));
            }
        }
        let answer = self.exchange(credentials, p, client).await;
        if let (Some(budget), Err(err)) = (&budget, &answer) {
            if err.error == "invalid_client" {
                let counted = self
                    .ephemeral
                    .attempt(
                        std::slice::from_ref(budget),
                        TOKEN_FAILURE_WINDOW,
                        TOKEN_MAX_WAIT,
                    )
                    .await;
                if let Err(err) = counted {
                    tracing::warn!(%err, "oidc: a failed token request went uncounted");
                }
            }
        }
        answer
    }

    async fn exchange(
        &self,
        credentials: &AppCredentials,
        p: &TokenParams,
        client: &ClientInfo,
    ) -> Result<TokenSet, OAuthError> {
        let app = self.authenticate_app(credentials).await?;
        let grant_type = p.grant_type.as_deref().unwrap_or_default();
        if !apps::GRANT_TYPES.contains(&grant_type) {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "Use authorization_code, refresh_token or client_credentials.",
            ));
        }
        if !app.allows_grant(grant_type) {
            return Err(OAuthError::new(
                "unauthorized_client",
                format!("This app may not use {grant_type}."),
            ));
        }
        match grant_type {
            "authorization_code" => self.redeem_code(&app, p, client).await,
            "refresh_token" => self.refresh(&app, p).await,
            _ => self.client_credentials(&app, p).await,
        }
    }

    async fn authenticate_app(&self, c: &AppCredentials) -> Result<AppRow, OAuthError> {
        let refused = || {
            OAuthError::new(
                "invalid_client",
                "The app is unknown or its credentials are wrong.",
            )
        };
        if let Some((kind, assertion)) = &c.assertion {
            return self
                .authenticate_assertion(c, kind, assertion)
                .await?
                .ok_or_else(refused);
        }
        let id = c.client_id.as_deref().ok_or_else(refused)?;
        let app = apps::by_id(&self.db, id).await?.ok_or_else(refused)?;
        match (&c.client_secret, app.confidential()) {
            (Some(secret), true) if app.secret_matches(secret) => Ok(app),
            (None, false) => Ok(app),
            _ => Err(refused()),
        }
    }

    /// `private_key_jwt`: the app whose keys signed `assertion`, if it is
    /// valid and its `jti` was never seen (remembered until it expires).
    async fn authenticate_assertion(
        &self,
        c: &AppCredentials,
        kind: &str,
        assertion: &str,
    ) -> Result<Option<AppRow>, OAuthError> {
        let Some(id) = app_keys::claimed_app(assertion) else {
            return Ok(None);
        };
        let one_way = c.client_secret.is_none() && !c.basic;
        if kind != JWT_BEARER || !one_way || c.client_id.as_ref().is_some_and(|given| *given != id)
        {
            return Ok(None);
        }
        let Some(app) = apps::by_id(&self.db, &id).await? else {
            return Ok(None);
        };
        let Some(keys) = app.keys() else {
            return Ok(None);
        };
        let now = now();
        let Some(claims) = app_keys::verify(&keys, &app.id, &self.config.issuer, assertion, now)
        else {
            return Ok(None);
        };
        let seen = format!(
            "oauth-jti:{}",
            token_hash(&format!("{}:{}", app.id, claims.jti))
        );
        let until = std::time::Duration::from_secs((claims.exp - now).max(0) as u64 + 60);
        if self.ephemeral.cooldown(&seen, until).await?.is_some() {
            return Ok(None);
        }
        Ok(Some(app))
    }

    async fn redeem_code(
        &self,
        app: &AppRow,
        p: &TokenParams,
        client: &ClientInfo,
    ) -> Result<TokenSet, OAuthError> {
        let invalid = |why: &str| OAuthError::new("invalid_grant", why);
        let code = p
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::new("invalid_request", "code is missing."))?;
        let hash = token_hash(code);
        let now = now();
        const SELECT: &str = "SELECT client_id, user_id, session_id, redirect_uri, scopes, nonce, \
             code_challenge, auth_time, method, expires_at, used_at, grant_id FROM oauth_codes WHERE code_hash = $1";
        // Looked up first without the write lock (SQLite has one): made-up
        // codes cost a read, not a turn at writing.
        let known: Option<CodeRow> = sqlx::query_as(SELECT)
            .bind(&hash)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        if known.is_none_or(|r| r.client_id != app.id) {
            return Err(invalid("The code is unknown, or was made for another app."));
        }
        // Inside, every read goes through the transaction: it holds the
        // lock and a connection, and must not wait for another.
        let mut tx = self.db.begin().await?;
        let row: Option<CodeRow> = sqlx::query_as(SELECT)
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(invalid("The code is unknown, or was made for another app."));
        };
        // Taken once: of racing redemptions, one wins; a later one means
        // the code leaked, and what the first one got is revoked.
        let claimed = sqlx::query(
            "UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
            == 1;
        if !claimed || row.used_at.is_some() {
            tx.rollback().await.map_err(StoreError::from)?;
            let grant_id: Option<String> =
                sqlx::query_scalar("SELECT grant_id FROM oauth_codes WHERE code_hash = $1")
                    .bind(&hash)
                    .fetch_optional(&self.db.pool)
                    .await
                    .map_err(StoreError::from)?
                    .flatten();
            if let Some(grant_id) = grant_id.or(row.grant_id) {
                tracing::warn!(client_id = %app.id, "authorization code reused: revoking its grant");
                self.revoke_grant(&grant_id).await?;
            }
            return Err(invalid("The code was already used."));
        }
        // From here a refused redemption still spends the code: a stolen
        // code gets one try at the verifier or redirect URI.
        let refusal = if row.expires_at <= now {
            Some("The code has expired.")
        } else if p.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
            Some("redirect_uri differs from the authorization request's.")
        } else {
            match (&row.code_challenge, p.code_verifier.as_deref()) {
                (Some(challenge), Some(verifier))
                    if pkce_shaped(verifier) && s256(verifier) == *challenge =>
                {
                    None
                }
                (None, None) => None,
                _ => Some("The PKCE code_verifier does not match the code_challenge."),
            }
        };
        let user: Option<crate::user_store::UserRow> = match refusal {
            Some(_) => None,
            None => sqlx::query_as(&format!(
                "SELECT {} FROM users u WHERE u.id = $1",
                crate::user_store::COLUMNS
            ))
            .bind(&row.user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?,
        };
        let user = user.filter(|u| !u.is_disabled());
        let Some(user) = user else {
            tx.commit().await.map_err(StoreError::from)?;
            return Err(invalid(
                refusal.unwrap_or("The account is disabled or gone."),
            ));
        };
        let scopes: Vec<String> = scopes_of(Some(&row.scopes));
        let offline =
            scopes.iter().any(|s| s == "offline_access") && app.allows_grant("refresh_token");
        let grant_id = uuid::Uuid::new_v4().to_string();
        let grant_expires = now
            + match offline {
                true => self.config.refresh_ttl.as_secs() as i64,
                false => self.config.access_ttl.as_secs() as i64,
            };
        sqlx::query(
            "INSERT INTO oauth_grants (id, client_id, user_id, session_id, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&grant_id)
        .bind(&app.id)
        .bind(&user.id)
        .bind(&row.session_id)
        .bind(scopes.join(" "))
        .bind(now)
        .bind(grant_expires)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        sqlx::query("UPDATE oauth_codes SET grant_id = $1 WHERE code_hash = $2")
            .bind(&grant_id)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let refresh_token = match offline {
            true => {
                let token = random_token();
                insert_refresh(&mut tx, &token, &grant_id, now, grant_expires).await?;
                Some(token)
            }
            false => None,
        };
        let event = Event::new(EventKind::AppAuthorized, client)
            .user(&user.id)
            .detail(&app.name);
        self.record_in(&mut tx, event).await?;
        tx.commit().await.map_err(StoreError::from)?;

        let access_token = self
            .access_token(app, &user.id, &scopes, &grant_id, now)
            .await?;
        let id_token = match scopes.iter().any(|s| s == "openid") {
            true => {
                let mut claims = json!({
                    "iss": self.config.issuer,
                    "sub": user.id,
                    "aud": app.id,
                    "iat": now,
                    "exp": now + self.config.access_ttl.as_secs() as i64,
                    "auth_time": row.auth_time,
                    "sid": row.session_id,
                });
                if let Some(nonce) = &row.nonce {
                    claims["nonce"] = json!(nonce);
                }
                if let Some((amr, acr)) = amr_acr(&row.method) {
                    claims["amr"] = json!(amr);
                    claims["acr"] = json!(acr);
                }
                user_claims(&mut claims, &user, &scopes);
                Some(self.sign(app.id_token_alg(), "JWT", &claims).await?)
            }
            false => None,
        };
        Ok(TokenSet {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_ttl.as_secs() as i64,
            scope: scopes.join(" "),
            id_token,
            refresh_token,
        })
    }

    async fn refresh(&self, app: &AppRow, p: &TokenParams) -> Result<TokenSet, OAuthError> {
        let invalid = || OAuthError::new("invalid_grant", "The refresh token is not valid.");
        let token = p
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is missing."))?;
        let hash = token_hash(token);
        let now = now();
        let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT grant_id, expires_at, rotated_at FROM oauth_refresh_tokens WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let (grant_id, expires_at, rotated_at) = row.ok_or_else(invalid)?;
        let grant = self
            .grant(&grant_id)
            .await?
            .filter(|g| {
                g.client_id == app.id
                    && g.revoked_at.is_none()
                    && g.expires_at > now
                    && expires_at > now
            })
            .ok_or_else(invalid)?;
        let claimed = rotated_at.is_none()
            && sqlx::query("UPDATE oauth_refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL")
                .bind(now)
                .bind(&hash)
                .execute(&self.db.pool)
                .await
                .map_err(StoreError::from)?
                .rows_affected()
                == 1;
        if !claimed {
            let rotated_at: Option<i64> = sqlx::query_scalar(
                "SELECT rotated_at FROM oauth_refresh_tokens WHERE token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(StoreError::from)?
            .flatten();
            // A racing repeat (two tabs) within the grace gets the same
            // successor; a later reuse means the token was stolen.
            if now - rotated_at.unwrap_or(now) > self.config.refresh_grace.as_secs() as i64 {
                tracing::warn!(client_id = %app.id, "app refresh token reused: revoking its grant");
                self.revoke_grant(&grant.id).await?;
                return Err(invalid());
            }
        }
        // Checked after the token is taken, so a replayed one always meets
        // the reuse check. What the app may still ask for bounds it too.
        let granted: Vec<&str> = grant
            .scopes
            .split(' ')
            .filter(|s| app.allows_scope(s))
            .collect();
        let requested = match p.scope.as_deref() {
            None => granted.iter().map(|s| s.to_string()).collect(),
            Some(scope) => scopes_of(Some(scope)),
        };
        if requested.is_empty() || requested.iter().any(|s| !granted.contains(&s.as_str())) {
            return Err(OAuthError::new(
                "invalid_scope",
                "A refresh may narrow the scopes, never widen them.",
            ));
        }
        let user_id = grant.user_id.clone().ok_or_else(invalid)?;
        let user = crate::user_store::by_id(&self.db, &user_id)
            .await?
            .filter(|u| !u.is_disabled())
            .ok_or_else(invalid)?;
        let successor = self.tokens.refresh_successor(token);
        let mut tx = self.db.begin().await?;
        insert_refresh(&mut tx, &successor, &grant.id, now, grant.expires_at).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let access_token = self
            .access_token(app, &user.id, &requested, &grant.id, now)
            .await?;
        Ok(TokenSet {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_ttl.as_secs() as i64,
            scope: requested.join(" "),
            id_token: None,
            refresh_token: Some(successor),
        })
    }

    async fn client_credentials(
        &self,
        app: &AppRow,
        p: &TokenParams,
    ) -> Result<TokenSet, OAuthError> {
        // The app acts for itself: no user, so no user scopes.
        let scopes = scopes_of(p.scope.as_deref());
        if !scopes.is_empty() {
            return Err(OAuthError::new(
                "invalid_scope",
                "client_credentials carries no user scopes; send none.",
            ));
        }
        let now = now();
        self.prune(now).await?;
        let grant_id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO oauth_grants (id, client_id, user_id, session_id, scopes, created_at, expires_at) \
             VALUES ($1, $2, NULL, NULL, '', $3, $4)",
        )
        .bind(&grant_id)
        .bind(&app.id)
        .bind(now)
        .bind(now + self.config.access_ttl.as_secs() as i64)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let access_token = self.access_token(app, &app.id, &[], &grant_id, now).await?;
        Ok(TokenSet {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_ttl.as_secs() as i64,
            scope: String::new(),
            id_token: None,
            refresh_token: None,
        })
    }

    async fn access_token(
        &self,
        app: &AppRow,
        sub: &str,
        scopes: &[String],
        grant_id: &str,
        now: i64,
    ) -> Result<String, OAuthError> {
        let claims = AppAccessClaims {
            iss: self.config.issuer.clone(),
            sub: sub.to_owned(),
            aud: app.id.clone(),
            client_id: app.id.clone(),
            scope: scopes.join(" "),
            gid: grant_id.to_owned(),
            iat: now,
            exp: now + self.config.access_ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let claims = serde_json::to_value(&claims).map_err(|e| Error::internal().caused_by(e))?;
        self.sign(Alg::EdDSA, ACCESS_TYP, &claims).await
    }

    /// Signs `claims`; `typ` tells an access token (`at+jwt`, RFC 9068)
    /// from an ID token (`JWT`), so neither passes for the other.
    async fn sign(&self, alg: Alg, typ: &str, claims: &Value) -> Result<String, OAuthError> {
        let key = self.keys.signer(alg).await?;
        let mut header = Header::new(alg.jwt());
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid.clone());
        let signing = key
            .encoding
            .as_ref()
            .expect("a signer has its private part");
        Ok(encode(&header, claims, signing).map_err(|e| Error::internal().caused_by(e))?)
    }

    async fn grant(&self, id: &str) -> Result<Option<GrantRow>, OAuthError> {
        Ok(sqlx::query_as(
            "SELECT id, client_id, user_id, scopes, expires_at, revoked_at FROM oauth_grants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?)
    }

    /// Ends a grant: its refresh tokens stop at once, its access tokens at
    /// `userinfo` and introspection.
    async fn revoke_grant(&self, id: &str) -> Result<(), OAuthError> {
        let mut tx = self.db.begin().await?;
        grants::end_in(&mut tx, Grants::One(id), now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

impl crate::Oidc<'_> {
    /// `userinfo` (OIDC Core §5.3): the user's claims the access token's
    /// scopes allow, while its grant stands and the account is enabled.
    pub async fn userinfo(&self, access_token: &str) -> Result<Value, OAuthError> {
        let refused = || OAuthError::new("invalid_token", "The access token is not valid.");
        let claims = self
            .verify_app_token(access_token)
            .await?
            .ok_or_else(refused)?;
        let scopes = scopes_of(Some(&claims.scope));
        if !scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::new(
                "insufficient_scope",
                "userinfo needs the openid scope.",
            ));
        }
        let user = crate::user_store::by_id(&self.db, &claims.sub)
            .await?
            .filter(|u| !u.is_disabled())
            .ok_or_else(refused)?;
        let mut info = json!({ "sub": user.id });
        user_claims(&mut info, &user, &scopes);
        Ok(info)
    }

    /// A Latchkey access token for an app, checked: signature, issuer,
    /// expiry, and its grant still standing.
    async fn verify_app_token(&self, token: &str) -> Result<Option<AppAccessClaims>, OAuthError> {
        let Some(claims) = self.decode_app_token(token, true).await? else {
            return Ok(None);
        };
        let standing = self.grant(&claims.gid).await?.is_some_and(|g| {
            g.client_id == claims.client_id && g.revoked_at.is_none() && g.expires_at > now()
        });
        Ok(standing.then_some(claims))
    }

    /// The claims of an app access token (`typ at+jwt`, EdDSA) whose
    /// signature and issuer check out, and its expiry if `live`.
    async fn decode_app_token(
        &self,
        token: &str,
        live: bool,
    ) -> Result<Option<AppAccessClaims>, OAuthError> {
        let Ok(header) = decode_header(token) else {
            return Ok(None);
        };
        if header.typ.as_deref() != Some(ACCESS_TYP) {
            return Ok(None);
        }
        let (Algorithm::EdDSA, Some(kid)) = (header.alg, header.kid) else {
            return Ok(None);
        };
        let Some(key) = self.keys.verifier(&kid).await? else {
            return Ok(None);
        };
        if key.alg != Alg::EdDSA {
            return Ok(None);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.config.issuer]);
        validation.validate_aud = false;
        validation.validate_exp = live;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Ok(decode::<AppAccessClaims>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
            .filter(|claims| claims.aud == claims.client_id))
    }
}

impl crate::Oidc<'_> {
    /// RFC 7009: ends the grant an access or refresh token of this app
    /// belongs to. A token that is unknown, dead or another app's changes
    /// nothing and gets the same answer.
    pub async fn revoke(
        &self,
        credentials: &AppCredentials,
        token: &str,
    ) -> Result<(), OAuthError> {
        let app = self.authenticate_app(credentials).await?;
        if let Some(grant) = self.grant_of(token).await? {
            if grant.client_id == app.id && grant.revoked_at.is_none() {
                self.revoke_grant(&grant.id).await?;
            }
        }
        Ok(())
    }

    /// RFC 7662, for confidential apps (resource servers): whether a token
    /// is live, and what it carries.
    pub async fn introspect(
        &self,
        credentials: &AppCredentials,
        token: &str,
    ) -> Result<Value, OAuthError> {
        let app = self.authenticate_app(credentials).await?;
        if !app.confidential() {
            return Err(OAuthError::new(
                "invalid_client",
                "Only a confidential app (with a secret or keys) may introspect tokens.",
            ));
        }
        if let Some(c) = self.verify_app_token(token).await? {
            return Ok(json!({
                "active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id,
                "sub": c.sub, "aud": c.aud, "iss": c.iss, "exp": c.exp, "iat": c.iat, "jti": c.jti,
            }));
        }
        let now = now();
        if let Some((grant, expires_at, rotated_at)) = self.refresh_row(token).await? {
            let live = grant.revoked_at.is_none()
                && grant.expires_at > now
                && expires_at > now
                && rotated_at.is_none();
            if live {
                return Ok(json!({
                    "active": true, "token_type": "refresh_token", "scope": grant.scopes,
                    "client_id": grant.client_id, "sub": grant.user_id, "exp": expires_at,
                    "iss": self.config.issuer,
                }));
            }
        }
        Ok(json!({ "active": false }))
    }

    /// RP-initiated logout: the session and app an ID token Latchkey issued
    /// names (`sid`, `aud`), whatever its age (OIDC RP-Initiated Logout
    /// 1.0 §2: an expired hint still identifies).
    pub async fn logout_hint(&self, id_token: &str) -> Result<Option<(String, String)>, Error> {
        let Ok(header) = decode_header(id_token) else {
            return Ok(None);
        };
        let Some(kid) = header
            .kid
            .filter(|_| header.typ.as_deref() != Some(ACCESS_TYP))
        else {
            return Ok(None);
        };
        let Some(key) = self.keys.verifier(&kid).await? else {
            return Ok(None);
        };
        if key.alg.jwt() != header.alg {
            return Ok(None);
        }
        let mut validation = Validation::new(key.alg.jwt());
        validation.set_issuer(&[&self.config.issuer]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        let Ok(data) = decode::<Value>(id_token, &key.decoding, &validation) else {
            return Ok(None);
        };
        let claims = data.claims;
        match (claims["sid"].as_str(), claims["aud"].as_str()) {
            (Some(sid), Some(aud)) => Ok(Some((sid.to_owned(), aud.to_owned()))),
            _ => Ok(None),
        }
    }

    /// Where a signed-out user may be sent for the app `client_id`: the
    /// address only if the app registered it, with `state`.
    pub async fn after_logout(
        &self,
        client_id: &str,
        uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let Some(uri) = uri else {
            return Ok(None);
        };
        let app = apps::by_id(&self.db, client_id).await?;
        Ok(app
            .filter(|app| app.signs_out_to(uri))
            .map(|_| redirect(uri, &[("state", state)])))
    }

    /// The grant of an app access token (signature checked, standing or
    /// not) or of a refresh token.
    async fn grant_of(&self, token: &str) -> Result<Option<GrantRow>, OAuthError> {
        if let Some(gid) = self.app_token_grant(token).await? {
            return self.grant(&gid).await;
        }
        Ok(self.refresh_row(token).await?.map(|(grant, _, _)| grant))
    }

    async fn refresh_row(
        &self,
        token: &str,
    ) -> Result<Option<(GrantRow, i64, Option<i64>)>, OAuthError> {
        let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT grant_id, expires_at, rotated_at FROM oauth_refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        let Some((grant_id, expires_at, rotated_at)) = row else {
            return Ok(None);
        };
        Ok(self
            .grant(&grant_id)
            .await?
            .map(|g| (g, expires_at, rotated_at)))
    }

    /// `gid` of an app access token whose signature and issuer check out
    /// (expired or revoked, still: revoking it again is harmless).
    async fn app_token_grant(&self, token: &str) -> Result<Option<String>, OAuthError> {
        Ok(self.decode_app_token(token, false).await?.map(|c| c.gid))
    }
}

impl crate::Oidc<'_> {
    /// The apps `auth`'s user let in: a remembered consent or a live grant.
    pub async fn connected(&self, auth: &Auth) -> Result<Vec<crate::model::ConnectedApp>, Error> {
        let now = now();
        // Driven by this user's rows (both tables are keyed or indexed by
        // user), never by the list of every app.
        let rows: Vec<ConnectedRow> = sqlx::query_as(
            "SELECT c.id, c.name, c.logo_url, x.scopes, x.since, x.live FROM ( \
                 SELECT client_id, scopes, created_at AS since, CAST(0 AS BIGINT) AS live \
                   FROM oauth_consents WHERE user_id = $1 \
                 UNION ALL \
                 SELECT client_id, scopes, created_at, CAST(1 AS BIGINT) FROM oauth_grants \
                   WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ) x JOIN oauth_clients c ON c.id = x.client_id",
        )
        .bind(&auth.user.id)
        .bind(now)
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        // One entry per app: what it was allowed or holds, since the first.
        let mut apps: Vec<crate::model::ConnectedApp> = Vec::new();
        for row in rows {
            let scopes = scopes_of(Some(&row.scopes));
            match apps.iter_mut().find(|a| a.client_id == row.id) {
                Some(app) => {
                    app.scopes.extend(scopes);
                    app.scopes.sort();
                    app.scopes.dedup();
                    app.since = app.since.min(row.since);
                    app.active |= row.live == 1;
                }
                None => apps.push(crate::model::ConnectedApp {
                    client_id: row.id,
                    name: row.name,
                    logo_url: row.logo_url,
                    scopes,
                    since: row.since,
                    active: row.live == 1,
                }),
            }
        }
        apps.sort_by(|a, b| (&a.name, &a.client_id).cmp(&(&b.name, &b.client_id)));
        Ok(apps)
    }

    /// Takes back what the user let `client_id` have: its grants end (its
    /// refresh tokens and unspent codes at once) and the consent is
    /// forgotten. Logged. An app this user has not connected is a 404 with
    /// the same words as one that does not exist, so a user learns nothing
    /// about other apps' client ids.
    pub async fn disconnect(&self, auth: &Auth, client_id: &str) -> Result<(), Error> {
        let not_connected = || Error::of(ErrorCode::NotFound, crate::error::Reason::NoSuchApp);
        let app = apps::by_id(&self.db, client_id)
            .await?
            .ok_or_else(not_connected)?;
        let mut tx = self.db.begin().await?;
        let which = Grants::OfUserApp {
            user_id: &auth.user.id,
            client_id,
        };
        let ended = grants::end_in(&mut tx, which, now()).await?;
        let consents =
            sqlx::query("DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
                .bind(&auth.user.id)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .rows_affected();
        if ended + consents == 0 {
            return Err(not_connected());
        }
        let event = Event::new(EventKind::AppRevoked, &auth.client)
            .user(&auth.user.id)
            .detail(&app.name);
        self.record_in(&mut tx, event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Drops what can no longer be used: codes a day after they expired
    /// (long enough to catch a late reuse) and grants a day after they
    /// ended, with their refresh tokens.
    async fn prune(&self, now: i64) -> Result<(), StoreError> {
        let before = now - 24 * 3600;
        sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(before)
            .execute(&self.db.pool)
            .await?;
        sqlx::query("DELETE FROM oauth_grants WHERE expires_at < $1")
            .bind(before)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }
}

/// The user's claims for `scopes` (OIDC Core §5.4).
fn user_claims(claims: &mut Value, user: &crate::user_store::UserRow, scopes: &[String]) {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if has("email") {
        claims["email"] = json!(user.email);
        claims["email_verified"] = json!(user.email_verified != 0);
    }
    if has("profile") {
        claims["preferred_username"] = json!(user.username);
        claims["name"] = json!(user.username);
        claims["locale"] = json!(user.locale);
    }
}

async fn insert_refresh(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token: &str,
    grant_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(token_hash(token))
    .bind(grant_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::amr_acr;

    #[test]
    fn sign_in_methods_become_amr_and_acr() {
        assert_eq!(amr_acr("password"), Some((vec!["pwd"], "1")));
        assert_eq!(amr_acr("code"), Some((vec!["otp"], "1")));
        assert_eq!(amr_acr("passkey"), Some((vec!["pop"], "1")));
        assert_eq!(
            amr_acr("password+totp"),
            Some((vec!["pwd", "otp", "mfa"], "2"))
        );
        assert_eq!(
            amr_acr("code+recovery"),
            Some((vec!["otp", "mfa"], "2")),
            "two codes are still two factors"
        );
        // A reset link proves the mailbox, not a password.
        assert_eq!(amr_acr("reset"), Some((vec!["otp"], "1")));
        // Sessions from before methods were recorded, and a passwordless
        // account's first, claim nothing.
        assert_eq!(amr_acr("new"), None);
        assert_eq!(amr_acr(""), None);
        assert_eq!(amr_acr("password+something"), None);
    }
}
