//! The account's passkeys: the list, adding one (two posts: the password,
//! then the device makes the passkey), renaming and removing.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use super::RequireUser;
use crate::components::form::{action_error, CurrentPassword, ErrorNote, Field, FormAlert, Submit};
use crate::components::passkey::{PasskeyCreate, PasskeyFields};
use crate::components::time::date;
use crate::error::AppError;
use crate::model::{Me, PasskeyInfo};
use crate::tr;

/// What the page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    /// Whether this deployment offers passkeys (`PUBLIC_URL` names a domain).
    pub enabled: bool,
    pub passkeys: Vec<PasskeyInfo>,
    /// The passkey this session is adding: its name and the options for
    /// the browser, until the device answers.
    pub adding: Option<(String, String)>,
}

#[server(prefix = "/fn", endpoint = "passkeys_overview")]
pub async fn passkeys_overview() -> Result<Overview, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::require_auth()?;
    let passkeys = services.passkeys();
    let adding = match passkeys.enabled() {
        true => passkeys
            .pending(&auth)
            .await?
            .map(|pending| (pending.name, pending.options)),
        false => None,
    };
    Ok(Overview {
        enabled: passkeys.enabled(),
        passkeys: passkeys.list(&auth).await?,
        adding,
    })
}

#[server(prefix = "/fn", endpoint = "start_passkey")]
pub async fn start_passkey(
    #[server(default)] name: String,
    #[server(default)] password: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .passkeys()
        .start_adding(&auth, &name, password)
        .await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "finish_passkey")]
pub async fn finish_passkey(#[server(default)] credential: String) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .passkeys()
        .finish_adding(&auth, &credential, &request::client_info())
        .await?;
    leptos_axum::redirect("/security/passkeys?added");
    Ok(())
}

#[server(prefix = "/fn", endpoint = "cancel_passkey")]
pub async fn cancel_passkey() -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?.passkeys().cancel_adding(&auth).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "rename_passkey")]
pub async fn rename_passkey(
    #[server(default)] id: String,
    #[server(default)] name: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .passkeys()
        .rename(&auth, &id, &name)
        .await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "remove_passkey")]
pub async fn remove_passkey(
    #[server(default)] id: String,
    #[server(default)] password: String,
) -> Result<(), AppError> {
    use crate::ssr::request;
    let auth = request::require_auth()?;
    request::services()?
        .passkeys()
        .remove(&auth, &id, password, &request::client_info())
        .await?;
    Ok(())
}

/// The page's actions, owned by the page so a refused form's error comes
/// back to its form.
#[derive(Clone, Copy)]
struct Forms {
    start: ServerAction<StartPasskey>,
    finish: ServerAction<FinishPasskey>,
    cancel: ServerAction<CancelPasskey>,
    rename: ServerAction<RenamePasskey>,
    remove: ServerAction<RemovePasskey>,
}

#[component]
pub fn PasskeysPage() -> impl IntoView {
    let forms = Forms {
        start: ServerAction::new(),
        finish: ServerAction::new(),
        cancel: ServerAction::new(),
        rename: ServerAction::new(),
        remove: ServerAction::new(),
    };
    let state = Resource::new_blocking(
        move || {
            (
                forms.start.version().get(),
                forms.finish.version().get(),
                forms.cancel.version().get(),
                forms.rename.version().get(),
                forms.remove.version().get(),
            )
        },
        |_| passkeys_overview(),
    );
    view! {
        <Title text=tr!(passkeys.title)/>
        <RequireUser signed_in=move |me| view! {
            <Suspense fallback=move || view! { <p class="muted">{tr!(common.loading)}</p> }>
                {move || { let me = me.clone(); Suspend::new(async move {
                    match state.await {
                        Ok(state) => view! { <Passkeys me state forms/> }.into_any(),
                        Err(error) => view! {
                            <section class="card"><ErrorNote error/></section>
                        }.into_any(),
                    }
                })}}
            </Suspense>
        }/>
    }
}

#[component]
fn Passkeys(me: Me, state: Overview, forms: Forms) -> impl IntoView {
    let added = super::address_says("added");
    let welcome = super::address_says("welcome") && state.passkeys.is_empty();
    let has_password = me.user.has_password;
    let verified = me.user.email_verified;
    let locale = crate::locale::current();
    let list = state.passkeys.clone();
    let any = !list.is_empty();
    view! {
        <section class="card">
            <h1>{tr!(passkeys.title)}</h1>
            <p class="muted">{tr!(passkeys.intro)}</p>
            {(!state.enabled).then(|| view! { <p class="form-alert" role="note">{tr!(passkeys.off)}</p> })}
            {welcome.then(|| view! {
                <p class="notice" data-testid="passkey-welcome">
                    {tr!(passkeys.welcome)}
                    // A sign-up that finished by code has proven its address.
                    {(!verified).then(|| view! {
                        " " {tr!(passkeys.welcome_verify)} " "
                        <A href="/verify">{tr!(passkeys.verify_link)}</A>
                    })}
                </p>
            })}
            <p class="form-success" role="status" aria-live="polite">
                {added.then(|| tr!(passkeys.added))}
            </p>
            {match any {
                true => view! {
                    <ul class="passkey-list" aria-label=tr!(passkeys.list_label) data-testid="passkeys">
                        {list.into_iter().map(|key| view! {
                            <li>
                                <strong>{key.name}</strong>
                                <span class="muted">{tr!(passkeys.added_on, date = date(key.created_at, locale))}</span>
                                <span class="muted">{match key.last_used_at {
                                    Some(at) => tr!(passkeys.last_used, date = date(at, locale)),
                                    None => tr!(passkeys.never_used).to_owned(),
                                }}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
                false => view! { <p data-testid="no-passkeys">{tr!(passkeys.none)}</p> }.into_any(),
            }}
            <p class="switch"><A href="/security">{tr!(security.title)}</A></p>
            <p class="switch"><A href="/profile">{tr!(common.back_to_profile)}</A></p>
        </section>
        {state.enabled.then(|| match state.adding.clone() {
            Some((name, options)) => view! { <Create name options forms/> }.into_any(),
            None => view! { <Start has_password start=forms.start/> }.into_any(),
        })}
        {any.then(|| view! {
            <Rename passkeys=state.passkeys.clone() rename=forms.rename/>
            <Remove passkeys=state.passkeys.clone() has_password remove=forms.remove/>
        })}
    }
}

#[component]
fn Start(has_password: bool, start: ServerAction<StartPasskey>) -> impl IntoView {
    let error = action_error(start);
    view! {
        <section class="card">
            <h2>{tr!(passkeys.add_heading)}</h2>
            <ActionForm action=start attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Field
                    label=tr!(passkeys.name)
                    name="name"
                    id="passkey-name"
                    posts_to={<StartPasskey as leptos::server_fn::ServerFn>::PATH}
                    hint=tr!(passkeys.name_hint)
                    maxlength=64
                    required=false
                    error
                />
                <CurrentPassword has_password label=tr!(passkeys.password) id="add-password" hint=tr!(passkeys.password_hint) error/>
                <Submit label=tr!(passkeys.add) busy_label=tr!(common.busy)/>
            </ActionForm>
        </section>
    }
}

/// The second step: the device makes the passkey (an island), and the
/// form posts it.
#[component]
fn Create(name: String, options: String, forms: Forms) -> impl IntoView {
    let error = action_error(forms.finish);
    view! {
        <section class="card card-notice" data-testid="passkey-create">
            <h2>{tr!(passkeys.create_heading, name = name)}</h2>
            <p>{tr!(passkeys.create_intro)}</p>
            <ActionForm action=forms.finish attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <PasskeyFields/>
                <noscript><p class="muted">{tr!(passkeys.needs_script)}</p></noscript>
                <p class="actions">
                    <PasskeyCreate
                        options
                        label=tr!(passkeys.create)
                        busy_label=tr!(common.busy)
                    />
                </p>
            </ActionForm>
            <ActionForm action=forms.cancel attr:class="stack">
                <button type="submit" class="button button-quiet">{tr!(passkeys.cancel)}</button>
            </ActionForm>
        </section>
    }
}

/// A labelled choice of the account's passkeys.
#[component]
fn Which(id: &'static str, passkeys: Vec<PasskeyInfo>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{tr!(passkeys.which)}</label>
            <select id=id name="id">
                {passkeys.into_iter().map(|key| view! {
                    <option value=key.id>{key.name}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn Rename(passkeys: Vec<PasskeyInfo>, rename: ServerAction<RenamePasskey>) -> impl IntoView {
    let error = action_error(rename);
    view! {
        <section class="card">
            <h2>{tr!(passkeys.rename)}</h2>
            <ActionForm action=rename attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Which id="rename-which" passkeys/>
                <Field
                    label=tr!(passkeys.name)
                    name="name"
                    id="rename-name"
                    posts_to={<RenamePasskey as leptos::server_fn::ServerFn>::PATH}
                    maxlength=64
                    error
                />
                <Submit label=tr!(passkeys.rename) busy_label=tr!(common.busy) class="button-quiet"/>
            </ActionForm>
        </section>
    }
}

#[component]
fn Remove(
    passkeys: Vec<PasskeyInfo>,
    has_password: bool,
    remove: ServerAction<RemovePasskey>,
) -> impl IntoView {
    let error = action_error(remove);
    view! {
        <section class="card card-danger">
            <h2>{tr!(passkeys.remove_heading)}</h2>
            <p class="muted">{tr!(passkeys.remove_intro)}</p>
            <ActionForm action=remove attr:novalidate=true attr:class="stack">
                <FormAlert error/>
                <Which id="remove-which" passkeys/>
                <CurrentPassword has_password label=tr!(passkeys.password) id="remove-password" error/>
                <Submit label=tr!(passkeys.remove) busy_label=tr!(common.busy) class="button-danger"/>
            </ActionForm>
        </section>
    }
}
