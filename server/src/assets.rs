//! `/pkg`: the build's WASM, JS and CSS.
//!
//! A release build (`cargo leptos build --release --precompress`)
//! writes a `.br` and a `.gz` beside each file and puts a content hash in
//! every name, listing the main ones in `hash.txt` beside the server binary,
//! from which the pages link them. A file whose name is the digest of its
//! content is kept by browsers for a year without asking again (a new build
//! gives new content new names); every other file is revalidated.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get_service;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use leptos::config::LeptosOptions;
use md5::{Digest, Md5};
use tower_http::services::{ServeDir, ServeFile};

/// The stylesheet's unhashed name, kept for the pages rendered outside the
/// app (the outage page, the API reference).
pub const STYLESHEET: &str = "latchkey.css";

const FOREVER: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// `hash.txt` beside the running binary, where cargo-leptos writes it and
/// Leptos reads it when rendering a page.
fn hash_file() -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.parent()?.join("hash.txt");
    path.is_file().then_some(path)
}

/// Options that link the hashed names when the build made them. A hashed
/// build whose `hash.txt` was left behind would link names that do not
/// exist: that is refused at start-up.
pub fn with_hashes(options: LeptosOptions) -> Result<LeptosOptions, String> {
    let Some(path) = hash_file() else {
        // The pages would link unhashed names: missing, or an older build.
        let dir = pkg_dir(&options);
        return if has_hashed_js(&dir, &options.output_name) {
            Err(format!(
                "{} holds a build with hashed file names, but hash.txt is not beside \
                 the server binary: copy the build's target/release/hash.txt there",
                dir.display()
            ))
        } else {
            Ok(options)
        };
    };
    let mut options = options;
    options.hash_files = true;
    // Absolute, so Leptos finds it whatever the working directory.
    options.hash_file = path.to_string_lossy().into();
    Ok(options)
}

/// Whether the site the options point at was built: its WASM, JS glue and
/// stylesheet are in `pkg/`.
pub fn check_site(options: &LeptosOptions) -> Result<(), String> {
    let dir = pkg_dir(options);
    let output = options.output_name.as_ref();
    let names: Vec<String> = file_names(&dir).collect();
    let has = |ext: &str| {
        names
            .iter()
            .any(|n| n.starts_with(output) && n.ends_with(ext))
    };
    if has(".wasm") && has(".js") && has(".css") {
        Ok(())
    } else {
        Err(format!(
            "{} holds no built site ({output}.wasm, .js and .css): build it with \
             `cargo leptos build --release --precompress` and point LEPTOS_SITE_ROOT at \
             its target/site",
            dir.display()
        ))
    }
}

fn pkg_dir(options: &LeptosOptions) -> PathBuf {
    Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref())
}

/// The names of the files in `dir` (none if it cannot be read).
fn file_names(dir: &Path) -> impl Iterator<Item = String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
}

/// Whether `dir` holds the JS glue under a hashed name.
fn has_hashed_js(dir: &Path, output: &str) -> bool {
    let plain = format!("{output}.js");
    let prefix = format!("{output}.");
    file_names(dir).any(|n| n.starts_with(&prefix) && n.ends_with(".js") && n != plain)
}

/// One hash from `hash.txt` (`css: <hash>` lines).
fn hash_of(hashes: &str, kind: &str) -> Option<String> {
    hashes.lines().find_map(|line| {
        let (name, hash) = line.split_once(':')?;
        (name.trim() == kind).then(|| hash.trim().to_owned())
    })
}

pub fn router(options: &LeptosOptions) -> Router {
    let dir = pkg_dir(options);
    let hashed_css = options
        .hash_files
        .then(|| std::fs::read_to_string(options.hash_file.as_ref()).ok())
        .flatten()
        .and_then(|hashes| hash_of(&hashes, "css"));
    let mut router = Router::new();
    if let Some(css) = hashed_css {
        let stem = STYLESHEET.trim_end_matches(".css");
        let stylesheet = ServeFile::new(dir.join(format!("{stem}.{css}.css")))
            .precompressed_br()
            .precompressed_gzip();
        router = router.route_service(&format!("/{STYLESHEET}"), get_service(stylesheet));
    }
    let immutable = Arc::new(immutable_names(&dir));
    router
        .fallback_service(get_service(
            ServeDir::new(&dir).precompressed_br().precompressed_gzip(),
        ))
        .layer(middleware::from_fn_with_state(immutable, cache_control))
}

/// The files whose name carries the digest of their content (MD5, base64url:
/// `name.<digest>.ext`, as cargo-leptos names them). Checked, not assumed:
/// cargo-leptos 0.3.10 rewrites the main JS and WASM (and the split
/// manifest) after naming them, so a new build can reuse their names for
/// new content, and those must be revalidated rather than kept a year.
fn immutable_names(dir: &Path) -> HashSet<String> {
    // The `.br` / `.gz` copies (`…<digest>.wasm.br`) never match: a request
    // served from one is looked up by the name it asked for.
    file_names(dir)
        .filter(|name| {
            let digest = name.rsplit('.').nth(1).filter(|digest| digest.len() == 22);
            digest.is_some_and(|digest| {
                std::fs::read(dir.join(name))
                    .is_ok_and(|content| URL_SAFE_NO_PAD.encode(Md5::digest(&content)) == digest)
            })
        })
        .collect()
}

/// A file named by its content is kept for a year; any other file is
/// revalidated; a miss is never stored (during a rolling upgrade the file
/// may exist on the next instance). Every answer depends on the request's
/// `Accept-Encoding` (`.br` / `.gz` copies), which caches must know.
async fn cache_control(
    State(immutable): State<Arc<HashSet<String>>>,
    req: Request,
    next: Next,
) -> Response {
    let name = req.uri().path().rsplit('/').next().unwrap_or_default();
    let forever = immutable.contains(name);
    let mut res = next.run(req).await;
    let found = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let value = match (found, forever) {
        (false, _) => "no-store",
        (true, true) => FOREVER,
        (true, false) => REVALIDATE,
    };
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_read_by_kind() {
        let hashes = "js: aB-c_1\nwasm: Zz9\ncss: Qq-_0\n";
        assert_eq!(hash_of(hashes, "css").as_deref(), Some("Qq-_0"));
        assert_eq!(hash_of(hashes, "wasm").as_deref(), Some("Zz9"));
        assert_eq!(hash_of(hashes, "manifest"), None);
    }

    #[test]
    fn a_hashed_build_without_its_hash_file_is_refused() {
        let root = std::env::temp_dir().join(format!("latchkey-assets-{}", std::process::id()));
        let pkg = root.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let options = LeptosOptions::builder()
            .output_name("latchkey")
            .site_root(root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .build();
        // Tests run beside no hash.txt, as a binary copied alone would.
        assert!(hash_file().is_none());
        std::fs::write(pkg.join("latchkey.js"), "").unwrap();
        assert!(!with_hashes(options.clone()).unwrap().hash_files);
        // Even beside an older unhashed build.
        std::fs::write(pkg.join("latchkey.Ab-9.js"), "").unwrap();
        let err = with_hashes(options).unwrap_err();
        assert!(err.contains("hash.txt"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn only_names_that_are_their_contents_digest_are_immutable() {
        let dir = std::env::temp_dir().join(format!("latchkey-digests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let digest = URL_SAFE_NO_PAD.encode(Md5::digest(b"chunk"));
        for name in [
            format!("chunk.{digest}.wasm"),
            format!("chunk.{digest}.wasm.br"),
            // Named for content it no longer has (rewritten after naming).
            "latchkey.XDSwCWw4cPNundQ6W35OJg.js".to_owned(),
            "latchkey.css".to_owned(),
        ] {
            std::fs::write(dir.join(name), b"chunk").unwrap();
        }
        let names = immutable_names(&dir);
        assert_eq!(names, HashSet::from([format!("chunk.{digest}.wasm")]));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
