//! The admin console's services and API: who may use them, what each action
//! does, that the last admin cannot be removed, that everything is in the
//! activity log, and that the user list stays fast with 10,000 users.

use crate::common;

use std::time::{Duration, Instant};

use app::model::{EventKind, Role, UserChange, UserQuery};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::http::*;
use common::{auth_of, leptos_options, make_admin, sign_up, Backend, NO_CLIENT, PASSWORD};
use latchkey_core::audit::ActivityFilter;
use latchkey_core::ErrorCode;
use latchkey_core::{Auth, ClientInfo, Services};
use serde_json::json;

fn router(s: &Services) -> Router {
    server::router::build(s.clone(), leptos_options(), ORIGIN)
}

fn admin_client() -> ClientInfo {
    ClientInfo {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36".into()),
        locale: "en",
        device: None,
    }
}

/// The admin's `Auth`, as the session middleware would build it.
async fn admin_auth(s: &Services) -> Auth {
    let admin = make_admin(s).await;
    Auth {
        client: admin_client(),
        ..auth_of(s, &admin).await
    }
}

fn change(role: Option<Role>, disabled: Option<bool>) -> UserChange {
    UserChange {
        role,
        disabled,
        email_verified: None,
    }
}

async fn events_of(s: &Services, user_id: &str) -> Vec<app::model::ActivityEvent> {
    s.admin()
        .activity(&ActivityFilter {
            user_id: Some(user_id.to_owned()),
            limit: Some(200),
            ..ActivityFilter::default()
        })
        .await
        .unwrap()
        .events
}

/// An app, as the console registers it.
fn app_spec() -> serde_json::Value {
    serde_json::json!({
        "name": "Notes",
        "redirect_uris": ["https://notes.example.com/callback"],
        "confidential": true,
        "scopes": ["openid"],
        "grant_types": ["authorization_code"],
    })
}

/// A webhook endpoint, as the console registers it.
fn webhook_spec() -> serde_json::Value {
    serde_json::json!({ "url": "https://hooks.example.com/latchkey", "events": ["user.created"] })
}

fn request(method: &str, uri: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let apps = uri.starts_with("/api/v1/admin/apps") && !uri.ends_with("/secret");
    let webhooks = uri.starts_with("/api/v1/admin/webhooks")
        && !uri.ends_with("/secret")
        && !uri.ends_with("/send-again");
    let body = match method {
        "PATCH" => "{}".to_owned(),
        "POST" | "PUT" if apps => app_spec().to_string(),
        "POST" | "PUT" if webhooks => webhook_spec().to_string(),
        _ => String::new(),
    };
    req.body(Body::from(body)).unwrap()
}

on_both_backends!(every_admin_route_is_for_admins_only, |backend| {
    let s = common::services(backend).await;
    let app = router(&s);
    let admin = make_admin(&s).await;
    let user = sign_up(&s).await;
    let victim = sign_up(&s).await;

    let doc = body_json(send(&app, page_get("/api/v1/openapi.json", "")).await).await;
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.starts_with("/admin") {
            for method in item.as_object().unwrap().keys() {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert_eq!(routes.len(), 24, "{routes:?}");
    let registered = send(
        &app,
        request(
            "POST",
            "/api/v1/admin/apps",
            Some(&admin.issued.access_token),
        ),
    )
    .await;
    let client_id = body_json(registered).await["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook = body_json(
        send(
            &app,
            request(
                "POST",
                "/api/v1/admin/webhooks",
                Some(&admin.issued.access_token),
            ),
        )
        .await,
    )
    .await["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A sign-up queues a delivery (nothing sends it here).
    sign_up(&s).await;
    let page = body_json(
        send(
            &app,
            bearer_get(
                &format!("/api/v1/admin/webhooks/{webhook}/deliveries"),
                &admin.issued.access_token,
            ),
        )
        .await,
    )
    .await;
    let message_id = page["deliveries"][0]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Destructive routes last, the user's deletion very last.
    routes.sort_by_key(|(method, path)| (method == "DELETE", std::cmp::Reverse(path.len())));

    for (method, path) in &routes {
        let id = match path.starts_with("/admin/webhooks") {
            true => &webhook,
            false => &victim.user.id,
        };
        let uri = format!(
            "/api/v1{}",
            path.replace("{id}", id)
                .replace("{session_id}", &victim.issued.session_id)
                .replace("{client_id}", &client_id)
                .replace("{message_id}", &message_id)
        );
        let anonymous = send(&app, request(method, &uri, None)).await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {uri}"
        );
        assert_error(&body_json(anonymous).await, "unauthorized");

        let refused = send(&app, request(method, &uri, Some(&user.issued.access_token))).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{method} {uri}");
        assert_error(&body_json(refused).await, "forbidden");

        let allowed = send(
            &app,
            request(method, &uri, Some(&admin.issued.access_token)),
        )
        .await;
        assert!(
            allowed.status().is_success(),
            "{method} {uri} as admin → {}: {}",
            allowed.status(),
            body_text(allowed).await
        );
    }
    // The last route deleted the victim.
    let gone = send(
        &app,
        bearer_get(
            &format!("/api/v1/admin/users/{}", victim.user.id),
            &admin.issued.access_token,
        ),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // A demoted admin loses the console on their very next request.
    let second = make_admin(&s).await;
    let acting = auth_of(&s, &admin).await;
    s.admin()
        .change_user(&acting, &second.user.id, &change(Some(Role::User), None))
        .await
        .unwrap();
    let res = send(
        &app,
        bearer_get("/api/v1/admin/users", &second.issued.access_token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
});

on_both_backends!(the_last_admin_cannot_be_removed, |backend| {
    let s = common::services(backend).await;
    let admin = admin_auth(&s).await;
    let me = admin.user.id.clone();
    for attempt in [change(Some(Role::User), None), change(None, Some(true))] {
        let err = s
            .admin()
            .change_user(&admin, &me, &attempt)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::LastAdmin, "{attempt:?}");
    }
    let err = s.admin().admin_delete_user(&admin, &me).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::LastAdmin);

    // A disabled admin is no admin: the enabled one is still the last.
    let other = sign_up(&s).await;
    s.admin()
        .change_user(
            &admin,
            &other.user.id,
            &change(Some(Role::Admin), Some(true)),
        )
        .await
        .unwrap();
    let err = s
        .admin()
        .change_user(&admin, &me, &change(Some(Role::User), None))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::LastAdmin);

    // Two enabled admins demoting each other at the same moment: one wins.
    for _ in 0..5 {
        s.admin()
            .change_user(
                &admin,
                &other.user.id,
                &change(Some(Role::Admin), Some(false)),
            )
            .await
            .unwrap();
        let other_auth = Auth {
            user: app::model::User {
                role: Role::Admin,
                ..other.user.clone()
            },
            ..admin.clone()
        };
        let (a, b) = tokio::join!(
            {
                let s = s.clone();
                let admin = admin.clone();
                let target = other.user.id.clone();
                tokio::spawn(async move {
                    s.admin()
                        .change_user(&admin, &target, &change(Some(Role::User), None))
                        .await
                })
            },
            {
                let s = s.clone();
                let me = me.clone();
                tokio::spawn(async move {
                    s.admin()
                        .change_user(&other_auth, &me, &change(Some(Role::User), None))
                        .await
                })
            }
        );
        let results = [a.unwrap(), b.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{results:?}");
        let admins = s
            .admin()
            .list_users(&UserQuery {
                role: Some(Role::Admin),
                disabled: Some(false),
                ..UserQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(admins.total, 1);
        // Put the original admin back in charge for the next round.
        if results[1].is_ok() {
            let survivor = Auth {
                user: app::model::User {
                    id: other.user.id.clone(),
                    role: Role::Admin,
                    ..admin.user.clone()
                },
                ..admin.clone()
            };
            s.admin()
                .change_user(&survivor, &me, &change(Some(Role::Admin), None))
                .await
                .unwrap();
        }
    }
});

on_both_backends!(admin_actions_do_what_they_say_and_are_logged, |backend| {
    let (s, inbox) =
        common::services_with_smtp(backend, latchkey_core::AuthConfig::for_tests()).await;
    let admin = admin_auth(&s).await;
    let user = sign_up(&s).await;
    let id = user.user.id.as_str();
    let client = ClientInfo::default();

    // Disable: the open session is refused at once, and so is a log-in.
    let disabled = s
        .admin()
        .change_user(&admin, id, &change(None, Some(true)))
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert!(s
        .sessions()
        .authenticate(&user.issued.access_token, &client)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .sessions()
        .refresh(&user.issued.refresh_token, &client)
        .await
        .is_err());
    let err = s
        .accounts()
        .login(&user.email, PASSWORD.into(), &client)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AccountDisabled);
    let err = s.admin().admin_send_reset(&admin, id).await.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::AccountDisabled,
        "no reset link while disabled"
    );

    // Enable, promote, verify by hand.
    s.admin()
        .change_user(&admin, id, &change(None, Some(false)))
        .await
        .unwrap();
    let (_, issued) = s
        .accounts()
        .login(&user.email, PASSWORD.into(), &client)
        .await
        .unwrap();
    let promoted = s
        .admin()
        .change_user(
            &admin,
            id,
            &UserChange {
                role: Some(Role::Admin),
                disabled: None,
                email_verified: Some(true),
            },
        )
        .await
        .unwrap();
    assert_eq!(promoted.user.role, Role::Admin);
    assert!(promoted.user.email_verified);
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &client)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.user.role, Role::Admin, "the role is read fresh");
    let err = s
        .admin()
        .change_user(
            &admin,
            id,
            &UserChange {
                email_verified: Some(false),
                ..UserChange::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);

    // A reset link over real SMTP, which then works.
    s.admin().admin_send_reset(&admin, id).await.unwrap();
    let mail = inbox.wait_for_subject(&user.email, "Reset your").await;
    let token = common::smtp::reset_token_in(&mail);
    s.passwords()
        .reset_password(&token, "an admin-sent new passphrase".into(), &client)
        .await
        .unwrap();

    // The detail shows the live session; revoking ends them all.
    let detail = s.admin().user_detail(id).await.unwrap();
    assert_eq!(detail.sessions.len(), 1, "the reset's fresh session");
    assert!(detail.activity.len() >= 5);
    let ended = s
        .admin()
        .admin_revoke_sessions(&admin, id, None)
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(s.admin().user_detail(id).await.unwrap().sessions.is_empty());
    let err = s
        .admin()
        .admin_revoke_sessions(&admin, id, Some("no-such-session"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);

    // Delete: gone, the address free again, the log kept.
    s.admin().admin_delete_user(&admin, id).await.unwrap();
    assert_eq!(
        s.admin().user_detail(id).await.unwrap_err().code,
        ErrorCode::NotFound
    );

    let events = events_of(&s, id).await;
    let by_admin: Vec<EventKind> = events
        .iter()
        .filter(|e| e.by_admin)
        .map(|e| e.kind)
        .rev()
        .collect();
    assert_eq!(
        by_admin,
        [
            EventKind::UserDisabled,
            EventKind::UserEnabled,
            EventKind::RoleChanged,
            EventKind::EmailVerified,
            EventKind::PasswordResetRequested,
            EventKind::SessionRevoked,
            EventKind::AccountDeleted,
        ]
    );
    for event in events.iter().filter(|e| e.by_admin) {
        let actor = event.actor.as_ref().expect("the acting admin");
        assert_eq!(actor.id, admin.user.id);
        assert_eq!(
            actor.username.as_deref(),
            Some(admin.user.username.as_str())
        );
        assert_eq!(event.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(event.device.as_deref(), Some("Chrome 131 · Linux"));
        let subject = event.user.as_ref().unwrap();
        assert_eq!(subject.id, id);
        assert_eq!(subject.username, None, "the account is gone");
    }
    let deleted = events
        .iter()
        .find(|e| e.kind == EventKind::AccountDeleted)
        .unwrap();
    assert_eq!(deleted.detail.as_deref(), Some(user.email.as_str()));
    // The user's own steps are there too.
    for kind in [
        EventKind::SignUp,
        EventKind::CodeSent,
        EventKind::LoginFailed,
        EventKind::LoginSucceeded,
        EventKind::PasswordReset,
    ] {
        assert!(
            events.iter().any(|e| e.kind == kind && !e.by_admin),
            "{kind:?}"
        );
    }
    let failed = events
        .iter()
        .find(|e| e.kind == EventKind::LoginFailed)
        .unwrap();
    assert_eq!(
        failed.reason,
        Some(latchkey_core::model::EventReason::Disabled)
    );
});

on_both_backends!(
    the_activity_log_filters_pages_and_hides_admins_from_users,
    |backend| {
        let s = common::services(backend).await;
        let admin = admin_auth(&s).await;
        let user = sign_up(&s).await;
        let client = ClientInfo {
            ip: Some("198.51.100.9".into()),
            user_agent: Some("curl/8.5.0".into()),
            locale: "en",
            device: None,
        };
        for _ in 0..3 {
            s.accounts()
                .login(&user.name, "not the password".into(), &client)
                .await
                .unwrap_err();
        }
        s.accounts()
            .login("nobody-at-all", "whatever".into(), &client)
            .await
            .unwrap_err();
        s.admin()
            .change_user(&admin, &user.user.id, &change(None, Some(true)))
            .await
            .unwrap();

        let failed = s
            .admin()
            .activity(&ActivityFilter {
                kind: Some(EventKind::LoginFailed),
                search: Some(user.name.clone()),
                limit: Some(50),
                ..ActivityFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(failed.events.len(), 3);
        assert!(failed.events.iter().all(|e| e.reason
            == Some(latchkey_core::model::EventReason::WrongPassword)
            && e.device.as_deref() == Some("curl")));
        let unknown = s
            .admin()
            .activity(&ActivityFilter {
                search: Some("198.51.100.9".into()),
                kind: Some(EventKind::LoginFailed),
                limit: Some(50),
                ..ActivityFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            unknown.events.len(),
            4,
            "searching by IP finds the unknown name too"
        );
        assert!(unknown.events.iter().any(|e| e.user.is_none()
            && e.reason == Some(latchkey_core::model::EventReason::UnknownAccount)));

        // Pages of two, newest first, with nothing lost or repeated.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = s
                .admin()
                .activity(&ActivityFilter {
                    user_id: Some(user.user.id.clone()),
                    before: before.clone(),
                    limit: Some(2),
                    ..ActivityFilter::default()
                })
                .await
                .unwrap();
            seen.extend(page.events.iter().map(|e| e.id.clone()));
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        let all: Vec<String> = events_of(&s, &user.user.id)
            .await
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(seen, all);
        assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first");

        let admin_only = s
            .admin()
            .activity(&ActivityFilter {
                admin_only: true,
                limit: Some(50),
                ..ActivityFilter::default()
            })
            .await
            .unwrap();
        assert!(admin_only.events.iter().all(|e| e.by_admin));
        assert!(admin_only
            .events
            .iter()
            .any(|e| e.kind == EventKind::UserDisabled));

        // The user sees that an administrator acted, not who.
        let own = s
            .accounts()
            .own_activity(&user.user.id, None)
            .await
            .unwrap();
        let disabled = own
            .events
            .iter()
            .find(|e| e.kind == EventKind::UserDisabled)
            .unwrap();
        assert!(disabled.by_admin && disabled.actor.is_none() && disabled.user.is_none());

        // Over the API: the user's own log, and the admin's filtered one.
        let app = router(&s);
        let other = sign_up(&s).await;
        let res = send(
            &app,
            bearer_get("/api/v1/me/activity", &other.issued.access_token),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body = body_json(res).await;
        assert_eq!(body["events"][0]["kind"], "code_sent");
        assert_eq!(body["events"][1]["kind"], "sign_up");
        assert!(body["events"][0].get("actor").is_none());
        let admin_login = make_admin(&s).await;
        let res = send(
            &app,
            bearer_get(
                "/api/v1/admin/events?kind=login_failed&q=198.51.100.9&limit=2",
                &admin_login.issued.access_token,
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body = body_json(res).await;
        assert_eq!(body["events"].as_array().unwrap().len(), 2);
        assert!(body["next_before"].is_string());
        let res = send(
            &app,
            bearer_get(
                "/api/v1/admin/events?kind=nonsense",
                &admin_login.issued.access_token,
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_error(&body_json(res).await, "bad_request");
    }
);

/// Inserts `n` users straight into the table (hashing 10,000 passwords would
/// take minutes and test nothing here): every 7th verified, every 13th
/// disabled, every 1000th an admin.
async fn seed_users(s: &Services, n: usize) {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVk$ZmFrZWZha2VmYWtlZmFrZWZha2VmYWtlZmFrZWZha2U";
    for chunk in (1..=n).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('seed-{i:05}', 'seed{i:05}@example.com', 'seed{i:05}', '{hash}', '{}', {}, {}, {i}, {i})",
                    if i % 1000 == 0 { "admin" } else { "user" },
                    i64::from(i % 7 == 0),
                    i64::from(i % 13 == 0),
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO users (id, email, username, password_hash, role, email_verified, disabled, created_at, updated_at) VALUES {}",
            values.join(", ")
        ))
        .execute(&s.db.pool)
        .await
        .unwrap();
    }
}

on_both_backends!(ten_thousand_users_search_filter_and_page_fast, |backend| {
    let s = common::services(backend).await;
    seed_users(&s, 10_000).await;
    let query = |q: Option<&str>, page: Option<u32>| UserQuery {
        q: q.map(str::to_owned),
        page,
        ..UserQuery::default()
    };

    let first = s.admin().list_users(&query(None, None)).await.unwrap();
    assert_eq!(first.total, 10_000);
    assert_eq!(first.users.len(), 25);
    assert_eq!(first.users[0].user.username, "seed10000", "newest first");

    let found = s
        .admin()
        .list_users(&query(Some("SEED0042"), None))
        .await
        .unwrap();
    assert_eq!(found.total, 10, "seed00420 … seed00429");
    let literal = s
        .admin()
        .list_users(&query(Some("seed_0"), None))
        .await
        .unwrap();
    assert_eq!(literal.total, 0, "'_' is a character, not a wildcard");

    let disabled = s
        .admin()
        .list_users(&UserQuery {
            disabled: Some(true),
            verified: Some(true),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        disabled.total,
        (1..=10_000).filter(|i| i % 91 == 0).count() as i64
    );
    let admins = s
        .admin()
        .list_users(&UserQuery {
            role: Some(Role::Admin),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(admins.total, 10);

    let last = s.admin().list_users(&query(None, Some(400))).await.unwrap();
    assert_eq!(last.users.len(), 25);
    assert_eq!(last.users[24].user.username, "seed00001");
    assert!(s
        .admin()
        .list_users(&query(None, Some(401)))
        .await
        .unwrap()
        .users
        .is_empty());

    // Speed: the service call and the whole SSR page, as the console loads them.
    let admin = make_admin(&s).await;
    let app = router(&s);
    let cookie = format!("lk_access={}", admin.issued.access_token);
    let mut service = Vec::new();
    let mut pages = Vec::new();
    for (i, q) in ["", "seed0", "example.com", "seed099"]
        .iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        let started = Instant::now();
        s.admin()
            .list_users(&UserQuery {
                q: Some(q.to_string()),
                page: Some(i as u32 % 7 + 1),
                verified: (i % 2 == 0).then_some(false),
                ..UserQuery::default()
            })
            .await
            .unwrap();
        service.push(started.elapsed());
        let started = Instant::now();
        let res = send(
            &app,
            page_get(&format!("/admin/users?q={q}&page={}", i % 7 + 1), &cookie),
        )
        .await;
        let status = res.status();
        let html = body_text(res).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        pages.push(started.elapsed());
        assert!(html.contains("seed"), "the page lists users");
    }
    service.sort();
    pages.sort();
    println!(
        "{backend:?}, 10,000 users: list_users median {:?} max {:?}; SSR /admin median {:?} max {:?}",
        service[10], service[19], pages[10], pages[19]
    );
    assert!(service[10] < Duration::from_millis(250), "{service:?}");
    assert!(pages[10] < Duration::from_millis(500), "{pages:?}");
});

on_both_backends!(create_admin_creates_or_promotes, |backend| {
    let s = common::services(backend).await;
    let user = sign_up(&s).await;
    // Never verified: whoever signed up may not own the mailbox.
    let err = s
        .admin()
        .create_admin(&user.email, "ignored-name", false, || {
            panic!("an existing account needs no password")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(
        common::words(&err).contains("--reset"),
        "{}",
        common::words(&err)
    );
    let auth = common::auth_of(&s, &user).await;
    assert_eq!(auth.user.role, Role::User, "nothing changed");

    // --reset ends the squatter's sessions and clears the password first.
    let (promoted, created) = s
        .admin()
        .create_admin(&user.email.to_uppercase(), "ignored-name", true, || {
            panic!("an existing account needs no password")
        })
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(promoted.user.role, Role::Admin);
    assert!(promoted.user.email_verified);
    assert_eq!(promoted.user.username, user.name);
    assert!(
        s.sessions()
            .authenticate(&user.issued.access_token, &NO_CLIENT)
            .await
            .unwrap()
            .is_none(),
        "the live token did not become an administrator's"
    );
    let err = s
        .accounts()
        .login(&user.email, PASSWORD.into(), &NO_CLIENT)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials, "password cleared");

    // A verified account is promoted as it is.
    let verified = sign_up(&s).await;
    latchkey_core::user_store::set_email_verified(&s.db, &verified.user.id, 0)
        .await
        .unwrap();
    let (promoted, _) = s
        .admin()
        .create_admin(&verified.email, "ignored-name", false, || {
            panic!("an existing account needs no password")
        })
        .await
        .unwrap();
    assert_eq!(promoted.user.role, Role::Admin);
    s.accounts()
        .login(&verified.email, PASSWORD.into(), &NO_CLIENT)
        .await
        .expect("its password still works");

    let err = s
        .admin()
        .create_admin("new@example.com", "newadmin", false, || {
            Ok("password".into())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::WeakPassword);
    let err = s
        .admin()
        .create_admin("not-an-email", "newadmin", false, || Ok(PASSWORD.into()))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);

    let events = events_of(&s, &user.user.id).await;
    let promotion = events
        .iter()
        .find(|e| e.kind == EventKind::RoleChanged)
        .unwrap();
    assert!(promotion.by_admin);
    assert_eq!(
        promotion.reason,
        Some(latchkey_core::model::EventReason::Cli)
    );
    assert_eq!(promotion.detail.as_deref(), Some("admin"));
});

/// The real binary: `server create-admin` reads the password from standard
/// input (never an argument), and a second run promotes without one.
#[tokio::test]
async fn the_create_admin_command_works_from_a_script() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let url = common::fresh_db_url(Backend::Sqlite).await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .env_remove("REDIS_URL")
            .env_remove("SMTP_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the server binary");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = run(
        &[
            "create-admin",
            "--email",
            "root@example.com",
            "--username",
            "root",
        ],
        "password\n",
    );
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("common"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );

    let made = run(
        &[
            "create-admin",
            "--email",
            "root@example.com",
            "--username",
            "root",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).contains("Created the administrator root"));
    let again = run(
        &[
            "create-admin",
            "--email",
            "root@example.com",
            "--username",
            "root",
        ],
        "",
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("is now an administrator"));

    let s = latchkey_core::Services::new(
        common::connect(&url).await,
        std::sync::Arc::new(latchkey_core::MemoryStore::new()),
        latchkey_core::AuthConfig::for_tests(),
        common::letters(),
    );
    s.keys.ready().await.unwrap();
    let (user, _) = s
        .accounts()
        .login("root", PASSWORD.into(), &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(user.role, Role::Admin);
    assert!(user.email_verified);
    let app = router(&s);
    let res = send(
        &app,
        json_post(
            "/api/v1/auth/login",
            json!({"login": "root", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

on_both_backends!(
    admin_pages_and_server_functions_are_for_admins_only,
    |backend| {
        let s = common::services(backend).await;
        let app = router(&s);
        let admin = make_admin(&s).await;
        let user = sign_up(&s).await;
        let victim = sign_up(&s).await;
        let cookie =
            |account: &common::NewAccount| format!("lk_access={}", account.issued.access_token);
        // A hydrated page calls server functions with fetch (no text/html).
        let call = |uri: &str, form: String, cookie: Option<String>| {
            let mut req = Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, ORIGIN);
            if let Some(cookie) = cookie {
                req = req.header(header::COOKIE, cookie);
            }
            req.body(Body::from(form)).unwrap()
        };
        let id = &victim.user.id;
        let functions = [
            ("/fn/admin_users", "query[page]=1".to_owned()),
            ("/fn/admin_user", format!("id={id}")),
            ("/fn/admin_act", format!("id={id}&action=verify_email")),
            ("/fn/admin_delete", format!("id={id}&confirm=not-the-name")),
            (
                "/fn/admin_events",
                "q=&kind=&admin_only=false&user_id=&before=".to_owned(),
            ),
            ("/fn/admin_overview", String::new()),
        ];
        for (uri, form) in &functions {
            let res = send(&app, call(uri, form.clone(), None)).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{uri} anonymous");
            let res = send(&app, call(uri, form.clone(), Some(cookie(&user)))).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{uri} as a member");
            let res = send(&app, call(uri, form.clone(), Some(cookie(&admin)))).await;
            let status = res.status();
            let body = body_text(res).await;
            if *uri == "/fn/admin_delete" {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                assert!(body.contains("Type the username exactly"), "{body}");
            } else {
                assert!(
                    status.is_success() || status.is_redirection(),
                    "{uri} as admin → {status}: {body}"
                );
            }
        }
        assert!(
            s.admin()
                .user_detail(id)
                .await
                .unwrap()
                .user
                .user
                .email_verified,
            "admin_act ran"
        );

        for page in [
            "/admin",
            "/admin/users",
            &format!("/admin/users/{id}"),
            "/admin/activity?admin=1",
        ] {
            let res = send(&app, page_get(page, "")).await;
            assert_eq!(res.status(), StatusCode::FOUND, "{page} anonymous");
            // ...and brought back here once signed in.
            let back: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
            assert_eq!(
                res.headers()[header::LOCATION],
                format!("/login?next={back}").as_str(),
                "{page} anonymous"
            );
            let res = send(&app, page_get(page, &cookie(&user))).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{page} as a member");
            assert!(body_text(res).await.contains("Administrators only"));
            let res = send(&app, page_get(page, &cookie(&admin))).await;
            assert_eq!(res.status(), StatusCode::OK, "{page} as admin");
        }
    }
);

on_both_backends!(an_admin_resets_a_lost_second_factor, |backend| {
    let s = common::services(backend).await;
    let admin = admin_auth(&s).await;
    let user = sign_up(&s).await;
    let auth = auth_of(&s, &user).await;
    let setup = s
        .second_factors()
        .start_authenticator(&auth, PASSWORD.into())
        .await
        .unwrap();
    s.second_factors()
        .confirm_authenticator(
            &auth,
            &common::authenticator_code(&setup.secret, "now"),
            &NO_CLIENT,
        )
        .await
        .unwrap();
    let detail = s.admin().user_detail(&user.user.id).await.unwrap();
    assert!(detail.second_factors.authenticator_since.is_some());
    assert_eq!(detail.second_factors.recovery_codes_left, 10);
    let refused = s
        .accounts()
        .login(&user.email, PASSWORD.into(), &NO_CLIENT)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::MfaRequired);

    // A member may not; an admin may, over the API.
    let app = router(&s);
    let path = format!("/api/v1/admin/users/{}/second-factors", user.user.id);
    let res = send(&app, bearer_delete(&path, &user.issued.access_token)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin_account = make_admin(&s).await;
    let res = send(
        &app,
        bearer_delete(&path, &admin_account.issued.access_token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    s.accounts()
        .login(&user.email, PASSWORD.into(), &NO_CLIENT)
        .await
        .expect("the password alone signs in again");
    let detail = s.admin().user_detail(&user.user.id).await.unwrap();
    assert_eq!(detail.second_factors.authenticator_since, None);
    assert_eq!(detail.second_factors.recovery_codes_left, 0);
    let removed = events_of(&s, &user.user.id)
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::SecondFactorRemoved)
        .expect("logged");
    assert!(removed.by_admin, "with the admin as actor");
    // The console's action does the same (nothing left to remove: no
    // error, and nothing more logged).
    s.admin()
        .admin_act(
            &admin,
            &user.user.id,
            app::model::AdminAction::ResetSecondFactors,
            None,
        )
        .await
        .unwrap();
    let removals = events_of(&s, &user.user.id)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::SecondFactorRemoved)
        .count();
    assert_eq!(removals, 1);
});

on_both_backends!(the_overview_draws_each_day_and_marks_a_spike, |backend| {
    let s = common::services(backend).await;
    let app = router(&s);
    let admin = make_admin(&s).await;
    // Today: 40 failed log-ins against none before, as a flood leaves them.
    let now = latchkey_core::now();
    for i in 0..40 {
        sqlx::query("INSERT INTO audit_events (id, at, kind, reason) VALUES ($1, $2, 'login_failed', 'unknown_account')")
            .bind(format!("flood-{i}"))
            .bind(now)
            .execute(&s.db.pool)
            .await
            .unwrap();
    }
    let cookie = format!("lk_access={}", admin.issued.access_token);
    let res = send(&app, page_get("/admin", &cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    for chart in ["accounts", "logins", "mail", "webhooks"] {
        assert!(
            html.contains(&format!("data-testid=\"chart-{chart}\"")),
            "{chart}"
        );
    }
    // 30 focusable days in each of the four charts, each with its numbers.
    assert_eq!(
        html.matches("<g tabindex=\"0\" role=\"img\" aria-label=")
            .count(),
        4 * 30
    );
    assert_eq!(html.matches("class=\"chart-mark\"").count(), 1, "one spike");
    assert!(html.contains("Failed 40, Throttled 0 — Unusually many failed log-ins"));
    // The table under each chart: 30 rows each.
    assert_eq!(html.matches("<th scope=\"row\"").count(), 4 * 30);

    // The same numbers over JSON.
    let res = send(
        &app,
        request(
            "GET",
            "/api/v1/admin/overview",
            Some(&admin.issued.access_token),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let overview = body_json(res).await;
    let days = overview["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["failed_logins"], 40);
    assert_eq!(days[29]["failed_login_spike"], true);
    assert_eq!(overview["accounts"], 1);
});
