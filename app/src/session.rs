//! The signed-in state, shared by the header and every page, read once per
//! page on the server while rendering. (A form that changes it answers
//! with a new page, which reads it again.)

use leptos::prelude::*;

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
}

pub fn provide_session() {
    // Blocking: the HTML shows the signed-in state.
    let me = Resource::new_blocking(|| (), |_| current_user());
    provide_context(Session {
        me,
        logout: ServerAction::<Logout>::new(),
    });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}
