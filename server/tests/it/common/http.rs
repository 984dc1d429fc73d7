//! Driving the router in-process over HTTP: requests as browsers and API
//! clients send them, and what the tests read back.

use axum::body::Body;
use axum::http::{header, Request, Response};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The public URL the test routers are built with.
pub const ORIGIN: &str = "http://127.0.0.1:3000";

pub async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    app.clone().oneshot(req).await.unwrap()
}

pub async fn body_text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

pub async fn body_json(res: Response<Body>) -> Value {
    serde_json::from_str(&body_text(res).await).expect("a JSON body")
}

pub fn json_post(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn bearer_get(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// A browser's page load with the given cookies.
pub fn page_get(uri: &str, cookies: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, cookies)
        .body(Body::empty())
        .unwrap()
}

/// A browser form post (no JavaScript) to a server function.
pub fn form_post(uri: &str, form: &str, cookies: Option<&str>) -> Request<Body> {
    let mut req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::ORIGIN, ORIGIN)
        .header(header::REFERER, format!("{ORIGIN}/signup"));
    if let Some(cookies) = cookies {
        req = req.header(header::COOKIE, cookies);
    }
    req.body(Body::from(form.to_owned())).unwrap()
}

/// A response's `Set-Cookie` headers, whole.
pub fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value; …` from a response's Set-Cookie headers (non-empty values).
pub fn cookie_jar(res: &Response<Body>) -> String {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .filter(|pair| !pair.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

pub fn bearer_post(uri: &str, token: &str, body: Value) -> Request<Body> {
    let mut req = json_post(uri, body);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    req
}

pub fn form_api_post(uri: &str, form: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

pub fn bearer_delete(uri: &str, token: &str) -> Request<Body> {
    Request::delete(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// One request to a server listening on `port`, over a real TCP connection.
pub async fn over_tcp(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    try_over_tcp(port, method, path, token, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// `over_tcp`, reporting a failed connection (or no answer in 10 s) as an
/// error instead of panicking.
pub async fn try_over_tcp(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .map_err(|e| format!("read: {e}"))?;
        Ok::<_, String>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "no answer within 10 s".to_owned())??;
    parse_response(&response)
}

/// The status and JSON body of a raw HTTP/1.1 response.
pub fn parse_response(response: &str) -> Result<(u16, Value), String> {
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    // Small bodies may come chunked: take the JSON between the chunk sizes.
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        rest.split("\r\n").nth(1).unwrap_or_default()
    } else {
        rest
    };
    Ok((status, serde_json::from_str(json).unwrap_or(Value::Null)))
}
