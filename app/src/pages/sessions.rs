//! Devices and sessions: where the account is signed in, with a way to end
//! any of them.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::RequireUser;
use crate::components::form::{action_error, ErrorNote, FormAlert};
use crate::components::session_item::SessionItem;
use crate::error::AppError;
use crate::model::SessionInfo;
use crate::tr;

#[server(prefix = "/fn", endpoint = "list_sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    Ok(request::services()?.sessions().list_sessions(&auth).await?)
}

/// Ends one session; ending this one signs this browser out.
#[server(prefix = "/fn", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    let auth = request::require_auth()?;
    services.sessions().end_session(&auth, &id).await?;
    if id == auth.session_id {
        request::set_cookies(cookies::cleared(&services.config));
        leptos_axum::redirect("/login");
    } else {
        leptos_axum::redirect("/sessions");
    }
    Ok(())
}

#[server(prefix = "/fn", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .sessions()
        .end_other_sessions(&auth)
        .await?;
    leptos_axum::redirect("/sessions");
    Ok(())
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let end_one = ServerAction::<EndSession>::new();
    let end_others = ServerAction::<EndOtherSessions>::new();
    let sessions = Resource::new_blocking(
        move || (end_one.version().get(), end_others.version().get()),
        |_| list_sessions(),
    );
    let (one_error, others_error) = (action_error(end_one), action_error(end_others));
    let error = Signal::derive(move || one_error.get().or(others_error.get()));
    view! {
        <Title text=tr!(sessions.title)/>
        <RequireUser signed_in=move |_| view! {
            <section class="card">
                <h1>{tr!(sessions.title)}</h1>
                <p class="muted">{tr!(sessions.intro)}</p>
                <FormAlert error/>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        match sessions.await {
                            Ok(list) => {
                                let others = list.iter().filter(|s| !s.current).count();
                                view! {
                                    <ul class="sessions" data-testid="sessions">
                                        {list.into_iter().map(|s| view! { <SessionRow session=s action=end_one/> }).collect_view()}
                                    </ul>
                                    {(others > 0).then(|| view! {
                                        <ActionForm action=end_others attr:class="actions">
                                            <button type="submit" class="button button-danger-quiet">
                                                {tr!(sessions.end_others, count = others)}
                                            </button>
                                        </ActionForm>
                                    })}
                                }.into_any()
                            }
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
                <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
            </section>
        }/>
    }
}

#[component]
fn SessionRow(session: SessionInfo, action: ServerAction<EndSession>) -> impl IntoView {
    let current = session.current;
    let id = session.id.clone();
    view! {
        <SessionItem session>
            <ActionForm action=action attr:class="inline-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="button button-quiet">
                    {if current { tr!(sessions.log_out).into_any() } else { tr!(sessions.end).into_any() }}
                </button>
            </ActionForm>
        </SessionItem>
    }
}
