//! The whole security activity log, filterable by account, address, kind
//! and "admin actions only", paged newest first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use super::{query_string, ConsoleCard, RequireAdmin};
use crate::components::activity::ActivityList;
use crate::components::form::ErrorNote;
use crate::error::AppError;
use crate::i18n::td_string as td;
use crate::locale::Locale;
use crate::model::{ActivityPage, EventKind};
use crate::pages::security::Pager;
use crate::tr;

#[server(prefix = "/fn", endpoint = "admin_events")]
pub async fn admin_events(
    q: String,
    kind: String,
    admin_only: bool,
    user_id: String,
    before: String,
) -> Result<ActivityPage, AppError> {
    use crate::ssr::request;
    use latchkey_core::audit::ActivityFilter;
    request::require_admin()?;
    let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let filter = ActivityFilter {
        user_id: some(user_id),
        search: some(q),
        kind: EventKind::parse(&kind),
        admin_only,
        before: some(before),
        limit: None,
    };
    Ok(request::services()?.admin().activity(&filter).await?)
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Filters {
    q: String,
    kind: String,
    admin_only: bool,
    user_id: String,
    before: String,
}

impl Filters {
    fn from_query(map: &ParamsMap) -> Self {
        let get = |key| map.get(key).unwrap_or_default();
        Self {
            q: get("q"),
            kind: get("kind"),
            admin_only: get("admin") == "1",
            user_id: get("user_id"),
            before: get("before"),
        }
    }

    /// The page's URL with these filters, ready for one more `key=value`.
    fn base(&self) -> String {
        let query = query_string(&[
            ("q", &self.q),
            ("kind", &self.kind),
            ("admin", if self.admin_only { "1" } else { "" }),
            ("user_id", &self.user_id),
        ]);
        if query.is_empty() {
            "/admin/activity?".into()
        } else {
            format!("/admin/activity?{query}&")
        }
    }
}

/// Labels for the kind filter.
fn kind_label(locale: Locale, kind: EventKind) -> &'static str {
    match kind {
        EventKind::SignUp => td!(locale, admin.kind.sign_up),
        EventKind::LoginSucceeded => td!(locale, admin.kind.login_succeeded),
        EventKind::LoginFailed => td!(locale, admin.kind.login_failed),
        EventKind::LoginThrottled => td!(locale, admin.kind.login_throttled),
        EventKind::CodeSent => td!(locale, admin.kind.code_sent),
        EventKind::CodeFailed => td!(locale, admin.kind.code_failed),
        EventKind::EmailVerified => td!(locale, admin.kind.email_verified),
        EventKind::EmailChanged => td!(locale, admin.kind.email_changed),
        EventKind::UsernameChanged => td!(locale, admin.kind.username_changed),
        EventKind::PasswordResetRequested => td!(locale, admin.kind.password_reset_requested),
        EventKind::PasswordReset => td!(locale, admin.kind.password_reset),
        EventKind::PasswordChanged => td!(locale, admin.kind.password_changed),
        EventKind::Logout => td!(locale, admin.kind.logout),
        EventKind::SessionRevoked => td!(locale, admin.kind.session_revoked),
        EventKind::AccountDeleted => td!(locale, admin.kind.account_deleted),
        EventKind::UserDisabled => td!(locale, admin.kind.user_disabled),
        EventKind::UserEnabled => td!(locale, admin.kind.user_enabled),
        EventKind::RoleChanged => td!(locale, admin.kind.role_changed),
        EventKind::MailFailed => td!(locale, admin.kind.mail_failed),
        EventKind::SecondFactorAdded => td!(locale, admin.kind.second_factor_added),
        EventKind::SecondFactorRemoved => td!(locale, admin.kind.second_factor_removed),
        EventKind::RecoveryCodesRenewed => td!(locale, admin.kind.recovery_codes_renewed),
        EventKind::RecoveryCodeUsed => td!(locale, admin.kind.recovery_code_used),
        EventKind::PasskeyAdded => td!(locale, admin.kind.passkey_added),
        EventKind::PasskeyRemoved => td!(locale, admin.kind.passkey_removed),
        EventKind::IdentityLinked => td!(locale, admin.kind.identity_linked),
        EventKind::IdentityUnlinked => td!(locale, admin.kind.identity_unlinked),
        EventKind::AppAuthorized => td!(locale, admin.kind.app_authorized),
        EventKind::AppRevoked => td!(locale, admin.kind.app_revoked),
        EventKind::AppRegistered => td!(locale, admin.kind.app_registered),
        EventKind::AppChanged => td!(locale, admin.kind.app_changed),
        EventKind::AppSecretRotated => td!(locale, admin.kind.app_secret_rotated),
        EventKind::AppDeleted => td!(locale, admin.kind.app_deleted),
        EventKind::WebhookAdded => td!(locale, admin.kind.webhook_added),
        EventKind::WebhookChanged => td!(locale, admin.kind.webhook_changed),
        EventKind::WebhookSecretRotated => td!(locale, admin.kind.webhook_secret_rotated),
        EventKind::WebhookDeleted => td!(locale, admin.kind.webhook_deleted),
        EventKind::WebhookDisabled => td!(locale, admin.kind.webhook_disabled),
    }
}

#[component]
pub fn ActivityLogPage() -> impl IntoView {
    let filters = Memo::new(move |_| use_query_map().with(Filters::from_query));
    let page = Resource::new_blocking(
        move || filters.get(),
        |f| admin_events(f.q, f.kind, f.admin_only, f.user_id, f.before),
    );
    view! {
        <Title text=tr!(admin.activity_title)/>
        <RequireAdmin admin=move |_| view! {
            <ConsoleCard heading=tr!(admin.activity_log)>
                <FilterForm filters=filters.get_untracked()/>
                <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                    {move || Suspend::new(async move {
                        let filters = filters.get_untracked();
                        match page.await {
                            Ok(page) => view! {
                                <ActivityList events=page.events admin=true with_user=true/>
                                <Pager next_before=page.next_before newest=!filters.before.is_empty() base=filters.base()/>
                            }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </ConsoleCard>
        }/>
    }
}

#[component]
fn FilterForm(filters: Filters) -> impl IntoView {
    let kind = filters.kind.clone();
    view! {
        <Form method="GET" action="/admin/activity" attr:class="filters" attr:role="search">
            {(!filters.user_id.is_empty()).then(|| view! {
                <input type="hidden" name="user_id" value=filters.user_id.clone()/>
            })}
            <div class="field field-grow">
                <label for="filter-q">{tr!(admin.filter_account)}</label>
                <input
                    id="filter-q"
                    type="search"
                    name="q"
                    value=filters.q
                    placeholder=tr!(admin.filter_placeholder)
                    autocomplete="off"
                />
            </div>
            <div class="field">
                <label for="filter-kind">{tr!(admin.filter_event)}</label>
                <select id="filter-kind" name="kind">
                    <option value="">{tr!(admin.all_events)}</option>
                    {EventKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=kind == k.as_str()>
                            {kind_label(crate::locale::current(), k)}
                        </option>
                    }).collect_view()}
                </select>
            </div>
            <label class="checkbox">
                <input type="checkbox" name="admin" value="1" checked=filters.admin_only/>
                {tr!(admin.admin_only)}
            </label>
            <button type="submit" class="button button-primary">{tr!(admin.filter_button)}</button>
            {(!filters.user_id.is_empty()).then(|| view! {
                <A href="/admin/activity">{tr!(admin.every_account)}</A>
            })}
        </Form>
    }
}
