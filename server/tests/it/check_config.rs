//! `check-config` against real services: every problem at once with the
//! secrets hidden, a clean bill for a working production setup, and a
//! database left as it was found.

use std::path::{Path, PathBuf};

use server::check::check;
use server::config::Sources;

use crate::common;

fn sources(toml: &str) -> Sources {
    Sources::from_toml(PathBuf::from("/etc/latchkey/latchkey.toml"), toml)
        .unwrap()
        .file_only()
}

/// A setting's line in the report, spaces collapsed: `900 (file)`.
fn shown(text: &str, key: &str) -> String {
    let line = text
        .lines()
        .find(|line| line.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("{key} not shown:\n{text}"));
    line.split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new, empty directory of this test's own.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lk-check-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Settings that serve `site` from a free loopback port, without metrics.
fn serving(site: &Path) -> String {
    format!(
        "leptos_site_root = \"{}\"\nleptos_site_addr = \"127.0.0.1:0\"\nmetrics_addr = \"off\"\n",
        site.display()
    )
}

/// A directory that looks like a built site (`pkg/` with the three files).
fn built_site() -> PathBuf {
    let root = std::env::temp_dir().join(format!("lk-site-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    for name in ["latchkey.wasm", "latchkey.js", "latchkey.css"] {
        std::fs::write(root.join("pkg").join(name), b"built").unwrap();
    }
    root
}

#[tokio::test]
async fn every_problem_is_reported_at_once_with_secrets_hidden() {
    let report = check(&sources(
        r#"
        latchkey_env = "production"
        public_url = "https://auth.example.com"
        database_url = "postgres://latchkey:hunter2@127.0.0.1:1/latchkey"
        redis_url = "redis://:redispw@127.0.0.1:1"
        smtp_url = "smtp://mailer:smtppw@127.0.0.1:1"
        latchkey_secret = "tiny-secret-value"
        access_token_ttl_secs = "soon"
        leptos_site_root = "/nonexistent/site"
        leptos_site_addr = "127.0.0.1:0"
        metrics_addr = "off"
        colour = "blue"
        "#,
    ))
    .await;
    assert!(!report.ok());
    for expected in [
        "ACCESS_TOKEN_TTL_SECS must be a whole number",
        "LATCHKEY_SECRET must hold at least 32 bytes",
        "names no setting: COLOUR",
        "cannot open the database at postgres://…@127.0.0.1:1/latchkey",
        "cannot reach Redis at redis://…@127.0.0.1:1",
        "cannot reach the SMTP server at smtp://…@127.0.0.1:1",
        "/nonexistent/site/pkg holds no built site",
    ] {
        assert!(
            report.problems.iter().any(|p| p.contains(expected)),
            "{expected:?} not among {:#?}",
            report.problems
        );
    }
    assert_eq!(report.problems.len(), 7, "{:#?}", report.problems);
    for secret in ["hunter2", "redispw", "smtppw", "tiny-secret-value"] {
        assert!(
            !report.text.contains(secret),
            "{secret} shown:\n{}",
            report.text
        );
    }
    assert!(report.text.contains("7 problem(s)"), "{}", report.text);
    // The setting that could not be read shows the default that stands in.
    assert_eq!(shown(&report.text, "ACCESS_TOKEN_TTL_SECS"), "900 (file)");
}

#[tokio::test]
async fn a_working_production_setup_passes_and_its_database_is_left_alone() {
    let url = common::fresh_db_url(common::Backend::Postgres).await;
    let (smtp_port, _inbox) = common::smtp::start().await;
    let redis = std::env::var("LATCHKEY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let site = built_site();
    let settings = format!(
        r#"
        latchkey_env = "production"
        public_url = "https://auth.example.com"
        trusted_proxies = ["127.0.0.1", "::1"]
        database_url = "{url}"
        redis_url = "{redis}"
        smtp_url = "smtp://127.0.0.1:{smtp_port}"
        latchkey_secret = "0123456789abcdef0123456789abcdef0123456789abcdef"
        leptos_site_root = "{}"
        leptos_site_addr = "127.0.0.1:0"
        metrics_addr = "127.0.0.1:0"
        "#,
        site.display()
    );
    let report = check(&sources(&settings)).await;
    assert!(report.ok(), "{}", report.text);
    assert!(report.text.contains("No problems"), "{}", report.text);
    assert!(!report.text.contains("Warnings"), "{}", report.text);
    let all = latchkey_core::db::MIGRATIONS.iter().count();
    assert!(
        report
            .text
            .contains(&format!("the first start applies {all} migration(s)")),
        "{}",
        report.text
    );
    assert_eq!(
        shown(&report.text, "TRUSTED_PROXIES"),
        "127.0.0.1/32, ::1/128 (file)"
    );
    // Base64 is decoded: 48 characters are 36 bytes.
    assert_eq!(
        shown(&report.text, "LATCHKEY_SECRET"),
        "set (36 bytes, not shown) (file)"
    );
    assert_eq!(shown(&report.text, "REDIS_PREFIX"), "latchkey: (default)");

    // Checked, not migrated: the start applies them, then nothing is due.
    let db = common::connect(&url).await;
    let report = check(&sources(&settings)).await;
    assert!(
        report.ok() && !report.text.contains("migration(s)"),
        "{}",
        report.text
    );

    // A database a newer build migrated is a problem named before a start.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = check(&sources(&settings)).await;
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("migrated by a newer Latchkey (migrations [9999]")),
        "{:#?}",
        report.problems
    );
    std::fs::remove_dir_all(site).unwrap();
}

#[tokio::test]
async fn a_sqlite_file_that_does_not_exist_is_not_created() {
    let dir = scratch();
    let db: &Path = &dir.join("latchkey.db");
    let site = built_site();
    let report = check(&sources(&format!(
        "database_url = \"sqlite://{}\"\n{}",
        db.display(),
        serving(&site)
    )))
    .await;
    assert!(report.ok(), "{}", report.text);
    assert!(
        report.text.contains("does not exist yet"),
        "{}",
        report.text
    );
    let left = files_in(&dir);
    assert!(left.is_empty(), "check-config made {left:?}");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(site).unwrap();
}

#[tokio::test]
async fn a_settings_file_everyone_can_read_must_not_hold_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let site = built_site();
    let path = dir.join("latchkey.toml");
    let text = format!(
        "latchkey_secret = \"a secret of more than thirty-two bytes, surely\"\n\
         database_url = \"sqlite://{}/l.db\"\n{}",
        dir.display(),
        serving(&site)
    );
    std::fs::write(&path, &text).unwrap();
    let warned = |mode: u32| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let sources = Sources::from_toml(path.clone(), &text).unwrap().file_only();
        async move {
            let report = check(&sources).await;
            assert!(report.ok(), "{}", report.text);
            report
                .text
                .contains("is readable by every user and holds LATCHKEY_SECRET")
        }
    };
    assert!(warned(0o644).await);
    assert!(!warned(0o640).await);
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(site).unwrap();
}

/// An existing database (WAL mode, as the server leaves it) comes back
/// byte for byte, with no side file left behind.
#[tokio::test]
async fn an_existing_sqlite_database_is_left_as_it_was() {
    let dir = scratch();
    let path = dir.join("latchkey.db");
    let url = format!("sqlite://{}", path.display());
    let db = common::connect(&url).await;
    db.pool.close().await;
    let (before, bytes) = (files_in(&dir), std::fs::read(&path).unwrap());
    assert_eq!(before, ["latchkey.db"]);
    let site = built_site();
    let report = check(&sources(&format!(
        "database_url = \"{url}\"\n{}",
        serving(&site)
    )))
    .await;
    assert!(
        report.ok() && !report.text.contains("migration(s)"),
        "{}",
        report.text
    );
    assert_eq!(files_in(&dir), before);
    assert!(std::fs::read(&path).unwrap() == bytes, "the file changed");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(site).unwrap();
}
