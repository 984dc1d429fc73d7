//! Authenticates every request: a Bearer token or the access cookie; when the
//! cookie has expired, the refresh cookie is rotated transparently and the new
//! cookies ride on the response.

use std::net::SocketAddr;

use app::error::ErrorCode;
use app::ssr::{cookies, Auth, ClientInfo, Services};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub async fn authenticate(
    State(services): State<Services>,
    mut req: Request,
    next: Next,
) -> Response {
    // Static assets need no session.
    if req.uri().path().starts_with("/pkg/") {
        return next.run(req).await;
    }
    let client = client_info(&req);
    req.extensions_mut().insert(client);

    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let access = bearer
        .clone()
        .or_else(|| cookies::read(req.headers(), cookies::ACCESS));

    let mut auth: Option<Auth> = match &access {
        Some(token) => services.authenticate(token).await.unwrap_or(None),
        None => None,
    };
    let mut set_cookies: Vec<String> = Vec::new();
    // Only browsers (cookies) refresh here; API clients call auth/refresh.
    if auth.is_none() && bearer.is_none() {
        if let Some(refresh) = cookies::read(req.headers(), cookies::REFRESH) {
            match services.refresh(&refresh).await {
                Ok((issued, fresh)) => {
                    set_cookies.extend(cookies::for_session(&services.config, &issued));
                    auth = Some(fresh);
                }
                Err(err) if err.code == ErrorCode::Unauthorized => {
                    set_cookies.extend(cookies::cleared(&services.config));
                }
                // The store is down: keep the cookies and try again later.
                Err(_) => {}
            }
        } else if access.is_some() {
            set_cookies.extend(cookies::cleared(&services.config));
        }
    }
    if let Some(auth) = auth {
        req.extensions_mut().insert(auth);
    }

    let mut response = next.run(req).await;
    // A handler that set its own session cookies (log in, log out) wins.
    if !response.headers().contains_key(header::SET_COOKIE) {
        for value in set_cookies {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

fn client_info(req: &Request) -> ClientInfo {
    ClientInfo {
        ip: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}
