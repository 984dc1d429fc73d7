//! A branded deployment over HTTP: the pages carry the product's name,
//! logo, favicon, colours and links, the files are served under their
//! digests for a year, and a page without a brand is Latchkey's own.

use super::*;
use server::brand::Branding;
use server::router::Edge;

fn dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lk-brand-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn branded(settings: &[(&str, &str)]) -> Router {
    let mut problems = Vec::new();
    let get = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    let brand = Branding::read(&get, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let mut config = latchkey_core::AuthConfig::for_tests();
    config.product = brand.product.clone();
    let services = common::services_with(Backend::Sqlite, config).await;
    let edge = Edge {
        brand,
        ..Edge::new(ORIGIN)
    };
    server::router::build_with(services, leptos_options(), edge)
}

/// The value of `attr` in the first tag of `html` that contains `marker`.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {html}"));
    let tag_start = html[..start].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let from = tag
        .find(&format!("{attr}=\""))
        .unwrap_or_else(|| panic!("{attr} not in {tag}"))
        + attr.len()
        + 2;
    tag[from..from + tag[from..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_branded_page_links_its_files_which_are_kept_for_a_year() {
    let d = dir();
    let logo = d.join("logo.svg");
    std::fs::write(
        &logo,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"/>",
    )
    .unwrap();
    let icon = d.join("icon.png");
    std::fs::write(&icon, b"\x89PNG\r\n\x1a\n not really the rest").unwrap();
    let app = branded(&[
        ("PRODUCT_NAME", "Acme & <Notes>"),
        ("BRAND_LOGO", logo.to_str().unwrap()),
        ("BRAND_FAVICON", icon.to_str().unwrap()),
        ("BRAND_PRIMARY", "#0f766e"),
        ("SUPPORT_EMAIL", "help@acme.test"),
        ("TERMS_URL", "https://acme.test/terms"),
    ])
    .await;
    let html = body_text(send(&app, page_get("/signup", "")).await).await;
    // Shown as written: the name is text, even in the title.
    assert!(
        html.contains("<title>Sign up · Acme &amp; &lt;Notes&gt;</title>"),
        "{html}"
    );
    assert!(html.contains("Acme &amp; &lt;Notes&gt;</a>"), "{html}");
    assert!(html.contains("mailto:help@acme.test"), "{html}");
    assert!(html.contains("data-testid=\"signup-agreement\""), "{html}");
    let logo_url = attr_after(&html, "class=\"brand-logo\"", "src");
    let css_url = attr_after(&html, "/brand/colours.", "href");
    let icon_url = attr_after(&html, "rel=\"icon\"", "href");
    assert!(
        icon_url.starts_with("/brand/icon.") && icon_url.ends_with(".png"),
        "{icon_url}"
    );
    for (url, content_type) in [
        (&logo_url, "image/svg+xml"),
        (&icon_url, "image/png"),
        (&css_url, "text/css; charset=utf-8"),
    ] {
        let res = send(&app, page_get(url, "")).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], content_type);
        assert_eq!(
            res.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        // An operator's SVG opened on its own runs nothing.
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{url}: {csp}");
    }
    let css = body_text(send(&app, page_get(&css_url, "")).await).await;
    assert!(css.contains("--accent:#0f766e;"), "{css}");
    let missing = send(&app, page_get("/brand/logo.AAAAAAAAAAAAAAAAAAAAAA.svg", "")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn without_a_brand_the_pages_are_latchkeys_own() {
    let app = app(Backend::Sqlite).await;
    let html = body_text(send(&app, page_get("/", "")).await).await;
    assert!(html.contains("<title>Latchkey</title>"), "{html}");
    assert!(html.contains("href=\"/favicon.svg\""), "{html}");
    assert!(!html.contains("/brand/"), "{html}");
    assert!(!html.contains("site-footer"), "{html}");
}
