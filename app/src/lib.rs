#![recursion_limit = "256"]
//! Latchkey's UI: pages, components and the thin server functions beside
//! them. The flows are the domain crate's (`latchkey_core`); `ssr` holds the
//! server-only glue between the two, and `letters` the words of each mail.

include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

pub mod brand;
#[cfg(feature = "hydrate")]
mod browser;
pub mod components;
pub mod error;
#[cfg(feature = "ssr")]
pub mod letters;
pub mod locale;
pub mod model;
pub use latchkey_types::overview;
pub mod pages;
pub mod session;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "hydrate")]
mod webauthn;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Html, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use components::{footer::Footer, form::SubmitOnce, header::Header};
use pages::admin::{
    activity::ActivityLogPage,
    apps::{AppPage, AppsPage, NewAppPage},
    overview::OverviewPage,
    user::UserPage,
    users::UsersPage,
    webhooks::{NewWebhookPage, WebhookPage, WebhooksPage},
};
use pages::{
    change_email::ChangeEmailPage,
    connected_apps::ConnectedAppsPage,
    consent::{ConsentPage, ProblemPage},
    delete_account::DeleteAccountPage,
    forgot::ForgotPage,
    home::HomePage,
    linked_accounts::{ConfirmLinkPage, LinkedAccountsPage},
    login::LoginPage,
    login_code::LoginCodePage,
    not_found::NotFound,
    passkeys::PasskeysPage,
    password::ChangePasswordPage,
    profile::ProfilePage,
    reset::ResetPage,
    revert_email::RevertEmailPage,
    second_factor::SecondFactorPage,
    security::SecurityPage,
    sessions::SessionsPage,
    signup::{SignupCodePage, SignupPage},
    step_up::StepUpPage,
    two_step::TwoStepPage,
    verify::VerifyPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let brand = brand::current();
    let (icon, icon_type) = brand
        .favicon
        .clone()
        .unwrap_or_else(|| ("/favicon.svg".into(), "image/svg+xml".into()));
    view! {
        <!DOCTYPE html>
        // `lang` comes from the page's locale (see `App`).
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href=icon type=icon_type/>
                <AutoReload options=options.clone()/>
                // The build's hashed name when it made one (see `server::assets`).
                <HashedStylesheet options=options.clone() id="leptos"/>
                // The product's colours over the app's own (`server::brand`).
                {brand.stylesheet.clone().map(|href| view! { <link rel="stylesheet" href=href/> })}
                // Islands: the pages are HTML from the server, and only the parts
                // that act in the browser (each an `#[island]`) ship as WASM.
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let locale = page_locale();
    provide_context(locale);
    view! {
        <Html attr:lang=leptos_i18n::Locale::as_str(locale) attr:dir="ltr"/>
        <Shell/>
    }
}

/// The page's language, negotiated once per request by the session
/// middleware. (Only the server renders the app; islands read `<html lang>`.)
fn page_locale() -> locale::Locale {
    #[cfg(feature = "ssr")]
    let locale = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<latchkey_core::ClientInfo>().cloned())
        .and_then(|client| locale::from_tag(client.locale))
        .unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let locale = locale::Locale::default();
    locale
}

#[component]
fn Shell() -> impl IntoView {
    session::provide_session();
    let brand = brand::current();
    view! {
        <Title formatter=move |page: String| brand.title(&page)/>
        <Router>
            <a class="skip-link" href="#main">{tr!(common.skip)}</a>
            <Header/>
            <main id="main" class="page">
                // Async: pages are rendered whole before the response starts,
                // so redirects are real 302s and nothing needs JS to show.
                <Routes fallback=NotFound>
                    <Route path=path!("/") ssr=SsrMode::Async view=HomePage/>
                    <Route path=path!("/signup") ssr=SsrMode::Async view=SignupPage/>
                    <Route path=path!("/signup/code") ssr=SsrMode::Async view=SignupCodePage/>
                    <Route path=path!("/login") ssr=SsrMode::Async view=LoginPage/>
                    <Route path=path!("/profile") ssr=SsrMode::Async view=ProfilePage/>
                    <Route path=path!("/verify") ssr=SsrMode::Async view=VerifyPage/>
                    <Route path=path!("/login/code") ssr=SsrMode::Async view=LoginCodePage/>
                    <Route path=path!("/login/second-factor") ssr=SsrMode::Async view=SecondFactorPage/>
                    <Route path=path!("/email") ssr=SsrMode::Async view=ChangeEmailPage/>
                    <Route path=path!("/email/revert") ssr=SsrMode::Async view=RevertEmailPage/>
                    <Route path=path!("/forgot") ssr=SsrMode::Async view=ForgotPage/>
                    <Route path=path!("/reset") ssr=SsrMode::Async view=ResetPage/>
                    <Route path=path!("/password") ssr=SsrMode::Async view=ChangePasswordPage/>
                    <Route path=path!("/delete-account") ssr=SsrMode::Async view=DeleteAccountPage/>
                    <Route path=path!("/sessions") ssr=SsrMode::Async view=SessionsPage/>
                    <Route path=path!("/security") ssr=SsrMode::Async view=SecurityPage/>
                    <Route path=path!("/security/two-step") ssr=SsrMode::Async view=TwoStepPage/>
                    <Route path=path!("/security/passkeys") ssr=SsrMode::Async view=PasskeysPage/>
                    <Route path=path!("/security/confirm") ssr=SsrMode::Async view=StepUpPage/>
                    <Route path=path!("/security/apps") ssr=SsrMode::Async view=ConnectedAppsPage/>
                    <Route path=path!("/security/accounts") ssr=SsrMode::Async view=LinkedAccountsPage/>
                    <Route path=path!("/security/link") ssr=SsrMode::Async view=ConfirmLinkPage/>
                    <Route path=path!("/admin") ssr=SsrMode::Async view=OverviewPage/>
                    <Route path=path!("/admin/users") ssr=SsrMode::Async view=UsersPage/>
                    <Route path=path!("/admin/users/:id") ssr=SsrMode::Async view=UserPage/>
                    <Route path=path!("/admin/activity") ssr=SsrMode::Async view=ActivityLogPage/>
                    <Route path=path!("/admin/apps") ssr=SsrMode::Async view=AppsPage/>
                    <Route path=path!("/admin/apps/new") ssr=SsrMode::Async view=NewAppPage/>
                    <Route path=path!("/admin/apps/:id") ssr=SsrMode::Async view=AppPage/>
                    <Route path=path!("/admin/webhooks") ssr=SsrMode::Async view=WebhooksPage/>
                    <Route path=path!("/admin/webhooks/new") ssr=SsrMode::Async view=NewWebhookPage/>
                    <Route path=path!("/admin/webhooks/:id") ssr=SsrMode::Async view=WebhookPage/>
                    <Route path=path!("/oauth/consent") ssr=SsrMode::Async view=ConsentPage/>
                    <Route path=path!("/oauth/problem") ssr=SsrMode::Async view=ProblemPage/>
                </Routes>
            </main>
            <Footer/>
            <SubmitOnce/>
        </Router>
    }
}
