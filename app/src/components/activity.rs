//! The security activity log as a list: what happened, when, from where,
//! and (for admins) to whom and by whom.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::time::utc;
use crate::model::{ActivityEvent, EventKind};

/// One line saying what an event was, in words.
pub fn describe(event: &ActivityEvent) -> String {
    let reason = event.reason.as_deref().unwrap_or_default();
    let detail = event.detail.as_deref().unwrap_or_default();
    let purpose = match detail {
        "verify" => "to confirm the email address",
        "change" => "to change the email address",
        "signin" => "to sign in",
        _ => "",
    };
    let count = |what: &str| match detail.parse::<u64>() {
        Ok(1) => format!("1 {what}"),
        Ok(n) => format!("{n} {what}s"),
        Err(_) => format!("{what}s"),
    };
    match event.kind {
        EventKind::SignUp => "Account created".into(),
        EventKind::LoginSucceeded if detail == "code" => "Signed in with an emailed code".into(),
        EventKind::LoginSucceeded => "Signed in with password".into(),
        EventKind::LoginFailed => match reason {
            "unknown_account" => "Failed sign-in: no such account".into(),
            "disabled" => "Sign-in refused: the account is disabled".into(),
            _ => "Failed sign-in: wrong password".into(),
        },
        EventKind::LoginThrottled if reason == "ip" => {
            format!("Sign-ins from this address paused ({detail})")
        }
        EventKind::LoginThrottled => format!("Sign-ins to this account paused ({detail})"),
        EventKind::CodeSent => format!("Code sent {purpose}"),
        EventKind::CodeFailed => match reason {
            "dead" => format!("Code {purpose} blocked after too many wrong tries"),
            "expired" => format!("Expired or used code entered {purpose}"),
            _ => format!("Wrong code entered {purpose}"),
        },
        EventKind::EmailVerified if event.by_admin => "Email address marked verified".into(),
        EventKind::EmailVerified => "Email address confirmed".into(),
        EventKind::EmailChanged => format!("Email changed: {detail}"),
        EventKind::UsernameChanged => format!("Username changed: {detail}"),
        EventKind::PasswordResetRequested => "Password reset link sent".into(),
        EventKind::PasswordReset => "Password reset with an emailed link".into(),
        EventKind::PasswordChanged => "Password changed".into(),
        EventKind::Logout => "Signed out".into(),
        EventKind::SessionRevoked => match reason {
            "logout" => "Signed out from the sessions page".into(),
            "signed_out_elsewhere" => format!("Signed out of {} elsewhere", count("session")),
            "refresh_token_reuse" => {
                "Session ended: its sign-in token was used twice (possible theft)".into()
            }
            "admin" => format!("{} ended", count("session")),
            _ => "Session ended".into(),
        },
        EventKind::AccountDeleted if event.by_admin => format!("Account {detail} deleted"),
        EventKind::AccountDeleted => "Account deleted".into(),
        EventKind::UserDisabled => format!("Account disabled ({} ended)", count("session")),
        EventKind::UserEnabled => "Account enabled".into(),
        EventKind::RoleChanged if detail == "admin" => "Role changed to administrator".into(),
        EventKind::RoleChanged => "Role changed to member".into(),
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
    ) || event.reason.as_deref() == Some("refresh_token_reuse")
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
        return view! { <p class="muted">"Nothing recorded yet."</p> }.into_any();
    }
    view! {
        <ol class="activity" data-testid="activity">
            {events.into_iter().map(|event| {
                let text = describe(&event);
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
                        None => view! { <span class="activity-user muted">"deleted account"</span> }.into_any(),
                    }
                });
                let by = match (&event.actor, event.by_admin) {
                    (Some(actor), _) if admin => Some(format!(
                        " by {}",
                        actor.username.as_deref().unwrap_or("a deleted admin")
                    )),
                    (None, true) if event.reason.as_deref() == Some("cli") => {
                        Some(" from the command line".to_owned())
                    }
                    (_, true) => Some(" by an administrator".to_owned()),
                    _ => None,
                };
                let actor = by.map(|by| view! { <span class="activity-actor">{by}</span> });
                let separator = subject.is_some().then_some(": ");
                view! {
                    <li class="activity-item" class:activity-warn=warn data-kind=kind>
                        <p class="activity-what">{subject}{separator}{text}{actor}</p>
                        <p class="activity-meta muted">
                            <time>{utc(event.at)}</time>
                            {(!place.is_empty()).then(|| format!(" · {place}"))}
                        </p>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}
