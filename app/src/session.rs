//! The signed-in state, shared by the header and every page. It is read on
//! the server while rendering (so SSR shows who is signed in) and re-read
//! whenever an action that changes it completes.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Me;
use crate::pages::{login::Login, profile::UpdateUsername, signup::Signup};
use crate::components::header::Logout;

#[server(prefix = "/fn", endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    Ok(crate::ssr::request::current_auth().map(|auth| auth.me()))
}

#[derive(Clone, Copy)]
pub struct Session {
    pub login: ServerAction<Login>,
    pub signup: ServerAction<Signup>,
    pub logout: ServerAction<Logout>,
    pub update_username: ServerAction<UpdateUsername>,
    pub me: Resource<Result<Option<Me>, AppError>>,
}

pub fn provide_session() {
    let login = ServerAction::<Login>::new();
    let signup = ServerAction::<Signup>::new();
    let logout = ServerAction::<Logout>::new();
    let update_username = ServerAction::<UpdateUsername>::new();
    // Blocking: the first HTML already shows the signed-in state, even
    // without JavaScript.
    let me = Resource::new_blocking(
        move || {
            (
                login.version().get(),
                signup.version().get(),
                logout.version().get(),
                update_username.version().get(),
            )
        },
        |_| current_user(),
    );
    provide_context(Session {
        login,
        signup,
        logout,
        update_username,
        me,
    });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}
