//! One user in the admin console: facts, actions, sessions, recent activity
//! and deletion. Each action is a plain form post, so it works without
//! JavaScript; the result comes back as `?done=…`.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{AdminNav, RequireAdmin};
use crate::components::activity::ActivityList;
use crate::components::form::{action_error, Field, FormAlert};
use crate::components::session_item::SessionItem;
use crate::components::time::utc;
use crate::error::AppError;
use crate::model::{Role, UserDetail};

#[server(prefix = "/fn", endpoint = "admin_user")]
pub async fn admin_user(id: String) -> Result<UserDetail, AppError> {
    use crate::ssr::request;
    request::require_admin()?;
    request::services()?.user_detail(&id).await
}

/// One of the console's actions on user `id`; `session` names the session
/// for `end_session`.
#[server(prefix = "/fn", endpoint = "admin_act")]
pub async fn admin_act(
    id: String,
    action: String,
    session: Option<String>,
) -> Result<(), AppError> {
    use crate::model::UserChange;
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let change = match action.as_str() {
        "disable" => Some(UserChange {
            disabled: Some(true),
            ..UserChange::default()
        }),
        "enable" => Some(UserChange {
            disabled: Some(false),
            ..UserChange::default()
        }),
        "make_admin" => Some(UserChange {
            role: Some(Role::Admin),
            ..UserChange::default()
        }),
        "make_member" => Some(UserChange {
            role: Some(Role::User),
            ..UserChange::default()
        }),
        "verify_email" => Some(UserChange {
            email_verified: Some(true),
            ..UserChange::default()
        }),
        _ => None,
    };
    match (change, action.as_str()) {
        (Some(change), _) => {
            services.change_user(&admin, &id, &change).await?;
        }
        (None, "send_reset") => services.admin_send_reset(&admin, &id).await?,
        (None, "end_sessions") => {
            services.admin_revoke_sessions(&admin, &id, None).await?;
        }
        (None, "end_session") => {
            // Never "all": a missing session id matches none.
            let session = session.unwrap_or_default();
            services
                .admin_revoke_sessions(&admin, &id, Some(&session))
                .await?;
        }
        _ => return Err(AppError::invalid("action", "Unknown action.")),
    }
    leptos_axum::redirect(&format!("/admin/users/{id}?done={action}"));
    Ok(())
}

/// Deletes user `id` once `confirm` repeats their username.
#[server(prefix = "/fn", endpoint = "admin_delete")]
pub async fn admin_delete(id: String, confirm: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let admin = request::require_admin()?;
    let services = request::services()?;
    let detail = services.user_detail(&id).await?;
    if confirm.trim().to_lowercase() != detail.user.user.username {
        return Err(AppError::invalid(
            "confirm",
            "Type the username exactly to confirm.",
        ));
    }
    services.admin_delete_user(&admin, &id).await?;
    leptos_axum::redirect(&format!("/admin?deleted={}", detail.user.user.username));
    Ok(())
}

fn done_message(action: &str) -> Option<&'static str> {
    Some(match action {
        "disable" => "The account is disabled and every session of it has ended.",
        "enable" => "The account is enabled again.",
        "make_admin" => "They are now an administrator.",
        "make_member" => "They are now a member, no longer an administrator.",
        "verify_email" => "The email address is marked verified.",
        "send_reset" => "A password-reset link is on its way to them.",
        "end_sessions" => "Every session ended: they must sign in again.",
        "end_session" => "The session ended.",
        _ => return None,
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
        <Title text="User · Admin"/>
        <RequireAdmin admin=move |_| view! {
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <UserView detail act delete/> }.into_any(),
                        Err(err) => view! {
                            <section class="card card-wide">
                                <div class="card-head"><h1>"User"</h1><AdminNav/></div>
                                <p class="form-alert" role="alert">{err.message}</p>
                                <p><A href="/admin">"← All users"</A></p>
                            </section>
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
    } = detail;
    let id = user.user.id.clone();
    let username = user.user.username.clone();
    let done = move || {
        use_query_map()
            .with(|q| q.get("done"))
            .and_then(|a| done_message(&a))
    };
    let act_error = action_error(act);
    let delete_error = action_error(delete);
    let is_admin = user.user.role == Role::Admin;
    let session_count = sessions.len();
    let owner = id.clone();
    // Each form's children own their copy.
    let (act_id, delete_id) = (id.clone(), id.clone());
    let button = |action: &'static str, label: String, class: &'static str| {
        view! { <button type="submit" name="action" value=action class=format!("button {class}")>{label}</button> }
    };
    view! {
        <Title text=format!("{username} · Admin")/>
        <section class="card card-wide">
            <div class="card-head">
                <h1 data-testid="admin-user-name">{username.clone()}</h1>
                <AdminNav/>
            </div>
            <p><A href="/admin">"← All users"</A></p>
            {move || done().map(|message| view! {
                <div class="banner banner-ok" role="status" data-testid="admin-done">{message}</div>
            })}
            <dl class="facts">
                <div>
                    <dt>"Email"</dt>
                    <dd>
                        {user.user.email.clone()} " "
                        {if user.user.email_verified {
                            view! { <span class="badge badge-ok">"verified"</span> }.into_any()
                        } else {
                            view! { <span class="badge badge-warn">"not verified"</span> }.into_any()
                        }}
                    </dd>
                </div>
                <div><dt>"Role"</dt><dd data-testid="admin-user-role">{if is_admin { "Administrator" } else { "Member" }}</dd></div>
                <div>
                    <dt>"Status"</dt>
                    <dd data-testid="admin-user-status">
                        {if user.disabled {
                            view! { <span class="badge badge-danger">"disabled"</span> }.into_any()
                        } else {
                            "Active".into_any()
                        }}
                    </dd>
                </div>
                <div><dt>"Joined"</dt><dd>{utc(user.user.created_at)}</dd></div>
                <div><dt>"Last active"</dt><dd>{user.last_seen_at.map(utc).unwrap_or_else(|| "never".into())}</dd></div>
                <div><dt>"User id"</dt><dd><code>{id.clone()}</code></dd></div>
            </dl>
        </section>

        <section class="card card-wide">
            <h2>"Actions"</h2>
            <FormAlert error=act_error/>
            <ActionForm action=act attr:class="action-row">
                <input type="hidden" name="id" value=act_id/>
                {if user.disabled {
                    button("enable", "Enable account".into(), "button-primary")
                } else {
                    button("disable", "Disable account".into(), "button-danger-quiet")
                }}
                {if is_admin {
                    button("make_member", "Make a member".into(), "button-quiet")
                } else {
                    button("make_admin", "Make an administrator".into(), "button-quiet")
                }}
                {(!user.user.email_verified).then(|| button("verify_email", "Mark email verified".into(), "button-quiet"))}
                {(!user.disabled).then(|| button("send_reset", "Send password-reset link".into(), "button-quiet"))}
                {(session_count > 0).then(|| button("end_sessions", format!("End all sessions ({session_count})"), "button-quiet"))}
            </ActionForm>
            <p class="muted">"Disabling ends every session at once; they cannot sign in until enabled."</p>
        </section>

        <section class="card card-wide">
            <h2>{format!("Sessions ({session_count})")}</h2>
            {if sessions.is_empty() {
                view! { <p class="muted">"Not signed in anywhere."</p> }.into_any()
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
                                        <button type="submit" name="action" value="end_session" class="button button-quiet">"End session"</button>
                                    </ActionForm>
                                </SessionItem>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>

        <section class="card card-wide">
            <h2>"Recent activity"</h2>
            <ActivityList events=activity admin=true/>
            <p><A href=format!("/admin/activity?user_id={id}")>"All activity of this user →"</A></p>
        </section>

        <section class="card card-wide card-danger">
            <h2>"Delete user"</h2>
            <p class="muted">"Removes the account and its sessions for good; its activity log stays. This cannot be undone."</p>
            <ActionForm action=delete attr:novalidate=true attr:class="stack">
                <FormAlert error=delete_error/>
                <input type="hidden" name="id" value=delete_id/>
                <Field label="Type the username to confirm" name="confirm" error=delete_error/>
                <p><button type="submit" class="button button-danger">{format!("Delete {username}")}</button></p>
            </ActionForm>
        </section>
    }
}
