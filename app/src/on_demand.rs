//! Screens a visitor never sees before signing in, each compiled into its own
//! WASM chunk (`cargo leptos build --split`) that the browser fetches the
//! first time the route is opened, so the public screens load less. The
//! server renders them like any page, and a page opened directly hydrates
//! once its chunk has arrived (the page links it as a preload).

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::pages::admin::{activity::ActivityLogPage, user::UserPage, users::UsersPage};
use crate::pages::{
    change_email::ChangeEmailPage, delete_account::DeleteAccountPage, password::ChangePasswordPage,
    profile::ProfilePage, security::SecurityPage, sessions::SessionsPage, step_up::StepUpPage,
    two_step::TwoStepPage,
};

/// `Name => Page`: a route type whose view is `<Page/>`, loaded on demand.
macro_rules! on_demand {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        #[derive(Debug)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

on_demand! {
    Profile => ProfilePage,
    ChangeEmail => ChangeEmailPage,
    ChangePassword => ChangePasswordPage,
    DeleteAccount => DeleteAccountPage,
    Sessions => SessionsPage,
    Security => SecurityPage,
    TwoStep => TwoStepPage,
    StepUp => StepUpPage,
    AdminUsers => UsersPage,
    AdminUser => UserPage,
    AdminActivity => ActivityLogPage,
}
