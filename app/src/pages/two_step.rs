//! Two-step sign-in: an authenticator app asked for after the first factor,
//! and the recovery codes that stand in for it. Setting the app up is two
//! posts (a new secret shown as a QR code, then a code that proves it was
//! copied); the recovery codes are shown once, right after they are made.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use super::RequireUser;
use crate::components::form::{action_error, CurrentPassword, ErrorNote, Field, FormAlert, Submit};
use crate::components::time::date;
use crate::error::AppError;
use crate::model::{AuthenticatorSetup, Me, SecondFactors};
use crate::tr;

/// What the page shows: the account's second factors, the set-up waiting
/// for its code, and recovery codes the form just posted made (carried to
/// this page in a sealed cookie, shown once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    pub status: SecondFactors,
    pub setup: Option<AuthenticatorSetup>,
    pub fresh_codes: Vec<String>,
}

#[server(prefix = "/fn", endpoint = "two_step_overview")]
pub async fn two_step_overview() -> Result<Overview, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let second = services.second_factors();
    let status = second.status(&auth).await?;
    let setup = match status.authenticator_since {
        None => second.pending_authenticator(&auth).await?,
        Some(_) => None,
    };
    let fresh_codes = crate::ssr::once::take(&services, FRESH_CODES, &auth.user.id);
    Ok(Overview {
        status,
        setup,
        fresh_codes,
    })
}

#[server(prefix = "/fn", endpoint = "start_authenticator")]
pub async fn start_authenticator(#[server(default)] password: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .second_factors()
        .start_authenticator(&auth, password)
        .await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "confirm_authenticator")]
pub async fn confirm_authenticator(code: String) -> Result<Vec<String>, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let codes = services
        .second_factors()
        .confirm_authenticator(&auth, &code, &request::client_info())
        .await?;
    carry_codes(&services, &auth, &codes);
    Ok(codes)
}

#[server(prefix = "/fn", endpoint = "remove_authenticator")]
pub async fn remove_authenticator(
    #[server(default)] password: String,
    code: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .second_factors()
        .remove_authenticator(&auth, password, &code, &request::client_info())
        .await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "renew_recovery_codes")]
pub async fn renew_recovery_codes(code: String) -> Result<Vec<String>, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let codes = services
        .second_factors()
        .renew_recovery_codes(&auth, &code, &request::client_info())
        .await?;
    carry_codes(&services, &auth, &codes);
    Ok(codes)
}

/// What the recovery codes' cookie is sealed for (`ssr::once`).
#[cfg(feature = "ssr")]
const FRESH_CODES: &str = "recovery-codes";

/// A posted form gets a redirect back to the page, not the answer: the
/// new codes ride along to the page's next load (`ssr::once`).
#[cfg(feature = "ssr")]
fn carry_codes(services: &latchkey_core::Services, auth: &latchkey_core::Auth, codes: &[String]) {
    if crate::ssr::request::is_form_post() {
        crate::ssr::once::carry(services, FRESH_CODES, &auth.user.id, codes);
    }
}

#[component]
pub fn TwoStepPage() -> impl IntoView {
    let start = ServerAction::<StartAuthenticator>::new();
    let confirm = ServerAction::<ConfirmAuthenticator>::new();
    let remove = ServerAction::<RemoveAuthenticator>::new();
    let renew = ServerAction::<RenewRecoveryCodes>::new();
    let state = Resource::new_blocking(
        move || {
            (
                start.version().get(),
                confirm.version().get(),
                remove.version().get(),
                renew.version().get(),
            )
        },
        |_| two_step_overview(),
    );
    let forms = Forms {
        start,
        confirm,
        remove,
        renew,
    };
    view! {
        <Title text=tr!(two_step.title)/>
        <RequireUser signed_in=move |me| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || { let me = me.clone(); Suspend::new(async move {
                    match state.await {
                        Ok(state) => {
                            let codes = Signal::stored(state.fresh_codes.clone());
                            view! { <Factors me state forms codes/> }.into_any()
                        }
                        Err(error) => view! {
                            <section class="card"><ErrorNote error/></section>
                        }.into_any(),
                    }
                })}}
            </Suspense>
        }/>
    }
}

/// The page's actions, owned by the page so a refused form's error comes
/// back to its form.
#[derive(Clone, Copy)]
struct Forms {
    start: ServerAction<StartAuthenticator>,
    confirm: ServerAction<ConfirmAuthenticator>,
    remove: ServerAction<RemoveAuthenticator>,
    renew: ServerAction<RenewRecoveryCodes>,
}

#[component]
fn Factors(me: Me, state: Overview, forms: Forms, codes: Signal<Vec<String>>) -> impl IntoView {
    let status = state.status;
    view! {
        <section class="card">
            <h1>{tr!(two_step.title)}</h1>
            <p class="muted">{tr!(two_step.intro)}</p>
            {match (status.authenticator_since, state.setup) {
                (Some(since), _) => view! {
                    <dl class="facts" data-testid="two-step-on">
                        <div>
                            <dt>{tr!(two_step.app)}</dt>
                            <dd>{tr!(two_step.on_since, date = date(since, crate::locale::current()))}</dd>
                        </div>
                        <div>
                            <dt>{tr!(two_step.codes_left_label)}</dt>
                            <dd data-testid="codes-left">{status.recovery_codes_left}</dd>
                        </div>
                    </dl>
                }.into_any(),
                (None, Some(setup)) => view! { <SetUp setup forms/> }.into_any(),
                (None, None) => view! { <Start has_password=me.user.has_password start=forms.start/> }.into_any(),
            }}
            <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
        </section>
        {move || {
            let codes = codes.get();
            (!codes.is_empty()).then(|| view! { <RecoveryCodes codes/> })
        }}
        {status.authenticator_since.is_some().then(|| view! {
            <Renew renew=forms.renew/>
            <Remove has_password=me.user.has_password remove=forms.remove/>
        })}
    }
}

#[component]
fn Start(has_password: bool, start: ServerAction<StartAuthenticator>) -> impl IntoView {
    let error = action_error(start);
    view! {
        <p data-testid="two-step-off">{tr!(two_step.off)}</p>
        <p class="muted">{tr!(two_step.keeps_sessions)}</p>
        // An app added from a borrowed session would lock the owner out.
        <ActionForm action=start attr:novalidate=true attr:class="stack">
            <FormAlert error/>
            <CurrentPassword has_password label=tr!(two_step.password) id="start-password" hint=tr!(two_step.password_hint) error/>
            <Submit label=tr!(two_step.start) busy_label=tr!(common.busy)/>
        </ActionForm>
    }
}

#[component]
fn SetUp(setup: AuthenticatorSetup, forms: Forms) -> impl IntoView {
    let confirm = forms.confirm;
    let error = action_error(confirm);
    view! {
        <ol class="setup-steps">
            <li>
                <p>{tr!(two_step.scan)}</p>
                // Drawn by the server from the secret's URI: trusted markup.
                <div class="qr" role="img" aria-label=tr!(two_step.qr_label) inner_html=setup.qr_svg></div>
                <p class="muted">{tr!(two_step.type_key)}</p>
                <p><code class="secret" data-testid="totp-secret">{setup.secret}</code></p>
            </li>
            <li>
                <p>{tr!(two_step.confirm_step)}</p>
                <ActionForm action=confirm attr:novalidate=true attr:class="stack">
                    <FormAlert error/>
                    <Field
                        label=tr!(two_step.code)
                        name="code"
                        autocomplete="one-time-code"
                        inputmode="numeric"
                        maxlength=7
                        autofocus=true
                        error
                    />
                    <Submit label=tr!(two_step.confirm) busy_label=tr!(common.busy)/>
                </ActionForm>
            </li>
        </ol>
        <p class="muted">{tr!(two_step.keeps_sessions)}</p>
    }
}

#[component]
fn Renew(renew: ServerAction<RenewRecoveryCodes>) -> impl IntoView {
    let error = action_error(renew);
    view! {
        <section class="card">
            <h2>{tr!(two_step.renew_heading)}</h2>
            <p class="muted">{tr!(two_step.renew_intro)}</p>
            <ActionForm action=renew attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field
                    label=tr!(two_step.code_or_recovery)
                    name="code"
                    id="renew-code"
                    autocomplete="one-time-code"
                    maxlength=16
                    error
                />
                <Submit label=tr!(two_step.renew) busy_label=tr!(common.busy)/>
            </ActionForm>
        </section>
    }
}

#[component]
fn Remove(has_password: bool, remove: ServerAction<RemoveAuthenticator>) -> impl IntoView {
    let error = action_error(remove);
    view! {
        <section class="card card-danger">
            <h2>{tr!(two_step.remove_heading)}</h2>
            <p class="muted">{tr!(two_step.remove_intro)}</p>
            <ActionForm action=remove attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <CurrentPassword has_password label=tr!(two_step.password) id="password" error/>
                <Field
                    label=tr!(two_step.code_or_recovery)
                    name="code"
                    id="remove-code"
                    autocomplete="one-time-code"
                    maxlength=16
                    error
                />
                <Submit label=tr!(two_step.remove) busy_label=tr!(common.busy) class="button-danger"/>
            </ActionForm>
        </section>
    }
}

/// Fresh recovery codes, shown this once, with a copy to download.
#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    let text: String = codes.iter().map(|c| format!("{c}\n")).collect();
    let href = format!(
        "data:text/plain;charset=utf-8,{}",
        super::login_code::urlencoding(&text)
    );
    view! {
        <section class="card card-notice" data-testid="recovery-codes">
            <h2>{tr!(two_step.codes_heading)}</h2>
            <p>{tr!(two_step.codes_intro)}</p>
            <ul class="recovery-codes">
                {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ul>
            <p>
                <a class="button button-quiet" download="latchkey-recovery-codes.txt" href=href>
                    {tr!(two_step.download)}
                </a>
            </p>
        </section>
    }
}
