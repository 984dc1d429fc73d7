//! `/api/v1/docs`: the OpenAPI document as a readable page, rendered once
//! at start-up on the server (no Swagger UI assets to download or serve).

use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi, RefOr};

pub fn render(doc: &OpenApi) -> String {
    let mut body = String::new();
    for (path, item) in &doc.paths.paths {
        // A path with its own server (the provider's, at the root) is
        // shown where it is; the rest live under the API's base.
        let base = match &item.servers {
            Some(servers) => servers.first().map_or("", |s| s.url.trim_end_matches('/')),
            None => "/api/v1",
        };
        let operations = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
        ];
        for (method, operation) in operations {
            if let Some(op) = operation {
                body.push_str(&operation_html(method, &format!("{base}{path}"), op));
            }
        }
    }
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · reference</title><link rel="stylesheet" href="/pkg/latchkey.css"></head>
<body><main class="page api-docs"><section class="card">
<h1>{title}</h1><p>{description}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1) — load it into any OpenAPI client or code generator.
Base URL: <code>/api/v1</code>, but for the OpenID Connect provider's endpoints under <code>/oauth</code>.</p></section>{body}</main></body></html>"#,
        title = escape(&doc.info.title),
        description = escape(doc.info.description.as_deref().unwrap_or_default()),
    )
}

fn operation_html(method: &str, path: &str, op: &Operation) -> String {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let responses: Vec<String> = op
        .responses
        .responses
        .iter()
        .map(|(status, response)| match response {
            RefOr::T(r) => format!("<li><code>{status}</code> {}</li>", escape(&r.description)),
            RefOr::Ref(r) => format!("<li><code>{status}</code> {}</li>", escape(&r.ref_location)),
        })
        .collect();
    let body = op
        .request_body
        .as_ref()
        .map(|b| {
            let types: Vec<&str> = b.content.keys().map(String::as_str).collect();
            format!("<p class=\"muted\">Body: {}</p>", escape(&types.join(", ")))
        })
        .unwrap_or_default();
    format!(
        r#"<section class="card endpoint" id="{anchor}"><h2><code>{method} {path}</code></h2>
<p><strong>{summary}</strong>{auth}</p><p>{description}</p>{body}<ul>{responses}</ul></section>"#,
        anchor = escape(
            &format!("{method}{}", path.trim_start_matches("/api/v1"))
                .replace(['/', '{', '}'], "-")
        ),
        path = escape(path),
        summary = escape(op.summary.as_deref().unwrap_or_default()),
        auth = if secured {
            " · needs a Bearer token"
        } else {
            ""
        },
        description = escape(op.description.as_deref().unwrap_or_default()),
        responses = responses.concat(),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
