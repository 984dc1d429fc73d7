//! The signed-in state, shared by the header and every page. It is read on
//! the server while rendering (so SSR shows who is signed in) and re-read
//! whenever an action that changes it completes, log-out included.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::error::AppError;
use crate::model::Me;

#[server(prefix = "/fn", endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    Ok(crate::ssr::request::current_auth().map(|auth| auth.me()))
}

#[server(prefix = "/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::{cookies, request};
    let services = request::services()?;
    if let Some(auth) = request::current_auth() {
        services.sessions().logout(&auth).await?;
    }
    request::set_cookies(cookies::cleared(&services.config));
    leptos_axum::redirect("/login");
    Ok(())
}

#[derive(Clone, Copy)]
pub struct Session {
    pub me: Resource<Result<Option<Me>, AppError>>,
    pub logout: ServerAction<Logout>,
    changed: RwSignal<usize>,
}

pub fn provide_session() {
    let changed = RwSignal::new(0);
    let logout = ServerAction::<Logout>::new();
    // Blocking: the first HTML already shows the signed-in state, even
    // without JavaScript.
    let me = Resource::new_blocking(
        move || (changed.get(), logout.version().get()),
        |_| current_user(),
    );
    provide_context(Session {
        me,
        logout,
        changed,
    });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// A server action after which the session is re-read (log in, sign up,
/// profile edits). Create it inside the page that owns the form, so an error
/// of a form posted without JavaScript comes back to that form.
pub fn session_action<S>() -> ServerAction<S>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let action = ServerAction::<S>::new();
    let changed = use_session().changed;
    Effect::watch(
        move || action.version().get(),
        move |_, _, _| changed.update(|n| *n += 1),
        false,
    );
    action
}
