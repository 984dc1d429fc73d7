//! Choosing a new password: the field, a repeat of it, and a live strength
//! meter. The meter asks the server, which runs the very rules sign-up,
//! reset and change apply (and keeps zxcvbn's dictionaries out of the WASM).

use std::time::Duration;

use leptos::prelude::*;
use leptos::text_prop::TextProp;

use crate::components::form::Field;
use crate::error::AppError;
use crate::i18n::td_string as t;
use crate::locale::Locale;
use crate::model::Strength;
use crate::tr;

#[server(prefix = "/fn", endpoint = "password_strength")]
pub async fn password_strength(
    password: String,
    email: String,
    username: String,
) -> Result<Strength, AppError> {
    use crate::ssr::request;
    let services = request::services()?;
    let auth = request::current_auth();
    Ok(services
        .passwords()
        .password_strength(
            password,
            &email,
            &username,
            auth.as_ref(),
            &request::client_info(),
        )
        .await?
        .into())
}

/// The meter's verdict for a score.
fn verdict(locale: Locale, score: u8) -> &'static str {
    match score {
        0 => t!(locale, meter.very_weak),
        1 => t!(locale, meter.weak),
        2 => t!(locale, meter.fair),
        3 => t!(locale, meter.good),
        _ => t!(locale, meter.strong),
    }
}

/// zxcvbn's warning, by name, in `locale`.
fn warning(locale: Locale, key: &str) -> Option<&'static str> {
    Some(match key {
        "straight_rows_of_keys_are_easy_to_guess" => {
            t!(locale, meter.warn.straight_rows_of_keys_are_easy_to_guess)
        }
        "short_keyboard_patterns_are_easy_to_guess" => {
            t!(locale, meter.warn.short_keyboard_patterns_are_easy_to_guess)
        }
        "repeats_like_aaa_are_easy_to_guess" => {
            t!(locale, meter.warn.repeats_like_aaa_are_easy_to_guess)
        }
        "repeats_like_abc_abc_are_only_slightly_harder_to_guess" => t!(
            locale,
            meter
                .warn
                .repeats_like_abc_abc_are_only_slightly_harder_to_guess
        ),
        "this_is_a_top10_password" => t!(locale, meter.warn.this_is_a_top10_password),
        "this_is_a_top100_password" => t!(locale, meter.warn.this_is_a_top100_password),
        "this_is_a_common_password" => t!(locale, meter.warn.this_is_a_common_password),
        "this_is_similar_to_a_commonly_used_password" => t!(
            locale,
            meter.warn.this_is_similar_to_a_commonly_used_password
        ),
        "sequences_like_abc_are_easy_to_guess" => {
            t!(locale, meter.warn.sequences_like_abc_are_easy_to_guess)
        }
        "recent_years_are_easy_to_guess" => t!(locale, meter.warn.recent_years_are_easy_to_guess),
        "a_word_by_itself_is_easy_to_guess" => {
            t!(locale, meter.warn.a_word_by_itself_is_easy_to_guess)
        }
        "dates_are_often_easy_to_guess" => t!(locale, meter.warn.dates_are_often_easy_to_guess),
        "names_and_surnames_by_themselves_are_easy_to_guess" => t!(
            locale,
            meter
                .warn
                .names_and_surnames_by_themselves_are_easy_to_guess
        ),
        "common_names_and_surnames_are_easy_to_guess" => t!(
            locale,
            meter.warn.common_names_and_surnames_are_easy_to_guess
        ),
        _ => return None,
    })
}

/// zxcvbn's advice, by name, in `locale`.
fn tip(locale: Locale, key: &str) -> Option<&'static str> {
    Some(match key {
        "use_a_few_words_avoid_common_phrases" => {
            t!(locale, meter.tip.use_a_few_words_avoid_common_phrases)
        }
        "no_need_for_symbols_digits_or_uppercase_letters" => t!(
            locale,
            meter.tip.no_need_for_symbols_digits_or_uppercase_letters
        ),
        "add_another_word_or_two" => t!(locale, meter.tip.add_another_word_or_two),
        "capitalization_doesnt_help_very_much" => {
            t!(locale, meter.tip.capitalization_doesnt_help_very_much)
        }
        "all_uppercase_is_almost_as_easy_to_guess_as_all_lowercase" => t!(
            locale,
            meter
                .tip
                .all_uppercase_is_almost_as_easy_to_guess_as_all_lowercase
        ),
        "reversed_words_arent_much_harder_to_guess" => {
            t!(locale, meter.tip.reversed_words_arent_much_harder_to_guess)
        }
        "predictable_substitutions_dont_help_very_much" => t!(
            locale,
            meter.tip.predictable_substitutions_dont_help_very_much
        ),
        "use_a_longer_keyboard_pattern_with_more_turns" => t!(
            locale,
            meter.tip.use_a_longer_keyboard_pattern_with_more_turns
        ),
        "avoid_repeated_words_and_characters" => {
            t!(locale, meter.tip.avoid_repeated_words_and_characters)
        }
        "avoid_sequences" => t!(locale, meter.tip.avoid_sequences),
        "avoid_recent_years" => t!(locale, meter.tip.avoid_recent_years),
        "avoid_years_that_are_associated_with_you" => {
            t!(locale, meter.tip.avoid_years_that_are_associated_with_you)
        }
        "avoid_dates_and_years_that_are_associated_with_you" => t!(
            locale,
            meter.tip.avoid_dates_and_years_that_are_associated_with_you
        ),
        _ => return None,
    })
}

/// A new-password field with its meter and a field to repeat it.
/// `name` is the password field's name; the repeat is always `confirm`.
/// `email`/`username` are the account's, when the form does not ask for them.
#[component]
pub fn NewPassword(
    /// Defaults to "Password".
    #[prop(optional, into)]
    label: Option<TextProp>,
    #[prop(default = "password")] name: &'static str,
    #[prop(optional, into)] email: Option<String>,
    #[prop(optional, into)] username: Option<String>,
    /// Show the "repeat" field (reset and change; sign-up lets you reveal instead).
    #[prop(optional)]
    confirm: bool,
    #[prop(optional)] autofocus: bool,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let label = label.unwrap_or_else(|| TextProp::from(tr!(password.label)));
    view! {
        <div class="new-password">
            <Field
                label=label
                name=name
                kind="password"
                revealable=true
                autocomplete="new-password"
                autofocus=autofocus
                hint=tr!(password.hint)
                error
            />
            <StrengthMeter
                field=format!("field-{name}")
                email=email.unwrap_or_default()
                username=username.unwrap_or_default()
            />
        </div>
        {confirm.then(|| view! {
            <Field label=tr!(password.repeat) name="confirm" kind="password" autocomplete="new-password" error/>
        })}
    }
    // Erased: the forms around it would otherwise nest types past the
    // compiler's depth limit.
    .into_any()
}

/// The live strength meter of the password input `field` (an element id):
/// the server's reading once typing pauses. `email`/`username` are the
/// account's when the form does not ask for them (sign-up does: then the
/// form's own fields are read).
#[island]
fn StrengthMeter(field: String, email: String, username: String) -> impl IntoView {
    let reading = RwSignal::new(None::<Strength>);
    let typed = RwSignal::new(0_u64);
    let identity = StoredValue::new((email, username));

    // Debounced: one request once typing pauses; late answers are dropped.
    let on_input = move |password: String| {
        let ticket = typed.get_untracked() + 1;
        typed.set(ticket);
        if password.is_empty() {
            reading.set(None);
            return;
        }
        let value_of = |name: &str| {
            use leptos::wasm_bindgen::JsCast;
            document()
                .get_element_by_id(&format!("field-{name}"))
                .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
                .map(|el| el.value())
        };
        let (known_email, known_username) = identity.get_value();
        let email = value_of("email").unwrap_or(known_email);
        let username = value_of("username").unwrap_or(known_username);
        // The page may be gone by then: `try_` lets the late call pass.
        set_timeout(
            move || {
                if typed.try_get_untracked() != Some(ticket) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let result = password_strength(password, email, username).await;
                    if typed.try_get_untracked() == Some(ticket) {
                        reading.try_set(result.ok());
                    }
                });
            },
            Duration::from_millis(250),
        );
    };
    Effect::new(move |_| {
        use leptos::wasm_bindgen::JsCast;
        let Some(input) = document()
            .get_element_by_id(&field)
            .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let handle = window_event_listener(leptos::ev::input, move |ev| {
            if ev.target().is_some_and(|t| input.loose_eq(&t)) {
                on_input(input.value());
            }
        });
        on_cleanup(move || handle.remove());
    });

    let score = move || reading.get().map(|s| s.score).unwrap_or(0);
    view! {
        <div class="meter" data-testid="strength" data-score=move || reading.get().map(|s| s.score.to_string())
            hidden=move || reading.get().is_none()>
            <div class="meter-bar" aria-hidden="true">
                {(1..=4).map(|n| view! { <span class:on=move || { score() >= n }></span> }).collect_view()}
            </div>
            <p class="meter-text" aria-live="polite">
                {move || reading.get().map(|s| {
                    let locale = crate::locale::current();
                    let head = if s.acceptable { verdict(locale, s.score) } else { t!(locale, meter.not_allowed) };
                    let why = match &s.refused {
                        Some(err) => Some(err.localized(locale)),
                        None => s.warning.as_deref().and_then(|w| warning(locale, w)).map(str::to_owned),
                    };
                    let advice = s.tips.first().and_then(|t| tip(locale, t));
                    view! {
                        <strong>{head}</strong>
                        {why.map(|m| view! { " — " {m} })}
                        {advice.map(|a| view! { <span class="meter-tip">" " {a}</span> })}
                    }
                })}
            </p>
        </div>
    }
}
