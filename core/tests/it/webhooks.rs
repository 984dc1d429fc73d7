//! Webhooks, as a product receives them: a receiver on the PyPI
//! `standardwebhooks` package verifies every delivery (testkit's
//! webhook_receiver.py), through outages, rotations and failures.

use std::collections::HashMap;
use std::time::Duration;

use latchkey_core::model::{Role, UserChange};
use latchkey_core::webhook_model::{DeliveryStatus, WebhookEvent, WebhookSpec};
use latchkey_core::{AuthConfig, ErrorCode, Reason, Services};
use latchkey_testkit::webhook_receiver::{Received, Receiver};

use crate::common::{self, smtp, *};

/// Deliveries may go to the receiver on loopback; retries come quickly.
fn config() -> AuthConfig {
    AuthConfig {
        webhook_allow_private: true,
        webhook_retry_base: Duration::from_millis(500),
        ..AuthConfig::for_tests()
    }
}

fn spec(url: String, events: Vec<WebhookEvent>) -> WebhookSpec {
    WebhookSpec {
        url,
        description: "the product".into(),
        events,
        enabled: true,
    }
}

/// Registers an endpoint for `events` and starts a receiver that knows
/// its secret (known once the endpoint exists), at the endpoint's address.
async fn registered(
    s: &Services,
    admin: &latchkey_core::Auth,
    events: Vec<WebhookEvent>,
) -> (String, String, Receiver) {
    let made = s
        .webhooks()
        .create(
            admin,
            &spec("https://hooks.example.invalid/".into(), events.clone()),
        )
        .await
        .unwrap();
    assert!(made.secret.starts_with("whsec_"));
    let receiver = Receiver::start(&[&made.secret]).await;
    s.webhooks()
        .update(admin, &made.webhook.id, &spec(receiver.url(), events))
        .await
        .unwrap();
    (made.webhook.id, made.secret, receiver)
}

fn of_kind<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.kind() == kind).collect()
}

on_both_backends!(every_event_reaches_the_product_verified, |backend| {
    let (s, inbox) = common::services_with_smtp(backend, config()).await;
    common::start_webhooks(&s);
    let admin = make_admin(&s).await;
    let admin_auth = auth_of(&s, &admin).await;
    let (id, _, receiver) = registered(&s, &admin_auth, vec![]).await;

    // user.created, user.logged_in, two kinds of user.login_failed.
    let ada = sign_up(&s).await;
    s.accounts()
        .login(&ada.email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let wrong = s
        .accounts()
        .login(&ada.email, "not the password".into(), &client())
        .await
        .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::InvalidCredentials);
    let nobody = format!("{}@example.com", unique_name());
    s.accounts()
        .login(&nobody, PASSWORD.into(), &client())
        .await
        .unwrap_err();
    // user.email_verified, user.role_changed, user.disabled and
    // user.enabled, by an administrator.
    for change in [
        UserChange {
            email_verified: Some(true),
            ..Default::default()
        },
        UserChange {
            role: Some(Role::Admin),
            ..Default::default()
        },
        UserChange {
            disabled: Some(true),
            ..Default::default()
        },
        UserChange {
            disabled: Some(false),
            ..Default::default()
        },
    ] {
        s.admin()
            .change_user(&admin_auth, &ada.user.id, &change)
            .await
            .unwrap();
    }
    // user.password_changed, user.email_changed, user.password_reset,
    // session.revoked (log-out), user.deleted, by the user.
    let (_, issued) = s
        .accounts()
        .login(&ada.email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    let new_password = "a different horse battery staple";
    s.passwords()
        .change_password(&auth, PASSWORD.into(), new_password.into())
        .await
        .unwrap();
    let new_email = format!("moved{}@example.com", unique_name());
    s.accounts()
        .request_email_change(&auth, &new_email, new_password.into(), &client())
        .await
        .unwrap();
    let code = smtp::code_in(&inbox.wait_for(&new_email, 10).await);
    s.accounts()
        .confirm_email_change(&auth, &new_email, &code, &client())
        .await
        .unwrap();
    s.passwords()
        .forgot_password(&new_email, &client())
        .await
        .unwrap();
    let mail = inbox.wait_for_subject(&new_email, "Reset your").await;
    let (_, issued) = s
        .passwords()
        .reset_password(&smtp::reset_token_in(&mail), PASSWORD.into(), &client())
        .await
        .unwrap();
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    s.sessions().logout(&auth).await.unwrap();
    let (_, issued) = s
        .accounts()
        .login(&new_email, PASSWORD.into(), &client())
        .await
        .unwrap();
    let auth = s
        .sessions()
        .authenticate(&issued.access_token, &NO_CLIENT)
        .await
        .unwrap()
        .unwrap();
    s.passwords()
        .delete_account(&auth, PASSWORD.into())
        .await
        .unwrap();

    let got = receiver
        .wait_for(30, |got| got.iter().any(|r| r.kind() == "user.deleted"))
        .await;
    assert_eq!(receiver.rejected().await, 0, "every delivery verified");
    let ours: Vec<&Received> = got
        .iter()
        .filter(|r| {
            r.user_id().as_deref() == Some(ada.user.id.as_str())
                || (r.kind() == "user.login_failed" && r.user_id().is_none())
        })
        .collect();
    for event in WebhookEvent::ALL {
        assert!(
            ours.iter().any(|r| r.kind() == event.as_str()),
            "{} was not delivered; got {:?}",
            event.as_str(),
            ours.iter().map(|r| r.kind()).collect::<Vec<_>>()
        );
    }
    for r in &got {
        let json = r.json();
        assert_eq!(
            r.id,
            format!("msg_{}", json["data"]["event_id"].as_str().unwrap())
        );
        assert_eq!(json["version"], 1);
        assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let created = of_kind(&got, "user.created")
        .into_iter()
        .find(|r| r.user_id().as_deref() == Some(ada.user.id.as_str()))
        .unwrap()
        .json();
    assert_eq!(created["data"]["user"]["email"], ada.email.as_str());
    assert_eq!(created["data"]["user"]["username"], ada.name.as_str());
    let failed = of_kind(&got, "user.login_failed");
    assert!(failed
        .iter()
        .any(|r| r.json()["data"]["reason"] == "wrong_password" && r.user_id().is_some()));
    let unknown = failed
        .iter()
        .find(|r| r.json()["data"]["reason"] == "unknown_account")
        .unwrap()
        .json();
    assert!(unknown["data"]["user"].is_null(), "no account is named");
    assert!(!unknown.to_string().contains(&nobody), "nor the name tried");
    let role = of_kind(&got, "user.role_changed")[0].json();
    assert_eq!(
        (
            role["data"]["detail"].as_str(),
            role["data"]["by_admin"].as_bool()
        ),
        (Some("admin"), Some(true))
    );
    let changed = of_kind(&got, "user.email_changed")[0].json();
    assert_eq!(
        changed["data"]["user"]["email"],
        new_email.as_str(),
        "the account as it was when the event happened"
    );
    assert!(of_kind(&got, "session.revoked")
        .iter()
        .any(|r| r.json()["data"]["reason"] == "logout"));
    // The account is gone; the event still says who it was.
    let deleted = of_kind(&got, "user.deleted")[0].json();
    assert_eq!(deleted["data"]["user"]["id"], ada.user.id.as_str());

    // Each delivery is in the log, delivered once.
    let page = s
        .webhooks()
        .deliveries(&admin_auth, &id, None)
        .await
        .unwrap();
    assert!(page.deliveries.len() >= WebhookEvent::ALL.len());
    assert!(page
        .deliveries
        .iter()
        .all(|d| d.status == DeliveryStatus::Delivered
            && d.attempts == 1
            && d.last_status == Some(204)));
});

on_both_backends!(an_endpoint_gets_only_the_events_it_asked_for, |backend| {
    let s = common::services_with(backend, config()).await;
    common::start_webhooks(&s);
    let admin = auth_of(&s, &make_admin(&s).await).await;
    let (id, _, receiver) = registered(&s, &admin, vec![WebhookEvent::Deleted]).await;
    let ada = sign_up(&s).await;
    let auth = auth_of(&s, &ada).await;
    s.passwords()
        .delete_account(&auth, PASSWORD.into())
        .await
        .unwrap();
    let got = receiver.wait_for(20, |got| !got.is_empty()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_later = receiver.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got_later.len(),
        1,
        "nothing but the deletion: {got_later:?}"
    );
    assert_eq!(got[0].kind(), "user.deleted");
    let listed = s.webhooks().get(&admin, &id).await.unwrap();
    assert_eq!(listed.events, [WebhookEvent::Deleted]);
    assert_eq!((listed.pending, listed.delivered_24h), (0, 1));

    // A month on, the delivery leaves the log (a worker prunes as it starts).
    let month = latchkey_core::webhooks::KEEP.as_secs() as i64 + 60;
    sqlx::query("UPDATE webhook_deliveries SET created_at = created_at - $1")
        .bind(month)
        .execute(&s.db.pool)
        .await
        .unwrap();
    common::start_webhooks(&s);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !s
        .webhooks()
        .deliveries(&admin, &id, None)
        .await
        .unwrap()
        .deliveries
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the old delivery stays"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
});

on_both_backends!(
    an_outage_loses_nothing_and_keeps_each_account_in_order,
    |backend| {
        let s = common::services_with(backend, config()).await;
        let admin = auth_of(&s, &make_admin(&s).await).await;
        let (id, _, mut receiver) = registered(&s, &admin, vec![]).await;
        receiver.stop().await;
        common::start_webhooks(&s);

        // Two accounts' events, interleaved, while the receiver is down.
        let ada = sign_up(&s).await;
        let bob = sign_up(&s).await;
        for _ in 0..3 {
            for who in [&ada, &bob] {
                s.accounts()
                    .login(&who.email, PASSWORD.into(), &client())
                    .await
                    .unwrap();
                s.accounts()
                    .login(&who.email, "wrong password".into(), &client())
                    .await
                    .unwrap_err();
            }
        }
        // 1 sign-up + 3 log-ins + 3 failures each.
        let expected = 2 * 7;
        // Attempts fail (connection refused) and are retried.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let page = s.webhooks().deliveries(&admin, &id, None).await.unwrap();
            if page.deliveries.iter().any(|d| d.attempts >= 2) {
                assert!(page
                    .deliveries
                    .iter()
                    .all(|d| d.status == DeliveryStatus::Pending));
                let tried = page.deliveries.iter().find(|d| d.attempts >= 1).unwrap();
                assert!(
                    tried.last_error.as_deref().unwrap().contains("connect"),
                    "{tried:?}"
                );
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no retries seen");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        receiver.restart().await;
        let got = receiver.wait_for(40, |got| got.len() >= expected).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = if receiver.received().await.len() > got.len() {
            receiver.received().await
        } else {
            got
        };
        let mut seen = HashMap::new();
        for r in &got {
            *seen.entry(r.id.clone()).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), expected, "every event arrived");
        assert!(seen.values().all(|n| *n == 1), "each once: {seen:?}");
        for who in [&ada, &bob] {
            let ids: Vec<String> = got
                .iter()
                .filter(|r| r.user_id().as_deref() == Some(who.user.id.as_str()))
                .map(|r| r.json()["data"]["event_id"].as_str().unwrap().to_owned())
                .collect();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids, sorted, "an account's events arrive in order");
            assert_eq!(ids.len(), 7);
        }
    }
);

on_both_backends!(two_instances_deliver_each_event_once, |backend| {
    let url = common::fresh_db_url(backend).await;
    let one = Services::new(
        common::connect(&url).await,
        common::ephemeral(backend).await,
        config(),
        common::letters(),
    );
    let two = Services::new(
        common::connect(&url).await,
        common::ephemeral(backend).await,
        config(),
        common::letters(),
    );
    one.keys.ready().await.unwrap();
    two.keys.ready().await.unwrap();
    let admin = auth_of(&one, &make_admin(&one).await).await;
    let (_, _, receiver) = registered(&one, &admin, vec![]).await;
    common::start_webhooks(&one);
    common::start_webhooks(&two);
    // The second instance hears of the endpoint within its second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let signups = futures::future::join_all((0..10).map(|i| {
        let s = if i % 2 == 0 { &one } else { &two };
        sign_up(s)
    }))
    .await;
    let got = receiver
        .wait_for(30, |got| {
            of_kind(got, "user.created").len() >= signups.len()
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = receiver.received().await.len().max(got.len());
    assert_eq!(got, signups.len(), "each sign-up once");
});

on_both_backends!(
    resent_and_rotated_deliveries_verify_and_tampered_ones_do_not,
    |backend| {
        let s = common::services_with(backend, config()).await;
        common::start_webhooks(&s);
        let admin = auth_of(&s, &make_admin(&s).await).await;
        let (id, old_secret, old_only) = registered(&s, &admin, vec![]).await;
        let ada = sign_up(&s).await;
        let first = old_only.wait_for(20, |got| !got.is_empty()).await.remove(0);

        // Sent again: the same id and the same bytes, freshly signed.
        let again = s
            .webhooks()
            .send_again(&admin, &id, &first.id)
            .await
            .unwrap();
        assert_eq!(again.message_id, first.id);
        let got = old_only.wait_for(20, |got| got.len() >= 2).await;
        assert_eq!(
            (got[1].id.as_str(), got[1].body.as_str()),
            (first.id.as_str(), first.body.as_str())
        );

        // A copied delivery with its body changed fails verification.
        let headers = [
            ("webhook-id", first.id.as_str()),
            ("webhook-timestamp", got[1].timestamp.as_str()),
            ("webhook-signature", got[1].signatures.as_str()),
            ("content-type", "application/json"),
        ];
        let tampered = got[1].body.replace(&ada.email, "mallory@example.com");
        assert_ne!(tampered, got[1].body);
        assert_eq!(old_only.post_raw(&headers, &tampered).await, 401);
        assert_eq!(old_only.rejected().await, 1);

        // A new secret: for a day both sign, so a receiver that still has the
        // old one and one that has the new one both verify.
        let rotated = s.webhooks().rotate_secret(&admin, &id).await.unwrap();
        assert_ne!(rotated.secret, old_secret);
        assert!(rotated.webhook.previous_secret_until.is_some());
        s.accounts()
            .login(&ada.email, PASSWORD.into(), &client())
            .await
            .unwrap();
        let got = old_only.wait_for(20, |got| got.len() >= 3).await;
        assert_eq!(got[2].kind(), "user.logged_in");
        assert_eq!(got[2].signatures.matches("v1,").count(), 2);
        let new_only = Receiver::start(&[&rotated.secret]).await;
        s.webhooks()
            .update(&admin, &id, &spec(new_only.url(), vec![]))
            .await
            .unwrap();
        s.accounts()
            .login(&ada.email, PASSWORD.into(), &client())
            .await
            .unwrap();
        new_only.wait_for(20, |got| got.len() == 1).await;
        assert_eq!(new_only.rejected().await, 0);
    }
);

on_both_backends!(
    a_failing_endpoint_gives_up_is_turned_off_and_the_admins_told,
    |backend| {
        let config = AuthConfig {
            webhook_give_up_after: Duration::from_secs(2),
            ..config()
        };
        let (s, inbox) = common::services_with_smtp(backend, config).await;
        common::start_webhooks(&s);
        let admin_account = make_admin(&s).await;
        let admin = auth_of(&s, &admin_account).await;
        let (id, _, receiver) = registered(&s, &admin, vec![]).await;
        // A redirect is a failure: it is not followed.
        receiver.set_mode("redirect").await;
        sign_up(&s).await;
        let mail = inbox
            .wait_for_subject(&admin_account.email, "webhook endpoint was turned off")
            .await;
        assert!(mail.contains(&receiver.port.to_string()), "{mail}");
        let endpoint = s.webhooks().get(&admin, &id).await.unwrap();
        assert!(!endpoint.enabled);
        assert_eq!(endpoint.disabled_reason.as_deref(), Some("failing"));
        let page = s.webhooks().deliveries(&admin, &id, None).await.unwrap();
        let failed = &page.deliveries[0];
        assert_eq!(
            (failed.status, failed.last_status),
            (DeliveryStatus::Failed, Some(302))
        );
        assert!(receiver.received().await.is_empty());
        let log = s
            .admin()
            .activity(&latchkey_core::audit::ActivityFilter {
                kind: Some(latchkey_core::model::EventKind::WebhookDisabled),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(log.events.len(), 1);

        // Off: new events are not queued for it.
        sign_up(&s).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let page = s.webhooks().deliveries(&admin, &id, None).await.unwrap();
        assert_eq!(page.deliveries.len(), 1);

        // Fixed and on again, the failed delivery can be sent again.
        receiver.set_mode("ok").await;
        let on = s
            .webhooks()
            .update(&admin, &id, &spec(receiver.url(), vec![]))
            .await
            .unwrap();
        assert!(on.enabled && on.disabled_reason.is_none() && on.failing_since.is_none());
        s.webhooks()
            .send_again(&admin, &id, &failed.message_id)
            .await
            .unwrap();
        let got = receiver.wait_for(20, |got| !got.is_empty()).await;
        assert_eq!(got[0].id, failed.message_id);
    }
);

on_both_backends!(webhooks_are_for_admins_and_public_addresses, |backend| {
    let s = common::services(backend).await;
    let admin = auth_of(&s, &make_admin(&s).await).await;
    let user = auth_of(&s, &sign_up(&s).await).await;
    let err = s
        .webhooks()
        .create(&user, &spec("https://hooks.example.com/x".into(), vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    for inside in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost:8080/x",
        "https://10.0.0.8/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
    ] {
        let err = s
            .webhooks()
            .create(&admin, &spec(inside.into(), vec![]))
            .await
            .unwrap_err();
        assert_eq!(
            (err.reason, err.field.as_deref()),
            (Some(Reason::WebhookAddress), Some("url")),
            "{inside}"
        );
    }
    let err = s
        .webhooks()
        .create(
            &admin,
            &WebhookSpec {
                description: "x".repeat(201),
                ..spec("https://hooks.example.com/x".into(), vec![])
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("description"));
    let made = s
        .webhooks()
        .create(&admin, &spec("https://hooks.example.com/x".into(), vec![]))
        .await
        .unwrap();
    assert_eq!(made.webhook.url, "https://hooks.example.com/x");
    let err = s.webhooks().get(&admin, "ep_nothing").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    s.webhooks().delete(&admin, &made.webhook.id).await.unwrap();
    assert!(s.webhooks().list(&admin).await.unwrap().is_empty());
});
