//! The security activity log as a list: what happened, when, from where,
//! and (for admins) to whom and by whom.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::time::utc;
use crate::i18n::td_string as t;
use crate::locale::Locale;
use crate::model::{ActivityEvent, EventKind, EventReason as R};
use crate::tr;

/// One line saying what an event was, in words.
pub fn describe(event: &ActivityEvent, locale: Locale) -> String {
    let reason = event.reason;
    let detail = event.detail.as_deref().unwrap_or_default();
    let count = detail.parse::<u64>().ok();
    let many = |one: &'static str, n: String| if count == Some(1) { one.to_owned() } else { n };
    match event.kind {
        EventKind::SignUp => t!(locale, activity.sign_up).into(),
        EventKind::LoginSucceeded if detail == "code" => t!(locale, activity.login_code).into(),
        EventKind::LoginSucceeded if detail == "passkey" => {
            t!(locale, activity.login_passkey).into()
        }
        EventKind::LoginSucceeded if detail.starts_with("upstream:") => {
            let id = detail["upstream:".len()..]
                .split('+')
                .next()
                .unwrap_or_default();
            t!(locale, activity.login_upstream, detail = provider_name(id))
        }
        EventKind::LoginSucceeded if detail.ends_with("+totp") => {
            t!(locale, activity.login_second_factor).into()
        }
        EventKind::LoginSucceeded if detail.ends_with("+recovery") => {
            t!(locale, activity.login_recovery).into()
        }
        EventKind::LoginSucceeded => t!(locale, activity.login_password).into(),
        EventKind::LoginFailed => match reason {
            Some(R::UnknownAccount) => t!(locale, activity.login_unknown_account).into(),
            Some(R::Disabled) => t!(locale, activity.login_disabled).into(),
            Some(R::WrongSecondFactor) => t!(locale, activity.login_wrong_second_factor).into(),
            _ => t!(locale, activity.login_wrong_password).into(),
        },
        // `detail`: the failures counted.
        EventKind::LoginThrottled if reason == Some(R::Ip) => {
            t!(locale, activity.throttled_ip, count = detail)
        }
        EventKind::LoginThrottled => t!(locale, activity.throttled_account, count = detail),
        EventKind::CodeSent => match detail {
            "change" => t!(locale, activity.code_sent_change).into(),
            "signin" => t!(locale, activity.code_sent_signin).into(),
            "signup" => t!(locale, activity.code_sent_signup).into(),
            _ => t!(locale, activity.code_sent_verify).into(),
        },
        EventKind::CodeFailed => match reason {
            Some(R::Dead) => t!(locale, activity.code_dead).into(),
            Some(R::Guessing) => t!(locale, activity.code_guessing).into(),
            Some(R::Expired) => t!(locale, activity.code_expired).into(),
            _ => t!(locale, activity.code_wrong).into(),
        },
        EventKind::EmailVerified if event.by_admin => {
            t!(locale, activity.email_marked_verified).into()
        }
        EventKind::EmailVerified => t!(locale, activity.email_verified).into(),
        EventKind::EmailChanged if reason == Some(R::Reverted) => {
            t!(locale, activity.email_reverted, detail = detail)
        }
        EventKind::EmailChanged => t!(locale, activity.email_changed, detail = detail),
        EventKind::UsernameChanged => t!(locale, activity.username_changed, detail = detail),
        EventKind::PasswordResetRequested => t!(locale, activity.reset_requested).into(),
        EventKind::PasswordReset => t!(locale, activity.password_reset).into(),
        EventKind::PasswordChanged => t!(locale, activity.password_changed).into(),
        EventKind::Logout => t!(locale, activity.logout).into(),
        EventKind::SessionRevoked => match reason {
            Some(R::Logout) => t!(locale, activity.session_logout).into(),
            Some(R::SignedOutElsewhere) => many(
                t!(locale, activity.sessions_elsewhere_1),
                t!(locale, activity.sessions_elsewhere_n, count = detail),
            ),
            Some(R::RefreshTokenReuse) => t!(locale, activity.token_reuse).into(),
            Some(R::Replaced) => t!(locale, activity.session_replaced).into(),
            Some(R::Admin) => many(
                t!(locale, activity.sessions_ended_1),
                t!(locale, activity.sessions_ended_n, count = detail),
            ),
            _ => t!(locale, activity.session_ended).into(),
        },
        EventKind::AccountDeleted if event.by_admin => {
            t!(locale, activity.account_deleted_named, detail = detail)
        }
        EventKind::AccountDeleted => t!(locale, activity.account_deleted).into(),
        EventKind::UserDisabled => many(
            t!(locale, activity.disabled_1),
            t!(locale, activity.disabled_n, count = detail),
        ),
        EventKind::UserEnabled => t!(locale, activity.enabled).into(),
        EventKind::RoleChanged if detail == "admin" => t!(locale, activity.role_admin).into(),
        EventKind::RoleChanged => t!(locale, activity.role_member).into(),
        EventKind::MailFailed => t!(locale, activity.mail_failed, detail = detail),
        EventKind::SecondFactorAdded => t!(locale, activity.second_factor_added).into(),
        EventKind::SecondFactorRemoved => t!(locale, activity.second_factor_removed).into(),
        EventKind::RecoveryCodesRenewed => t!(locale, activity.recovery_codes_renewed).into(),
        EventKind::RecoveryCodeUsed => t!(locale, activity.recovery_code_used, count = detail),
        EventKind::PasskeyAdded => t!(locale, activity.passkey_added, detail = detail),
        // With a reason, the account was taken back and `detail` counts them.
        EventKind::PasskeyRemoved if reason.is_some() => {
            t!(locale, activity.passkeys_removed_all, count = detail)
        }
        EventKind::PasskeyRemoved => t!(locale, activity.passkey_removed, detail = detail),
        EventKind::IdentityLinked => {
            t!(
                locale,
                activity.identity_linked,
                detail = provider_name(detail)
            )
        }
        // With a reason, the account was taken back and `detail` counts them.
        EventKind::IdentityUnlinked if reason.is_some() => {
            t!(locale, activity.identities_removed_all, count = detail)
        }
        EventKind::IdentityUnlinked => {
            t!(
                locale,
                activity.identity_unlinked,
                detail = provider_name(detail)
            )
        }
        EventKind::AppAuthorized => t!(locale, activity.app_authorized, detail = detail),
        EventKind::AppRevoked => t!(locale, activity.app_revoked, detail = detail),
        EventKind::AppRegistered => t!(locale, activity.app_registered, detail = detail),
        EventKind::AppChanged => t!(locale, activity.app_changed, detail = detail),
        EventKind::AppSecretRotated => t!(locale, activity.app_secret_rotated, detail = detail),
        EventKind::AppDeleted => t!(locale, activity.app_deleted, detail = detail),
        EventKind::WebhookAdded => t!(locale, activity.webhook_added, detail = detail),
        EventKind::WebhookChanged => t!(locale, activity.webhook_changed, detail = detail),
        EventKind::WebhookSecretRotated => {
            t!(locale, activity.webhook_secret_rotated, detail = detail)
        }
        EventKind::WebhookDeleted => t!(locale, activity.webhook_deleted, detail = detail),
        EventKind::WebhookDisabled => t!(locale, activity.webhook_disabled, detail = detail),
    }
}

/// A provider's name by its id (as the log keeps it), or the id for one
/// no longer offered.
fn provider_name(id: &str) -> String {
    crate::components::upstream::name_of(id).unwrap_or_else(|| id.to_owned())
}

/// Who acted, when it was not the user: the admin's name in admin views.
fn by(event: &ActivityEvent, admin: bool, locale: Locale) -> Option<String> {
    match (&event.actor, event.by_admin) {
        (Some(actor), _) if admin => Some(match &actor.username {
            Some(name) => t!(locale, activity.by, name = name),
            None => t!(locale, activity.by_deleted_admin).into(),
        }),
        (None, true) if event.reason == Some(R::Cli) => Some(t!(locale, activity.by_cli).into()),
        (_, true) => Some(t!(locale, activity.by_admin).into()),
        _ => None,
    }
}

/// Whether the event is one a user should look at twice.
fn alarming(event: &ActivityEvent) -> bool {
    matches!(
        event.kind,
        EventKind::LoginFailed
            | EventKind::LoginThrottled
            | EventKind::CodeFailed
            | EventKind::UserDisabled
            | EventKind::SecondFactorRemoved
            | EventKind::PasskeyRemoved
            | EventKind::IdentityUnlinked
            | EventKind::RecoveryCodeUsed
    ) || matches!(event.reason, Some(R::RefreshTokenReuse | R::Reverted))
}

/// A list of events, newest first. `admin` names the admin who acted;
/// `with_user` starts each line with the account it concerns.
#[component]
pub fn ActivityList(
    events: Vec<ActivityEvent>,
    #[prop(optional)] admin: bool,
    #[prop(optional)] with_user: bool,
) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="muted">{tr!(security.nothing)}</p> }.into_any();
    }
    view! {
        <ol class="activity" data-testid="activity">
            {events.into_iter().map(|event| {
                let warn = alarming(&event);
                let kind = event.kind.as_str();
                let place = [event.ip.clone(), event.device.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ");
                let subject = with_user.then(|| event.user.clone()).flatten().map(|user| {
                    match user.username {
                        Some(name) => view! {
                            <A href=format!("/admin/users/{}", user.id) attr:class="activity-user">{name}</A>
                        }.into_any(),
                        None => view! {
                            <span class="activity-user muted">{tr!(activity.deleted_account)}</span>
                        }.into_any(),
                    }
                });
                let separator = subject.is_some().then_some(": ");
                let at = event.at;
                let locale = crate::locale::current();
                let text = describe(&event, locale);
                let actor = by(&event, admin, locale)
                    .map(|by| view! { <span class="activity-actor">{by}</span> });
                view! {
                    <li class="activity-item" class:activity-warn=warn data-kind=kind>
                        <p class="activity-what">{subject}{separator}{text}{actor}</p>
                        <p class="activity-meta muted">
                            <time>{utc(at, crate::locale::current())}</time>
                            {(!place.is_empty()).then(|| format!(" · {place}"))}
                        </p>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}
