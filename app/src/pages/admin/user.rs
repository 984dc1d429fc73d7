//! One user in the admin console: facts, actions, sessions, recent activity
//! and deletion. Each action is a plain form post, so it works without
//! JavaScript; the result comes back as `?done=…`.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::text_prop::TextProp;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{ConsoleCard, RequireAdmin};
use crate::components::activity::ActivityList;
use crate::components::badge::VerifiedBadge;
use crate::components::form::{action_error, ErrorNote, Field, FormAlert, Submit};
use crate::components::session_item::SessionItem;
use crate::components::time::utc;
use crate::error::AppError;
use crate::i18n::td_string as td;
use crate::locale::Locale;
use crate::model::{AdminAction, Role, UserDetail};
use crate::tr;

#[server(prefix = "/fn", endpoint = "admin_user")]
pub async fn admin_user(id: String) -> Result<UserDetail, AppError> {
    use crate::ssr::request;
    request::require_admin()?;
    Ok(request::services()?.admin().user_detail(&id).await?)
}

/// One of the console's actions on user `id`; `session` names the session
/// for `end_session`.
#[server(prefix = "/fn", endpoint = "admin_act")]
pub async fn admin_act(
    id: String,
    action: String,
    session: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let chosen = AdminAction::parse(&action).ok_or_else(|| {
        AppError::from(latchkey_core::Error::invalid(
            "action",
            crate::error::Reason::UnknownChoice,
        ))
    })?;
    request::services()?
        .admin()
        .admin_act(&admin, &id, chosen, session.as_deref())
        .await?;
    leptos_axum::redirect(&format!("/admin/users/{id}?done={action}"));
    Ok(())
}

/// Deletes user `id` once `confirm` repeats their username.
#[server(prefix = "/fn", endpoint = "admin_delete")]
pub async fn admin_delete(id: String, confirm: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let detail = services.admin().user_detail(&id).await?;
    if confirm.trim().to_lowercase() != detail.user.user.username {
        return Err(latchkey_core::Error::invalid(
            "confirm",
            crate::error::Reason::ConfirmUsername,
        )
        .into());
    }
    services.admin().admin_delete_user(&admin, &id).await?;
    leptos_axum::redirect(&format!(
        "/admin/users?deleted={}",
        detail.user.user.username
    ));
    Ok(())
}

fn done_message(locale: Locale, action: &str) -> Option<&'static str> {
    Some(match AdminAction::parse(action)? {
        AdminAction::Disable => td!(locale, admin.done_disable),
        AdminAction::Enable => td!(locale, admin.done_enable),
        AdminAction::MakeAdmin => td!(locale, admin.done_make_admin),
        AdminAction::MakeMember => td!(locale, admin.done_make_member),
        AdminAction::VerifyEmail => td!(locale, admin.done_verify_email),
        AdminAction::SendReset => td!(locale, admin.done_send_reset),
        AdminAction::EndSessions => td!(locale, admin.done_end_sessions),
        AdminAction::EndSession => td!(locale, admin.done_end_session),
        AdminAction::ResetSecondFactors => td!(locale, admin.done_reset_second_factors),
    })
}

#[component]
pub fn UserPage() -> impl IntoView {
    let act = ServerAction::<AdminAct>::new();
    let delete = ServerAction::<AdminDelete>::new();
    let id = move || use_params_map().with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new_blocking(
        move || (id(), act.version().get()),
        |(id, _)| admin_user(id),
    );
    view! {
        <Title text=tr!(admin.user_fallback_title)/>
        <RequireAdmin admin=move |_| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <UserView detail act delete/> }.into_any(),
                        Err(error) => view! {
                            <ConsoleCard heading=tr!(admin.user)>
                                <ErrorNote error/>
                                <p><A href="/admin/users">{tr!(admin.all_users)}</A></p>
                            </ConsoleCard>
                        }.into_any(),
                    }
                })}
            </Suspense>
        }/>
    }
}

#[component]
fn UserView(
    detail: UserDetail,
    act: ServerAction<AdminAct>,
    delete: ServerAction<AdminDelete>,
) -> impl IntoView {
    let UserDetail {
        user,
        sessions,
        activity,
        second_factors,
        identities,
    } = detail;
    let two_step_on = second_factors.authenticator_since.is_some() || second_factors.passkeys > 0;
    let id = user.user.id.clone();
    let username = user.user.username.clone();
    let done = move || {
        use_query_map()
            .with(|q| q.get("done"))
            .and_then(|a| done_message(crate::locale::current(), &a))
    };
    let act_error = action_error(act);
    let delete_error = action_error(delete);
    let is_admin = user.user.role == Role::Admin;
    let session_count = sessions.len();
    let owner = id.clone();
    // Each form's children own their copy.
    let (act_id, delete_id) = (id.clone(), id.clone());
    let (joined, last_seen) = (user.user.created_at, user.last_seen_at);
    let button = move |action: AdminAction, label: TextProp, class: &'static str| {
        view! {
            <button
                type="submit"
                name="action"
                value=action.as_str()
                class=format!("button {class}")
            >
                {label.get()}
            </button>
        }
    };
    let text = move |get: fn(Locale) -> &'static str| TextProp::from(get(crate::locale::current()));
    let title_name = username.clone();
    let delete_name = username.clone();
    view! {
        <Title text=tr!(admin.user_title, name = title_name.clone())/>
        <ConsoleCard heading={username.clone()} testid="admin-user-name">
            <p><A href="/admin/users">{tr!(admin.all_users)}</A></p>
            {move || done().map(|message| view! {
                <div class="banner banner-ok" role="status" data-testid="admin-done">{message}</div>
            })}
            <dl class="facts">
                <div>
                    <dt>{tr!(admin.email)}</dt>
                    <dd>
                        {user.user.email.clone()} " "
                        <VerifiedBadge verified=user.user.email_verified/>
                    </dd>
                </div>
                <div>
                    <dt>{tr!(admin.role)}</dt>
                    <dd data-testid="admin-user-role">
                        {if is_admin { tr!(admin.administrator).into_any() } else { tr!(admin.member).into_any() }}
                    </dd>
                </div>
                <div>
                    <dt>{tr!(admin.status)}</dt>
                    <dd data-testid="admin-user-status">
                        {if user.disabled {
                            view! { <span class="badge badge-danger">{tr!(admin.badge_disabled)}</span> }.into_any()
                        } else {
                            tr!(admin.active).into_any()
                        }}
                    </dd>
                </div>
                <div><dt>{tr!(admin.joined)}</dt><dd>{utc(joined, crate::locale::current())}</dd></div>
                <div>
                    <dt>{tr!(admin.last_active)}</dt>
                    <dd>{move || match last_seen {
                        Some(at) => utc(at, crate::locale::current()),
                        None => tr!(admin.never).to_owned(),
                    }}</dd>
                </div>
                <div>
                    <dt>{tr!(admin.two_step)}</dt>
                    <dd data-testid="admin-user-two-step">
                        {match second_factors.authenticator_since {
                            Some(since) => tr!(
                                admin.two_step_on,
                                time = utc(since, crate::locale::current()),
                                count = second_factors.recovery_codes_left,
                            ).into_any(),
                            None => tr!(admin.two_step_off).into_any(),
                        }}
                    </dd>
                </div>
                <div>
                    <dt>{tr!(security.passkeys)}</dt>
                    <dd data-testid="admin-user-passkeys">{second_factors.passkeys}</dd>
                </div>
                <div>
                    <dt>{tr!(security.linked_accounts)}</dt>
                    <dd data-testid="admin-user-identities">{match identities.is_empty() {
                        true => tr!(admin.none_linked).into_any(),
                        false => identities.iter().map(|identity| {
                            let name = crate::components::upstream::name_of(&identity.provider)
                                .unwrap_or_else(|| identity.provider.clone());
                            view! { <span class="identity">{format!("{name} · {}", identity.email)}</span> }
                        }).collect_view().into_any(),
                    }}</dd>
                </div>
                <div><dt>{tr!(admin.user_id)}</dt><dd><code>{user.user.id.clone()}</code></dd></div>
            </dl>
        </ConsoleCard>

        <section class="card card-wide">
            <h2>{tr!(admin.actions)}</h2>
            <FormAlert error=act_error/>
            <ActionForm action=act attr:class="action-row">
                <input type="hidden" name="id" value=act_id/>
                {if user.disabled {
                    button(AdminAction::Enable, text(|l| td!(l, admin.enable)), "button-primary")
                } else {
                    button(AdminAction::Disable, text(|l| td!(l, admin.disable)), "button-danger-quiet")
                }}
                {if is_admin {
                    button(AdminAction::MakeMember, text(|l| td!(l, admin.make_member)), "button-quiet")
                } else {
                    button(AdminAction::MakeAdmin, text(|l| td!(l, admin.make_admin)), "button-quiet")
                }}
                {(!user.user.email_verified).then(|| button(AdminAction::VerifyEmail, text(|l| td!(l, admin.verify_email)), "button-quiet"))}
                {(!user.disabled).then(|| button(AdminAction::SendReset, text(|l| td!(l, admin.send_reset)), "button-quiet"))}
                {two_step_on.then(|| button(AdminAction::ResetSecondFactors, text(|l| td!(l, admin.reset_second_factors)), "button-danger-quiet"))}
                {(session_count > 0).then(|| button(
                    AdminAction::EndSessions,
                    TextProp::from(tr!(admin.end_sessions, count = session_count)),
                    "button-quiet",
                ))}
            </ActionForm>
            <p class="muted">{tr!(admin.actions_note)}</p>
        </section>

        <section class="card card-wide">
            <h2>{tr!(admin.sessions, count = session_count)}</h2>
            {if sessions.is_empty() {
                view! { <p class="muted">{tr!(admin.no_sessions)}</p> }.into_any()
            } else {
                view! {
                    <ul class="sessions">
                        {sessions.into_iter().map(|session| {
                            let sid = session.id.clone();
                            let id = owner.clone();
                            view! {
                                <SessionItem session>
                                    <ActionForm action=act attr:class="inline-form">
                                        <input type="hidden" name="id" value=id/>
                                        <input type="hidden" name="session" value=sid/>
                                        <button type="submit" name="action" value=AdminAction::EndSession.as_str() class="button button-quiet">
                                            {tr!(admin.end_session)}
                                        </button>
                                    </ActionForm>
                                </SessionItem>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>

        <section class="card card-wide">
            <h2>{tr!(admin.recent_activity)}</h2>
            <ActivityList events=activity admin=true/>
            <p><A href=format!("/admin/activity?user_id={id}")>{tr!(admin.all_activity)}</A></p>
        </section>

        <section class="card card-wide card-danger">
            <h2>{tr!(admin.delete_heading)}</h2>
            <p class="muted">{tr!(admin.delete_intro)}</p>
            <ActionForm action=delete attr:novalidate=true attr:class="stack">
                <FormAlert error=delete_error/>
                <input type="hidden" name="id" value=delete_id/>
                <Field label=tr!(admin.delete_confirm) name="confirm" error=delete_error/>
                <p>
                    <Submit
                        label=tr!(admin.delete_button, name = delete_name.clone())
                        busy_label=tr!(common.busy)
                        class="button-danger"
                    />
                </p>
            </ActionForm>
        </section>
    }
}
