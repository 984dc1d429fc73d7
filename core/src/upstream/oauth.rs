//! Providers that speak plain OAuth 2.0 and say who signed in at their own
//! profile endpoints rather than in an ID token: GitHub and Naver.
//!
//! The code exchange is written here, not taken from the `oauth2` crate:
//! Naver sends `expires_in` as a string and both refuse with a 200 status,
//! which that crate's standard token answer cannot read (the provider's
//! own error code would be lost).

use openidconnect::reqwest::{header, Client, Response, StatusCode};
use openidconnect::AccessToken;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{failed, profile_of, Profile, Provider};
use crate::config::UpstreamKind;
use crate::error::Error;

const GITHUB: &str = "https://github.com";
const NAVER: &str = "https://nid.naver.com";
/// A provider's answer longer than this is not read.
const MAX_ANSWER: usize = 256 * 1024;

/// Where a provider of this kind answers, from its address.
struct Endpoints {
    authorize: String,
    token: String,
    /// The base of its profile API.
    api: String,
}

fn endpoints(provider: &Provider) -> Endpoints {
    let base = provider.issuer.trim_end_matches('/');
    match provider.kind {
        // GitHub Enterprise Server answers its API under its own address.
        UpstreamKind::GitHub => Endpoints {
            authorize: format!("{base}/login/oauth/authorize"),
            token: format!("{base}/login/oauth/access_token"),
            api: match base {
                GITHUB => "https://api.github.com".into(),
                _ => format!("{base}/api/v3"),
            },
        },
        UpstreamKind::Naver | UpstreamKind::OpenIdConnect => Endpoints {
            authorize: format!("{base}/oauth2.0/authorize"),
            token: format!("{base}/oauth2.0/token"),
            api: match base {
                NAVER => "https://openapi.naver.com".into(),
                _ => base.to_owned(),
            },
        },
    }
}

/// The address the browser goes to, to sign in at the provider. GitHub
/// takes PKCE; Naver documents no such parameter, so it is not sent.
pub(super) fn authorize_url(
    provider: &Provider,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<String, Error> {
    let mut url = url::Url::parse(&endpoints(provider).authorize).map_err(failed)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        if !provider.scopes.is_empty() {
            query.append_pair("scope", &provider.scopes.join(" "));
        }
        if provider.kind == UpstreamKind::GitHub {
            query
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.into())
}

/// What came back from the sign-in: the code, and the state and PKCE
/// verifier it began with.
pub(super) struct Returned<'a> {
    pub code: &'a str,
    pub state: &'a str,
    pub verifier: &'a str,
    pub redirect_uri: &'a str,
}

/// Trades the code for an access token and asks the provider who it
/// belongs to.
pub(super) async fn profile(
    http: &Client,
    provider: &Provider,
    back: Returned<'_>,
) -> Result<Profile, Error> {
    let at = endpoints(provider);
    match provider.kind {
        UpstreamKind::GitHub => {
            let form = [
                ("client_id", provider.client_id.as_str()),
                ("client_secret", &provider.client_secret),
                ("code", back.code),
                ("redirect_uri", back.redirect_uri),
                ("code_verifier", back.verifier),
            ];
            let token = access_token(http, &at.token, &form).await?;
            github(http, &at.api, token).await
        }
        // Naver checks the state again at its token endpoint.
        UpstreamKind::Naver => {
            let form = [
                ("grant_type", "authorization_code"),
                ("client_id", &provider.client_id),
                ("client_secret", &provider.client_secret),
                ("code", back.code),
                ("state", back.state),
            ];
            let token = access_token(http, &at.token, &form).await?;
            naver(http, &at.api, token).await
        }
        UpstreamKind::OpenIdConnect => Err(failed("an OpenID Connect provider")),
    }
}

/// A token endpoint's answer: a token, or the provider's refusal.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

async fn access_token(
    http: &Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<AccessToken, Error> {
    let response = http
        .post(url)
        .header(header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(failed)?;
    let (status, body) = read(response).await?;
    let answer: TokenAnswer = parse(status, &body, "its token endpoint")?;
    match (answer.access_token, answer.error) {
        (_, Some(error)) => Err(failed(format!("its token endpoint answered {error:?}"))),
        (Some(token), None) if status.is_success() => Ok(AccessToken::new(token)),
        _ => Err(failed(format!("its token endpoint answered {status}"))),
    }
}

/// `GET {url}` with the access token: the status and body.
async fn get(
    http: &Client,
    url: &str,
    token: &AccessToken,
    github: bool,
) -> Result<(StatusCode, Vec<u8>), Error> {
    let mut request = http.get(url).bearer_auth(token.secret());
    if github {
        request = request
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
    }
    read(request.send().await.map_err(failed)?).await
}

/// The answer's status and body, read up to `MAX_ANSWER` bytes.
async fn read(mut response: Response) -> Result<(StatusCode, Vec<u8>), Error> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(failed("its answer was too long"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

fn parse<T: DeserializeOwned>(status: StatusCode, body: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|_| {
        failed(format!(
            "{what} answered {status} with something unreadable"
        ))
    })
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub's `/user` (its numeric id stays when the login is renamed) and
/// `/user/emails`: the primary address, verified or not as GitHub says.
async fn github(http: &Client, api: &str, token: AccessToken) -> Result<Profile, Error> {
    let (status, body) = get(http, &format!("{api}/user"), &token, true).await?;
    if !status.is_success() {
        return Err(failed(format!("its /user answered {status}")));
    }
    let user: GitHubUser = parse(status, &body, "its /user")?;
    // A page holds 30 by default; someone with more has their primary
    // among the first 100 or has a most unusual account.
    let emails_at = format!("{api}/user/emails?per_page=100");
    let (status, body) = get(http, &emails_at, &token, true).await?;
    // A GitHub App without the email permission is refused the list: no
    // address, the same as sharing none.
    let emails: Vec<GitHubEmail> = match status {
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Vec::new(),
        s if s.is_success() => parse(s, &body, "its /user/emails")?,
        s => return Err(failed(format!("its /user/emails answered {s}"))),
    };
    let primary = emails.into_iter().find(|e| e.primary);
    let verified = primary.as_ref().is_some_and(|e| e.verified);
    Ok(profile_of(
        user.id.to_string(),
        primary.map(|e| e.email),
        verified,
        Some(user.login),
        token,
    ))
}

#[derive(Deserialize)]
struct NaverAnswer {
    resultcode: String,
    response: Option<NaverProfile>,
}

#[derive(Deserialize)]
struct NaverProfile {
    id: String,
    email: Option<String>,
    nickname: Option<String>,
}

/// Naver's `/v1/nid/me`. Naver says nothing of verifying an address: one
/// at its own mail service is the member's own mailbox there, any other is
/// only what they typed, so only the first counts as verified.
async fn naver(http: &Client, api: &str, token: AccessToken) -> Result<Profile, Error> {
    let (status, body) = get(http, &format!("{api}/v1/nid/me"), &token, false).await?;
    let answer: NaverAnswer = parse(status, &body, "its /v1/nid/me")?;
    let me = match answer {
        NaverAnswer {
            resultcode,
            response: Some(me),
        } if status.is_success() && resultcode == "00" => me,
        answer => {
            return Err(failed(format!(
                "its /v1/nid/me answered {status}, result {:?}",
                answer.resultcode
            )))
        }
    };
    let email = me.email.filter(|e| !e.is_empty());
    let verified = email
        .as_deref()
        .and_then(|e| e.rsplit_once('@'))
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case("naver.com"));
    // The mailbox's name is a Naver ID (ASCII); nicknames are often Korean.
    let name_hint = email
        .as_deref()
        .and_then(|e| e.split('@').next())
        .map(str::to_owned)
        .or(me.nickname);
    Ok(profile_of(me.id, email, verified, name_hint, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(kind: UpstreamKind, issuer: &str) -> Provider {
        Provider {
            id: "p".into(),
            name: "P".into(),
            kind,
            issuer: issuer.into(),
            client_id: "client id".into(),
            client_secret: "s".into(),
            scopes: vec!["read:user".into(), "user:email".into()],
            per_app_subjects: false,
        }
    }

    #[test]
    fn github_and_its_enterprise_servers_answer_where_documented() {
        let at = endpoints(&provider(UpstreamKind::GitHub, GITHUB));
        assert_eq!(at.token, "https://github.com/login/oauth/access_token");
        assert_eq!(at.api, "https://api.github.com");
        let at = endpoints(&provider(UpstreamKind::GitHub, "https://git.example/"));
        assert_eq!(at.authorize, "https://git.example/login/oauth/authorize");
        assert_eq!(at.api, "https://git.example/api/v3");
        let at = endpoints(&provider(UpstreamKind::Naver, NAVER));
        assert_eq!(at.token, "https://nid.naver.com/oauth2.0/token");
        assert_eq!(at.api, "https://openapi.naver.com");
    }

    #[test]
    fn only_github_is_sent_a_pkce_challenge() {
        let github = authorize_url(
            &provider(UpstreamKind::GitHub, GITHUB),
            "https://a/b",
            "st",
            "ch",
        )
        .unwrap();
        assert_eq!(
            github,
            "https://github.com/login/oauth/authorize?response_type=code&client_id=client+id\
             &redirect_uri=https%3A%2F%2Fa%2Fb&state=st&scope=read%3Auser+user%3Aemail\
             &code_challenge=ch&code_challenge_method=S256"
        );
        let naver = authorize_url(
            &Provider {
                scopes: Vec::new(),
                ..provider(UpstreamKind::Naver, NAVER)
            },
            "https://a/b",
            "st",
            "ch",
        )
        .unwrap();
        assert!(
            !naver.contains("code_challenge") && !naver.contains("scope"),
            "{naver}"
        );
    }
}
