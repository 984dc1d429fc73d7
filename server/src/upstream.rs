//! Signing in through other identity providers, the HTTP side: the
//! settings that turn each on, `POST /login/with/{id}` (off to the
//! provider) and `GET /login/with/{id}/back` (its answer). The rules are
//! `latchkey_core::upstream`'s; the buttons are on the log-in and security
//! pages, and the confirmation of a link at `/security/link`.

use app::ssr::cookies;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use latchkey_core::upstream::{Answer, Finished, Kind, Provider};
use latchkey_core::{Auth, ClientInfo, Error, ErrorCode, Services};
use latchkey_types::paths::{with_next, with_query};
use serde::Deserialize;

use crate::oidc::Onward;

/// A provider set up by its client id and secret alone.
struct Preset {
    id: &'static str,
    name: &'static str,
    kind: Kind,
    issuer: &'static str,
    scopes: &'static [&'static str],
    /// Its ids for people are per registered app.
    per_app_subjects: bool,
    /// Its settings: client id, client secret, and its address (an
    /// override: another issuer, a GitHub Enterprise Server, a test's).
    keys: [&'static str; 3],
}

const PRESETS: [Preset; 4] = [
    Preset {
        id: "google",
        name: "Google",
        kind: Kind::OpenIdConnect,
        issuer: "https://accounts.google.com",
        scopes: &["email", "profile"],
        per_app_subjects: false,
        keys: [
            "UPSTREAM_GOOGLE_CLIENT_ID",
            "UPSTREAM_GOOGLE_CLIENT_SECRET",
            "UPSTREAM_GOOGLE_ISSUER",
        ],
    },
    // Kakao's consent items: the address and the nickname.
    Preset {
        id: "kakao",
        name: "Kakao",
        kind: Kind::OpenIdConnect,
        issuer: "https://kauth.kakao.com",
        scopes: &["account_email", "profile_nickname"],
        per_app_subjects: true,
        keys: [
            "UPSTREAM_KAKAO_CLIENT_ID",
            "UPSTREAM_KAKAO_CLIENT_SECRET",
            "UPSTREAM_KAKAO_ISSUER",
        ],
    },
    // Plain OAuth 2.0: the profile and the list of addresses.
    Preset {
        id: "github",
        name: "GitHub",
        kind: Kind::GitHub,
        issuer: "https://github.com",
        scopes: &["read:user", "user:email"],
        per_app_subjects: false,
        keys: [
            "UPSTREAM_GITHUB_CLIENT_ID",
            "UPSTREAM_GITHUB_CLIENT_SECRET",
            "UPSTREAM_GITHUB_URL",
        ],
    },
    // Plain OAuth 2.0; what it shares is chosen in Naver's console, not
    // by scopes.
    Preset {
        id: "naver",
        name: "Naver",
        kind: Kind::Naver,
        issuer: "https://nid.naver.com",
        scopes: &[],
        per_app_subjects: true,
        keys: [
            "UPSTREAM_NAVER_CLIENT_ID",
            "UPSTREAM_NAVER_CLIENT_SECRET",
            "UPSTREAM_NAVER_URL",
        ],
    },
];

/// The operator's own OpenID Connect provider: issuer, client id, client
/// secret, the name on its button, scopes besides `openid`.
const OIDC_KEYS: [&str; 5] = [
    "UPSTREAM_OIDC_ISSUER",
    "UPSTREAM_OIDC_CLIENT_ID",
    "UPSTREAM_OIDC_CLIENT_SECRET",
    "UPSTREAM_OIDC_NAME",
    "UPSTREAM_OIDC_SCOPES",
];

/// The providers the settings turn on; what is wrong goes to `problems`.
pub fn read(get: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Vec<Provider> {
    let mut providers = Vec::new();
    let mut issuer_ok = |key: &str, issuer: &str| {
        let ok = url::Url::parse(issuer).is_ok_and(|u| {
            u.scheme() == "https"
                || (u.scheme() == "http"
                    && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
        });
        if !ok {
            problems.push(format!(
                "{key} must be an https:// URL (http:// only on loopback), got {issuer:?}"
            ));
        }
        ok
    };
    let mut pairs = Vec::new();
    for preset in &PRESETS {
        let [id_key, secret_key, issuer_key] = preset.keys;
        let issuer = get(issuer_key).unwrap_or_else(|| preset.issuer.to_owned());
        pairs.push((id_key, secret_key, get(id_key), get(secret_key)));
        if let (Some(client_id), Some(client_secret)) = (get(id_key), get(secret_key)) {
            if issuer_ok(issuer_key, &issuer) {
                providers.push(Provider {
                    id: preset.id.to_owned(),
                    name: preset.name.to_owned(),
                    kind: preset.kind,
                    // An issuer as written: discovery compares it exactly
                    // (some end in /); an address without its last /, so
                    // both spellings store people under one key.
                    issuer: match preset.kind {
                        Kind::OpenIdConnect => issuer.trim().to_owned(),
                        _ => issuer.trim().trim_end_matches('/').to_owned(),
                    },
                    client_id,
                    client_secret,
                    scopes: preset.scopes.iter().map(|s| (*s).to_owned()).collect(),
                    per_app_subjects: preset.per_app_subjects,
                });
            }
        }
    }
    let [issuer_key, id_key, secret_key, name_key, scopes_key] = OIDC_KEYS;
    let own = [issuer_key, id_key, secret_key, name_key].map(get);
    let scopes = get(scopes_key).unwrap_or_else(|| "email profile".into());
    match own {
        [Some(issuer), Some(client_id), Some(client_secret), Some(name)] => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 40 {
                problems.push(format!("{name_key} must be 1 to 40 characters"));
            } else if issuer_ok(issuer_key, &issuer) {
                providers.push(Provider {
                    id: "oidc".into(),
                    name,
                    kind: Kind::OpenIdConnect,
                    issuer: issuer.trim().to_owned(),
                    client_id,
                    client_secret,
                    scopes: scopes
                        .split([' ', ','])
                        .filter(|s| !s.is_empty() && *s != "openid")
                        .map(str::to_owned)
                        .collect(),
                    // OpenID Connect's `sub` is unique at its issuer.
                    per_app_subjects: false,
                });
            }
        }
        [None, None, None, None] => {}
        _ => problems.push(format!(
            "{issuer_key}, {id_key}, {secret_key} and {name_key} go together: set all four or none"
        )),
    }
    for (id_key, secret_key, id, secret) in pairs {
        if id.is_some() != secret.is_some() {
            problems.push(format!(
                "{id_key} and {secret_key} go together: set both or neither"
            ));
        }
    }
    providers
}

/// Every provider setting as it takes effect, the secrets not shown.
pub fn settings(get_provider: impl Fn(&str) -> Option<Provider>) -> Vec<(&'static str, String)> {
    let secret = |p: &Option<Provider>| match p {
        Some(_) => "set (not shown)".to_owned(),
        None => "unset".to_owned(),
    };
    let mut out = Vec::new();
    for preset in &PRESETS {
        let p = get_provider(preset.id);
        let [id_key, secret_key, issuer_key] = preset.keys;
        out.push((
            id_key,
            p.as_ref()
                .map_or(format!("unset: no \"Sign in with {}\"", preset.name), |p| {
                    p.client_id.clone()
                }),
        ));
        out.push((secret_key, secret(&p)));
        out.push((
            issuer_key,
            p.as_ref()
                .map_or(preset.issuer.to_owned(), |p| p.issuer.clone()),
        ));
    }
    let p = get_provider("oidc");
    let [issuer_key, id_key, secret_key, name_key, scopes_key] = OIDC_KEYS;
    let or_unset = |f: fn(&Provider) -> String| p.as_ref().map_or("unset".to_owned(), f);
    out.push((
        issuer_key,
        p.as_ref().map_or(
            "unset: no sign-in with your own OpenID Connect provider".to_owned(),
            |p| p.issuer.clone(),
        ),
    ));
    out.push((id_key, or_unset(|p| p.client_id.clone())));
    out.push((secret_key, secret(&p)));
    out.push((name_key, or_unset(|p| p.name.clone())));
    out.push((scopes_key, or_unset(|p| p.scopes.join(" "))));
    out
}

pub fn router(services: Services) -> Router {
    Router::new()
        .route("/login/with/{provider}", post(begin))
        .route("/login/with/{provider}/back", get(back))
        .with_state(services)
}

#[derive(Deserialize)]
struct Begin {
    /// Where a sign-in lands (a path here).
    #[serde(default)]
    next: String,
    /// Present: the signed-in user links this provider.
    #[serde(default)]
    link: Option<String>,
    /// The signed-in user's password, when linking.
    #[serde(default)]
    password: String,
}

/// `POST /login/with/{provider}`: off to the provider, with the state in a
/// cookie. Answered with a page that moves on (not a redirect: browsers
/// hold a form's redirects to its page's `form-action`, which is 'self').
async fn begin(
    State(services): State<Services>,
    Path(provider): Path<String>,
    auth: Option<Extension<Auth>>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    Form(form): Form<Begin>,
) -> Response {
    let upstream = services.upstream();
    let linking = form.link.is_some();
    let started = match (linking, auth) {
        (false, _) => upstream.start(&provider, &form.next, &client).await,
        (true, Some(Extension(auth))) => upstream.start_link(&auth, &provider, form.password).await,
        (true, None) => return Redirect::to("/login").into_response(),
    };
    match started {
        Ok(started) => {
            let mut response = crate::oidc::onward(&started.url, Onward::ToProvider, &headers);
            set_cookie(
                &mut response,
                cookies::upstream(&services.config, cookies::UPSTREAM, Some(&started.state)),
            );
            response
        }
        Err(err) => landing_for(
            &provider,
            linking,
            &form.next,
            parked(&services, &headers),
            &err,
        ),
    }
}

/// `GET /login/with/{provider}/back`: the provider's answer.
async fn back(
    State(services): State<Services>,
    Path(provider): Path<String>,
    auth: Option<Extension<Auth>>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    Query(answer): Query<Answer>,
) -> Response {
    let config = &services.config;
    let kept = cookies::read(&headers, config, cookies::UPSTREAM);
    let finish = services
        .upstream()
        .finish(&provider, &answer, kept.as_deref(), &client)
        .await;
    let mut response = match finish.outcome {
        Ok(Finished::SignedIn { user, issued, next }) => {
            let earlier = auth.as_ref().map(|Extension(auth)| auth);
            services.sessions().replaced(earlier, &issued).await;
            let mut response =
                Redirect::to(cookies::landing(&headers, config, &next)).into_response();
            for value in cookies::for_session(config, &issued) {
                set_cookie(&mut response, value);
            }
            match services.accounts().device_token(&user.id, &client).await {
                Ok(Some(token)) => set_cookie(&mut response, cookies::device(config, token)),
                Ok(None) => {}
                Err(err) => tracing::warn!(code = ?err.code, "device cookie not made"),
            }
            response
        }
        Ok(Finished::Linked { provider }) => {
            Redirect::to(&format!("/security/accounts?upstream={provider}&linked")).into_response()
        }
        Ok(Finished::ProveFirst { token }) => {
            let page = login_page(
                format!("/login?upstream={provider}&problem=prove"),
                parked(&services, &headers),
            );
            let mut response = Redirect::to(&page).into_response();
            set_cookie(
                &mut response,
                cookies::upstream(config, cookies::LINKING, Some(&token)),
            );
            response
        }
        Err(Error {
            code: ErrorCode::MfaRequired,
            challenge: Some(challenge),
            ..
        }) => {
            let next = cookies::landing(&headers, config, &finish.next);
            let second = with_next("/login/second-factor", next);
            let mut response = Redirect::to(&second).into_response();
            set_cookie(
                &mut response,
                cookies::second_factor(config, Some(&challenge.0)),
            );
            response
        }
        Err(err) => landing_for(
            &provider,
            finish.linking,
            &finish.next,
            parked(&services, &headers),
            &err,
        ),
    };
    // The state is spent whatever happened.
    set_cookie(
        &mut response,
        cookies::upstream(config, cookies::UPSTREAM, None),
    );
    response
}

/// Whether an app's authorization is parked in this browser, waiting for a
/// sign-in (it may have asked for a fresh one: `prompt=login`).
fn parked(services: &Services, headers: &HeaderMap) -> bool {
    cookies::read(headers, &services.config, cookies::AUTHORIZING).is_some()
}

/// The log-in page at `page`, with `?again` while an authorization is
/// parked: a browser signed in from before then sees it, and what it says,
/// instead of being sent on as signed in.
fn login_page(page: String, parked: bool) -> String {
    match parked {
        true => with_query(&page, "again"),
        false => page,
    }
}

/// Where a refused sign-in (or link) is explained: the log-in page, or the
/// security page for a signed-in user linking. The page words it from
/// the reason's name and the provider's (never from the provider's text).
fn landing_for(provider: &str, linking: bool, next: &str, parked: bool, err: &Error) -> Response {
    if err.code == ErrorCode::Internal || err.code == ErrorCode::Unavailable {
        tracing::warn!(provider, code = ?err.code, cause = ?err.cause, "sign-in at a provider failed");
    }
    let reason = err
        .reason
        .and_then(|r| serde_json::to_value(r).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "upstream_failed".into());
    let page = if linking {
        "/security/accounts"
    } else {
        "/login"
    };
    let provider: String = url::form_urlencoded::byte_serialize(provider.as_bytes()).collect();
    let count = err.count.map(|n| format!("&count={n}")).unwrap_or_default();
    let page = format!("{page}?upstream={provider}&problem={reason}{count}");
    // A sign-in tried again from there still goes back where it was going.
    let page = match linking {
        true => page,
        false => with_next(&login_page(page, parked), next),
    };
    Redirect::to(&page).into_response()
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read_from(pairs: &[(&str, &str)]) -> (Vec<Provider>, Vec<String>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut problems = Vec::new();
        let providers = read(&|k| map.get(k).cloned(), &mut problems);
        (providers, problems)
    }

    #[test]
    fn presets_need_an_id_and_a_secret() {
        let (providers, problems) = read_from(&[
            ("UPSTREAM_KAKAO_CLIENT_ID", "rest-key"),
            ("UPSTREAM_KAKAO_CLIENT_SECRET", "s"),
            ("UPSTREAM_GOOGLE_CLIENT_ID", "g"),
        ]);
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].id, "kakao");
        assert_eq!(providers[0].issuer, "https://kauth.kakao.com");
        assert_eq!(
            problems,
            ["UPSTREAM_GOOGLE_CLIENT_ID and UPSTREAM_GOOGLE_CLIENT_SECRET go together: set both or neither"]
        );
    }

    #[test]
    fn per_app_ids_are_stored_with_their_client_and_addresses_without_a_last_slash() {
        let space = |id: &str, client: &str| {
            let key = id.to_uppercase();
            let (id_key, secret_key) = (
                format!("UPSTREAM_{key}_CLIENT_ID"),
                format!("UPSTREAM_{key}_CLIENT_SECRET"),
            );
            let (providers, problems) =
                read_from(&[(id_key.as_str(), client), (secret_key.as_str(), "s")]);
            assert!(problems.is_empty(), "{problems:?}");
            providers[0].subject_space()
        };
        // Kakao's and Naver's ids mean someone only within one app.
        for id in ["kakao", "naver"] {
            assert_ne!(space(id, "app-a"), space(id, "app-b"), "{id}");
        }
        for id in ["google", "github"] {
            assert_eq!(space(id, "app-a"), space(id, "app-b"), "{id}");
        }
        let (providers, _) = read_from(&[
            ("UPSTREAM_GITHUB_CLIENT_ID", "c"),
            ("UPSTREAM_GITHUB_CLIENT_SECRET", "s"),
            ("UPSTREAM_GITHUB_URL", "https://git.example.com/"),
        ]);
        assert_eq!(providers[0].issuer, "https://git.example.com");
    }

    #[test]
    fn the_own_provider_takes_four_settings_and_a_safe_issuer() {
        let (providers, problems) = read_from(&[
            ("UPSTREAM_OIDC_ISSUER", "http://idp.example.com"),
            ("UPSTREAM_OIDC_CLIENT_ID", "c"),
            ("UPSTREAM_OIDC_CLIENT_SECRET", "s"),
            ("UPSTREAM_OIDC_NAME", "Acme SSO"),
        ]);
        assert!(providers.is_empty());
        assert!(problems[0].starts_with("UPSTREAM_OIDC_ISSUER must be an https:// URL"));
        let (providers, problems) = read_from(&[
            ("UPSTREAM_OIDC_ISSUER", "http://127.0.0.1:4000/"),
            ("UPSTREAM_OIDC_CLIENT_ID", "c"),
            ("UPSTREAM_OIDC_CLIENT_SECRET", "s"),
            ("UPSTREAM_OIDC_NAME", "Acme SSO"),
            ("UPSTREAM_OIDC_SCOPES", "openid email"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            providers[0].issuer, "http://127.0.0.1:4000/",
            "kept as written"
        );
        assert_eq!(providers[0].scopes, ["email"]);
        let (_, problems) = read_from(&[("UPSTREAM_OIDC_ISSUER", "https://idp.example.com")]);
        assert_eq!(problems.len(), 1);
    }
}
