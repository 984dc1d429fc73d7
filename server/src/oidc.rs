//! The OpenID Connect provider's HTTP side: discovery, the authorization
//! endpoint (which sends the browser on to sign in, to the consent page or
//! back to the app), the token and userinfo endpoints. The rules are in
//! `latchkey_core::oidc`; the consent page is the app's
//! (`/oauth/consent`).

use std::time::Duration;

use app::ssr::cookies::{self, Waiting};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use latchkey_core::oidc::{
    AppCredentials, AuthorizeParams, OAuthError, Refusal, Step, TokenParams, TokenSet,
};
use latchkey_core::{apps, Auth, ClientInfo, Services};
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};

/// The provider's JSON endpoints, for the API's OpenAPI document. They are
/// served from the site's root, not `/api/v1` (`api::router` says so on
/// each path), take forms and answer RFC 6749's error shape.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(token, userinfo, revoke, introspect),
    components(schemas(TokenParams, TokenSet, TokenForm, OAuthErrorBody)),
    tags((name = "oidc", description = "The OpenID Connect provider's endpoints for registered apps \
        (discovery: `/.well-known/openid-configuration`)"))
)]
pub struct ProviderDoc;

/// The provider's routes: discovery and authorization for browsers, token
/// and userinfo for apps (any origin, no cookies: see `origin::for_apps`).
pub fn router(services: Services) -> Router {
    let for_apps = Router::new()
        .route("/oauth/token", axum::routing::post(token))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/oauth/revoke", axum::routing::post(revoke))
        .route("/oauth/introspect", axum::routing::post(introspect))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(600)),
        );
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/resume", get(resume))
        .route("/oauth/logout", get(logout))
        .merge(for_apps)
        .with_state(services)
}

/// OpenID Connect Discovery 1.0 §3.
async fn discovery(State(services): State<Services>) -> impl IntoResponse {
    let issuer = &services.config.issuer;
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "end_session_endpoint": format!("{issuer}/oauth/logout"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": apps::GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA", "ES256"],
        "scopes_supported": apps::SCOPES,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr",
            "email", "email_verified", "preferred_username", "name", "locale",
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        // "1": one factor, "2": two (see `oidc::amr_acr`).
        "acr_values_supported": ["1", "2"],
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["en", "ko"],
    });
    (
        [
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(document),
    )
}

/// `GET /oauth/authorize` (OIDC Core §3.1.2).
async fn authorize(
    State(services): State<Services>,
    auth: Option<axum::Extension<Auth>>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let oidc = services.oidc();
    match oidc.authorization(&params).await {
        Ok(authorization) => proceed(&services, auth.map(|a| a.0), authorization).await,
        Err(Refusal::Redirect(to)) => Redirect::to(&to).into_response(),
        Err(Refusal::UnknownApp) => problem("unknown_app"),
        Err(Refusal::BadRedirectUri) => problem("bad_redirect"),
        Err(Refusal::Failed(err)) => {
            tracing::warn!(code = ?err.code, cause = ?err.cause, "authorization failed");
            problem("failed")
        }
    }
}

/// After signing in: the authorization parked in the cookie goes on.
async fn resume(
    State(services): State<Services>,
    auth: Option<axum::Extension<Auth>>,
    headers: HeaderMap,
) -> Response {
    let parked = cookies::read(&headers, &services.config, cookies::AUTHORIZING)
        .and_then(|sealed| services.oidc().unpark(&sealed));
    let mut response = match parked {
        Some(authorization) => proceed(&services, auth.map(|a| a.0), authorization).await,
        None => Redirect::to("/profile").into_response(),
    };
    // This answer ends the redirects that followed a sign-in form, and
    // browsers hold a form's redirects to its page's `form-action`
    // ('self'): the way out to the app is a page of its own.
    let to_app = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|to| !to.starts_with('/'))
        .map(str::to_owned);
    if let Some(to) = to_app {
        response = onward(&to, Onward::ToApp, &headers);
    }
    // Taken once, unless going on parked it again (a fresh sign-in asked).
    if !response.headers().contains_key(header::SET_COOKIE) {
        if let Ok(clear) = HeaderValue::from_str(&parking(&services, None)) {
            response.headers_mut().insert(header::SET_COOKIE, clear);
        }
    }
    response
}

/// Where an `onward` page goes.
pub(crate) enum Onward {
    /// Back to an app, with the code.
    ToApp,
    /// On to another provider's sign-in.
    ToProvider,
}

/// A page that sends the browser on to `to`: a refresh, and a link in the
/// reader's language for whoever has refreshes off.
pub(crate) fn onward(to: &str, kind: Onward, headers: &HeaderMap) -> Response {
    use app::i18n::td_string as t;
    let locale = crate::locale::negotiate(headers);
    let text = match kind {
        Onward::ToApp => t!(locale, onward.to_app),
        Onward::ToProvider => t!(locale, onward.go_on),
    };
    let lang = app::locale::tag(locale);
    let to = to
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!doctype html><html lang=\"{lang}\"><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={to}\">\
         <title>Latchkey</title><p><a href=\"{to}\">{text}</a></p>"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

async fn proceed(
    services: &Services,
    auth: Option<Auth>,
    authorization: latchkey_core::oidc::Authorization,
) -> Response {
    let oidc = services.oidc();
    match oidc.step(auth.as_ref(), &authorization).await {
        Ok(Step::Redirect(to)) => Redirect::to(&to).into_response(),
        Ok(Step::SignIn { again }) => {
            let sealed = oidc.park(&authorization);
            let to = if again { "/login?again" } else { "/login" };
            (
                [(header::SET_COOKIE, parking(services, Some(sealed)))],
                Redirect::to(to),
            )
                .into_response()
        }
        Ok(Step::Consent) => {
            let sealed = oidc.park(&authorization);
            Redirect::to(&format!("/oauth/consent?request={sealed}")).into_response()
        }
        Err(err) => {
            tracing::warn!(code = ?err.code, cause = ?err.cause, "authorization failed");
            problem("failed")
        }
    }
}

/// `Set-Cookie` for the parked authorization (None: remove it).
fn parking(services: &Services, sealed: Option<String>) -> String {
    cookies::link_token(
        &services.config,
        cookies::AUTHORIZING,
        sealed.as_deref(),
        cookies::AUTHORIZING_MAX_AGE,
    )
}

/// Whatever page a sign-in lands on, a parked authorization goes first.
pub async fn resume_after_sign_in(
    State(services): State<Services>,
    req: Request,
    next: Next,
) -> Response {
    let landed = req.method() == Method::GET
        && req.uri().path() == "/profile"
        && req.extensions().get::<Auth>().is_some();
    let waiting = landed
        .then(|| cookies::waiting_for_sign_in(req.headers(), &services.config))
        .flatten();
    match waiting {
        Some(Waiting::Authorization) => Redirect::to("/oauth/resume").into_response(),
        // An identity at another provider waits for this sign-in to be linked.
        Some(Waiting::Link) => Redirect::to("/security/link").into_response(),
        None => next.run(req).await,
    }
}

/// A request Latchkey cannot send back to the app: said on its own page
/// (`why` names one of a few fixed texts, so no caller's words appear).
fn problem(why: &'static str) -> Response {
    Redirect::to(&format!("/oauth/problem?why={why}")).into_response()
}

/// `POST /oauth/token` (RFC 6749 §3.2).
#[utoipa::path(post, path = "/oauth/token", tag = "oidc",
    summary = "Trade a code, rotate a refresh token, or get an app's own token",
    description = "The app proves itself with `Authorization: Basic` (`client_secret_basic`), \
        `client_id` and `client_secret` in the form (`client_secret_post`), a signed \
        `client_assertion` (`private_key_jwt`, RFC 7523), or only `client_id` with PKCE (a public app).",
    request_body(content = TokenParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (with an ID token when `openid` was granted)", body = TokenSet),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unsupported_grant_type`, \
            `unauthorized_client` or `invalid_scope`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 413, description = "A form over 64 KiB"),
        (status = 429, description = "`temporarily_unavailable`: too many failed requests from this \
            address; `Retry-After` says when to try again", body = OAuthErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = OAuthErrorBody),
    ))]
async fn token(
    State(services): State<Services>,
    client: axum::Extension<ClientInfo>,
    headers: HeaderMap,
    form: Result<Form<TokenParams>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(params)) = form else {
        return oauth_error(
            OAuthError::new(
                "invalid_request",
                "Send the parameters as application/x-www-form-urlencoded.",
            ),
            false,
        );
    };
    let credentials = credentials_of(
        &headers,
        params.client_id.clone(),
        params.client_secret.clone(),
        params
            .client_assertion_type
            .clone()
            .zip(params.client_assertion.clone()),
    );
    match services.oidc().token(&credentials, &params, &client).await {
        Ok(tokens) => (no_store(), Json(tokens)).into_response(),
        Err(err) => oauth_error(err, credentials.basic),
    }
}

/// `GET`/`POST /oauth/userinfo` (OIDC Core §5.3).
#[utoipa::path(method(get, post), path = "/oauth/userinfo", tag = "oidc",
    summary = "The signed-in user's claims, as the app's access token allows",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`sub`, and the claims of the granted scopes", body = Object),
        (status = 401, description = "`invalid_token` (or no token): see `WWW-Authenticate`", body = OAuthErrorBody),
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = OAuthErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = OAuthErrorBody),
    ))]
async fn userinfo(State(services): State<Services>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = bearer else {
        // RFC 6750 §3.1 puts no error code in the challenge of a request
        // without a token; the body still has the documented shape.
        let mut response = (
            StatusCode::UNAUTHORIZED,
            no_store(),
            Json(OAuthErrorBody {
                error: "invalid_token",
                error_description: "Send the access token as Authorization: Bearer.".into(),
            }),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    match services.oidc().userinfo(token).await {
        Ok(info) => (no_store(), Json(info)).into_response(),
        Err(err) => oauth_error(err, false),
    }
}

/// The form of the revocation and introspection endpoints.
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct TokenForm {
    /// An access or refresh token the app was given.
    token: Option<String>,
    /// With `client_secret_post` or a public app.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// With `private_key_jwt`, as at the token endpoint.
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// RFC 6749 §5.2's error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct OAuthErrorBody {
    error: &'static str,
    error_description: String,
}

/// The app's credentials: `Authorization: Basic`, else the form's.
/// `assertion`: `private_key_jwt`'s type and JWT, when both came.
fn credentials_of(
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<String>,
    assertion: Option<(String, String)>,
) -> AppCredentials {
    match basic(headers) {
        Some((id, secret)) => AppCredentials {
            client_id: Some(id),
            client_secret: Some(secret),
            basic: true,
            assertion,
        },
        None => AppCredentials {
            client_id,
            client_secret,
            basic: false,
            assertion,
        },
    }
}

/// The token and the app's credentials of a revocation or introspection
/// request, or the error (and whether Basic was used) to answer.
fn token_request(
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<(AppCredentials, String), (OAuthError, bool)> {
    let Ok(Form(form)) = form else {
        let err = OAuthError::new(
            "invalid_request",
            "Send token as application/x-www-form-urlencoded.",
        );
        return Err((err, false));
    };
    let assertion = form.client_assertion_type.zip(form.client_assertion);
    let credentials = credentials_of(headers, form.client_id, form.client_secret, assertion);
    match form.token {
        Some(token) => Ok((credentials, token)),
        None => Err((
            OAuthError::new("invalid_request", "token is missing."),
            credentials.basic,
        )),
    }
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was live.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oidc",
    summary = "End a token the app was given (a refresh token ends its whole grant)",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Done, or the token was not live"),
        (status = 400, description = "`invalid_request`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 413, description = "A form over 64 KiB"),
        (status = 503, description = "`temporarily_unavailable`", body = OAuthErrorBody),
    ))]
async fn revoke(
    State(services): State<Services>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (credentials, token) = match token_request(&headers, form) {
        Ok(request) => request,
        Err((err, basic)) => return oauth_error(err, basic),
    };
    match services.oidc().revoke(&credentials, &token).await {
        Ok(()) => (no_store(), StatusCode::OK).into_response(),
        Err(err) => oauth_error(err, credentials.basic),
    }
}

/// `POST /oauth/introspect` (RFC 7662), for confidential apps.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oidc",
    summary = "Whether a token is live, and what it carries (confidential apps)",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"active\": false}`, or `active: true` with `scope`, \
            `client_id`, `sub`, `exp`, `iat`, `token_type`", body = Object),
        (status = 400, description = "`invalid_request`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 413, description = "A form over 64 KiB"),
        (status = 503, description = "`temporarily_unavailable`", body = OAuthErrorBody),
    ))]
async fn introspect(
    State(services): State<Services>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (credentials, token) = match token_request(&headers, form) {
        Ok(request) => request,
        Err((err, basic)) => return oauth_error(err, basic),
    };
    match services.oidc().introspect(&credentials, &token).await {
        Ok(answer) => (no_store(), Json(answer)).into_response(),
        Err(err) => oauth_error(err, credentials.basic),
    }
}

#[derive(serde::Deserialize)]
struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /oauth/logout` (OIDC RP-Initiated Logout 1.0): ends this browser's
/// Latchkey session when the app's ID token names it, then back to the
/// app if it registered the address, else to the home page. Without a
/// hint naming this session nothing ends: a link on another site cannot
/// sign anyone out.
async fn logout(
    State(services): State<Services>,
    auth: Option<axum::Extension<Auth>>,
    Query(params): Query<LogoutParams>,
) -> Response {
    let oidc = services.oidc();
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => oidc.logout_hint(token).await.unwrap_or_default(),
        None => None,
    };
    let Some((sid, client_id)) = hint else {
        return Redirect::to("/").into_response();
    };
    let mut cleared = Vec::new();
    if let Some(axum::Extension(auth)) = auth.filter(|a| a.session_id == sid) {
        if let Err(err) = services.sessions().logout(&auth).await {
            tracing::warn!(code = ?err.code, cause = ?err.cause, "logout through an app failed");
            return problem("failed");
        }
        cleared.extend(cookies::cleared(&services.config));
    }
    let to = oidc
        .after_logout(
            &client_id,
            params.post_logout_redirect_uri.as_deref(),
            params.state.as_deref(),
        )
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "/".to_owned());
    let mut response = Redirect::to(&to).into_response();
    for value in cleared {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `client_id:client_secret` from `Authorization: Basic` (RFC 6749 §2.3.1:
/// both form-urlencoded first).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// RFC 6749 §5.2 (and RFC 6750 §3 for `invalid_token`).
fn oauth_error(err: OAuthError, basic: bool) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        no_store(),
        Json(OAuthErrorBody {
            error: err.error,
            error_description: err.description,
        }),
    )
        .into_response();
    let challenge = match err.error {
        "invalid_client" if basic => Some("Basic realm=\"latchkey\"".to_owned()),
        "invalid_token" | "insufficient_scope" => Some(format!("Bearer error=\"{}\"", err.error)),
        _ => None,
    };
    if let Some(value) = challenge.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(wait) = err.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}
