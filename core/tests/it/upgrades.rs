//! Operating a deployment: a database made by the previous release, with
//! people, sessions, an app and a mail in it, opened by this build (its
//! start applies the newer migrations, as `latchkey serve` does); and the
//! copy `latchkey backup` takes of a SQLite database in use.

use std::borrow::Cow;

use latchkey_core::oidc::{AppCredentials, TokenParams};
use latchkey_core::tokens::token_hash;
use latchkey_core::{ErrorCode, Hasher, Services};

use super::*;
use common::PASSWORD;

/// The newest migration the previous release carried. When a release
/// ships, move this to its newest and add rows for the tables it brought
/// to `previous_release_data` (in the columns that release had).
const PREVIOUS_RELEASE: i64 = 12;

const SESSION_REFRESH: &str = "oldSessionRefreshToken0123456789abcdefghijk";
const APP_SECRET: &str = "theAppSecretFromThePreviousRelease012345678";
const APP_REFRESH: &str = "oldAppRefreshToken0123456789abcdefghijklmnop";

/// SHA-384 of each migration as it shipped (what sqlx records and checks
/// at every start): a shipped migration is never edited, or databases
/// made by it would refuse to start. Add each new one when it ships.
const SHIPPED: &[(i64, &str)] = &[
    (1, "b5db7f06d7bbf7c541d808d101ba99612338b9b57e6b1638f864be625e5bf5cfb4eb6564b6cd94bdefe73dd03cb1f238"),
    (2, "de240e17ec912812019b4eee018ad0ae896aee7eb8f9a617a4cf1cc6578d7f572696db406e35d9fb575bbd433466c68d"),
    (3, "64dfbd1f29407fb5e9919075b3def784225ae7cc11e4dd590448dfd5e1d6698b27e28ea20ab04ce332b927cdc980cdfd"),
    (4, "fafa7cb266f6f723f90cf164d5eff9896ab8fb1d4e5f79b60d73647207faa54b3047b08231fb13365f865c09c76cfa9c"),
    (5, "d1e658433941ba0642770da5dbf905e225b25ff275772f5fac1dc0e2bc5c263e630847c05a13783434c2eadc572f34c3"),
    (6, "88dbfbfc13ca4d5b58d665d77534705659ba33a358a12a258115e164c93c1c2b5ff39e12e2c5f0dec807befc883bbfc6"),
    (7, "300f31cc45f64439c48b35d6c87ff9f7f294a5fb4b8d7253c8878ef80750172afe4b4814cb82fd807d5c42de81d87eed"),
    (8, "3e13f07ecdf8dad4233afb3f73dc202cc241039561522a5cd3c3e6f18f3ef9e4463fecc25ee5f882c50314987c4b72a0"),
    (9, "0e9a42cb533c34bd5038116c90791f6367cecb4ed4a7c38109d48335fcf617347600b27047ac357cb2a4bc75c3ee9c65"),
    (10, "fef2c4de64e7fcdf8482f099b4bede66797605bef6e89b06f62811dc242459bbcc4a7cda2c91849542732e4648db6aae"),
    (11, "0730984b04871897f2631800fddcc6c50f9e702d9136c6f8e5a1dacd40da02b5a50dd3da54b6682e6f1d28e1bbaf7f39"),
    (12, "de379da180c5b59b19355fcef938364ffaab32a60b84d4ebc8e57a8f501a02401817dc9fb6cccf860213dcc8a17f3dd3"),
    (13, "8ca4688d9806961a602e025d02e5fc10961290d3061b93c7b64339f4d7364ae5eeb1565614ae7c8fe406a0db6734b5c5"),
];

#[test]
fn shipped_migrations_are_never_edited() {
    for (version, sha384) in SHIPPED {
        let migration = latchkey_core::db::MIGRATIONS
            .iter()
            .find(|m| m.version == *version)
            .unwrap_or_else(|| panic!("migration {version} is gone"));
        let found: String = migration
            .checksum
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            &found, sha384,
            "migration {version} was edited after it shipped"
        );
    }
    assert!(SHIPPED.iter().any(|(v, _)| *v == PREVIOUS_RELEASE));
}

/// The previous release's migrations, applied to the empty database at
/// `url`.
async fn previous_release_schema(url: &str) -> latchkey_core::Db {
    let db = latchkey_core::Db::connect(url).await.unwrap();
    let mut migrator = sqlx::migrate!("./migrations");
    let old: Vec<_> = migrator
        .iter()
        .filter(|m| m.version <= PREVIOUS_RELEASE)
        .cloned()
        .collect();
    assert!(
        old.len() < migrator.iter().count(),
        "this build brings migrations after the previous release's"
    );
    migrator.migrations = Cow::Owned(old);
    migrator.run(&db.pool).await.unwrap();
    db
}

/// What a deployment of the previous release holds, written in its columns.
async fn previous_release_data(db: &latchkey_core::Db) {
    let now = latchkey_core::now();
    let later = now + 86_400;
    let hash = Hasher::new(latchkey_core::AuthConfig::for_tests().hash_params, 1)
        .hash(PASSWORD.into())
        .await
        .unwrap();
    let statements: Vec<(&str, Vec<String>)> = vec![
        (
            "INSERT INTO users (id, email, username, password_hash, role, email_verified, disabled, created_at, updated_at, locale) \
             VALUES ($1, 'alice@example.com', 'alice', $2, 'user', 1, 0, $3, $3, 'ko'), \
                    ($4, 'bob@example.com', 'bob', $2, 'user', 1, 1, $3, $3, 'en'), \
                    ($5, 'carol@example.com', 'carol', $2, 'admin', 1, 0, $3, $3, 'en')",
            vec!["u-alice".into(), hash, now.to_string(), "u-bob".into(), "u-carol".into()],
        ),
        (
            "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, expires_at) \
             VALUES ('s-alice', 'u-alice', 'Firefox', '192.0.2.1', $1, $1, $2)",
            vec![now.to_string(), later.to_string()],
        ),
        (
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
             VALUES ($1, 's-alice', $2, $3)",
            vec![token_hash(SESSION_REFRESH), now.to_string(), later.to_string()],
        ),
        (
            "INSERT INTO audit_events (id, at, kind, user_id, ip) \
             VALUES ('018f0000-0000-7000-8000-000000000001', $1, 'sign_up', 'u-alice', '192.0.2.1')",
            vec![now.to_string()],
        ),
        (
            "INSERT INTO outbox (id, recipient, subject, body_text, body_html, next_attempt_at, created_at) \
             VALUES ('m-1', 'alice@example.com', 'Queued before the upgrade', 'Hello', '<p>Hello</p>', $1, $1)",
            vec![now.to_string()],
        ),
        (
            "INSERT INTO oauth_clients (id, name, redirect_uris, post_logout_redirect_uris, secret_hash, scopes, grants, id_token_alg, created_at, updated_at) \
             VALUES ('notes', 'Notes', 'https://notes.example.com/cb', '', $1, 'openid profile email offline_access', \
                     'authorization_code refresh_token', 'EdDSA', $2, $2)",
            vec![token_hash(APP_SECRET), now.to_string()],
        ),
        (
            "INSERT INTO oauth_consents (user_id, client_id, scopes, created_at, updated_at) \
             VALUES ('u-alice', 'notes', 'openid offline_access', $1, $1)",
            vec![now.to_string()],
        ),
        (
            "INSERT INTO oauth_grants (id, client_id, user_id, session_id, scopes, created_at, expires_at) \
             VALUES ('g-1', 'notes', 'u-alice', 's-alice', 'openid offline_access', $1, $2)",
            vec![now.to_string(), later.to_string()],
        ),
        (
            "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at) \
             VALUES ($1, 'g-1', $2, $3)",
            vec![token_hash(APP_REFRESH), now.to_string(), later.to_string()],
        ),
    ];
    for (sql, values) in statements {
        let mut query = sqlx::query(sql);
        for value in values {
            // Times are BIGINT columns: bind them as numbers.
            query = match value.parse::<i64>() {
                Ok(n) => query.bind(n),
                Err(_) => query.bind(value),
            };
        }
        query
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

on_both_backends!(
    a_previous_release_database_upgrades_with_everything_in_it_working,
    |backend| {
        let url = common::fresh_db_url(backend).await;
        let old = previous_release_schema(&url).await;
        previous_release_data(&old).await;
        old.pool.close().await;

        // This build's start: every newer migration, then the services.
        let db = common::connect(&url).await;
        let (smtp_port, inbox) = latchkey_testkit::smtp::start().await;
        let s = Services::new(
            db,
            common::ephemeral(backend).await,
            latchkey_core::AuthConfig::for_tests(),
            common::letters(),
        );
        s.keys.ready().await.unwrap();
        common::start_outbox(&s, smtp_port);
        let client = common::client();

        // The mail queued before the upgrade goes out after it.
        inbox
            .wait_for_subject("alice@example.com", "Queued before the upgrade")
            .await;

        // People sign in as before, sessions carry on, the disabled stay out.
        let (user, _) = s
            .accounts()
            .login("alice", PASSWORD.into(), &client)
            .await
            .unwrap();
        assert_eq!((user.id.as_str(), user.locale.as_str()), ("u-alice", "ko"));
        let (issued, auth) = s
            .sessions()
            .refresh(SESSION_REFRESH, &client)
            .await
            .unwrap();
        assert_eq!(auth.session_id, "s-alice");
        assert!(s
            .sessions()
            .authenticate(&issued.access_token, &client)
            .await
            .unwrap()
            .is_some());
        let refused = s
            .accounts()
            .login("bob", PASSWORD.into(), &client)
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::AccountDisabled);

        // The admin sees everyone and the old log.
        let (carol, _) = s
            .accounts()
            .login("carol", PASSWORD.into(), &client)
            .await
            .unwrap();
        assert_eq!(carol.role, latchkey_core::model::Role::Admin);
        let users = s.admin().list_users(&Default::default()).await.unwrap();
        assert_eq!(users.total, 3);
        let log = s
            .admin()
            .activity(&latchkey_core::audit::ActivityFilter {
                user_id: Some("u-alice".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(log
            .events
            .iter()
            .any(|e| e.kind == latchkey_core::model::EventKind::SignUp));

        // The app keeps its secret and its user's grant; a session from
        // before the upgrade claims no sign-in method.
        let tokens = s
            .oidc()
            .token(
                &AppCredentials {
                    client_id: Some("notes".into()),
                    client_secret: Some(APP_SECRET.into()),
                    basic: false,
                    assertion: None,
                },
                &TokenParams {
                    grant_type: Some("refresh_token".into()),
                    refresh_token: Some(APP_REFRESH.into()),
                    ..Default::default()
                },
                &client,
            )
            .await
            .unwrap();
        assert!(tokens
            .refresh_token
            .as_ref()
            .is_some_and(|t| t != APP_REFRESH));
        let claims = s.oidc().userinfo(&tokens.access_token).await.unwrap();
        assert_eq!(claims["sub"], "u-alice");
        let (method,): (String,) =
            sqlx::query_as("SELECT method FROM sessions WHERE id = 's-alice'")
                .fetch_one(&s.db.pool)
                .await
                .unwrap();
        assert_eq!(method, "", "an old session claims no sign-in method");
    }
);

on_both_backends!(
    a_sqlite_backup_is_a_working_copy_taken_while_in_use,
    |backend| {
        let s = common::services(backend).await;
        let dir = std::env::temp_dir().join(format!("lk-backup-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("it's a copy.db");
        if let common::Backend::Postgres = backend {
            let refused = s.db.backup_to(&copy).await.unwrap_err();
            assert!(refused.contains("pg_dump"), "{refused}");
            return;
        }
        let kept = common::sign_up(&s).await;
        // Taken while sign-ups keep arriving.
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { common::sign_up(&s).await })
            })
            .collect();
        s.db.backup_to(&copy).await.unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "password hashes are for the owner only"
            );
        }
        let after = common::sign_up(&s).await;
        let mut racing = Vec::new();
        for writer in writers {
            racing.push(writer.await.unwrap());
        }
        let refused = s.db.backup_to(&copy).await.unwrap_err();
        assert!(refused.contains("exists already"), "{refused}");

        // The copy opens, holds what was there when it was taken, and works.
        let restored = Services::new(
            common::connect(&format!("sqlite://{}", copy.display())).await,
            common::ephemeral(backend).await,
            latchkey_core::AuthConfig::for_tests(),
            common::letters(),
        );
        restored.keys.ready().await.unwrap();
        let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&restored.db.pool)
            .await
            .unwrap();
        assert_eq!(integrity, "ok");
        let missing = latchkey_core::user_store::by_id(&restored.db, &after.user.id)
            .await
            .unwrap();
        assert!(missing.is_none(), "a sign-up after the copy is not in it");
        // A sign-up racing the copy is in it whole (account, log entry and
        // session: one transaction) or not at all.
        for account in &racing {
            let mut whole = Vec::new();
            for sql in [
                "SELECT count(*) FROM users WHERE id = $1",
                "SELECT count(*) FROM audit_events WHERE user_id = $1 AND kind = 'sign_up'",
                "SELECT count(*) FROM sessions WHERE user_id = $1",
            ] {
                let (n,): (i64,) = sqlx::query_as(sql)
                    .bind(&account.user.id)
                    .fetch_one(&restored.db.pool)
                    .await
                    .unwrap();
                whole.push(n > 0);
            }
            assert!(whole == [true; 3] || whole == [false; 3], "{whole:?}");
        }
        restored
            .accounts()
            .login(&kept.user.email, PASSWORD.into(), &common::client())
            .await
            .unwrap();
        common::sign_up(&restored).await;
        std::fs::remove_dir_all(dir).unwrap();
    }
);
