//! What each mail says, in the account's language, as text and HTML. The
//! words live in the locale files next to the UI's; the domain says which
//! letter to write (`latchkey_core::Letter`) and this writes it.

use latchkey_core::{codes::Purpose, outbox::Email, Letter, Letters};

use crate::brand::escape;
use crate::i18n::td_string as t;
use crate::locale::Locale;

/// The letters, in the locale files' words.
pub struct Translated;

impl Letters for Translated {
    fn write(&self, tag: &str, product: &str, to: &str, letter: Letter<'_>) -> Email {
        // The account's stored language, English if unknown.
        let locale = crate::locale::from_tag(tag).unwrap_or_default();
        match letter {
            Letter::Code {
                purpose,
                code: digits,
                minutes,
            } => code(locale, product, purpose, to, digits, minutes),
            Letter::CodeGuessing => code_guessing(locale, product, to),
            Letter::Reset { link, minutes } => reset(locale, product, to, link, minutes),
            Letter::PasswordChanged => password_changed(locale, product, to),
            Letter::AccountDeleted => account_deleted(locale, product, to),
            Letter::EmailChanged {
                new_email,
                link,
                days,
            } => email_changed(locale, product, to, new_email, link, days),
            Letter::EmailReverted { signin_link } => {
                email_reverted(locale, product, to, signin_link)
            }
            Letter::AlreadyRegistered { public_url } => {
                already_registered(locale, product, to, public_url)
            }
            Letter::AuthenticatorChanged { added } => {
                authenticator_changed(locale, product, to, added)
            }
            Letter::PasskeyChanged { added } => passkey_changed(locale, product, to, added),
            Letter::IdentityLinked { provider } => factor_changed(
                locale,
                product,
                to,
                t!(
                    locale,
                    mail.identity_linked_subject,
                    provider = provider,
                    product = product
                ),
                &t!(locale, mail.identity_linked_line1, provider = provider),
            ),
            Letter::SignInFactorsReset => compose(
                locale,
                product,
                to,
                t!(locale, mail.factors_reset_subject, product = product),
                &[
                    t!(locale, mail.factors_reset_line1).to_owned(),
                    t!(locale, mail.factors_reset_not_you).to_owned(),
                ],
                None,
            ),
            Letter::RecoveryCodeUsed { left } => recovery_code_used(locale, product, to, left),
            Letter::RecoveryCodesRenewed => factor_changed(
                locale,
                product,
                to,
                t!(
                    locale,
                    mail.recovery_codes_renewed_subject,
                    product = product
                ),
                t!(locale, mail.recovery_codes_renewed_line1),
            ),
            Letter::SecondFactorGuessing => second_factor_guessing(locale, product, to),
            Letter::WebhookDisabled { url } => compose(
                locale,
                product,
                to,
                t!(locale, mail.webhook_disabled_subject, product = product),
                &[
                    t!(
                        locale,
                        mail.webhook_disabled_line1,
                        url = url,
                        product = product
                    ),
                    t!(locale, mail.webhook_disabled_line2).to_owned(),
                ],
                None,
            ),
        }
    }
}

/// A plain mail of paragraphs; `extra_html` goes after the first one.
fn compose(
    locale: Locale,
    product: &str,
    to: &str,
    subject: String,
    paragraphs: &[String],
    extra: Option<(String, String)>,
) -> Email {
    let signature = t!(locale, mail.signature, product = product);
    let lang = leptos_i18n::Locale::as_str(locale);
    let mut text = String::new();
    let mut html = format!(
        "<!doctype html><html lang=\"{lang}\"><body style=\"font-family:system-ui,sans-serif;color:#111827\">"
    );
    for (i, paragraph) in paragraphs.iter().enumerate() {
        text += &format!("{paragraph}\n\n");
        html += &format!("<p>{}</p>", escape(paragraph));
        if i == 0 {
            if let Some((extra_text, extra_html)) = &extra {
                text += &format!("{extra_text}\n\n");
                html += extra_html;
            }
        }
    }
    text += &format!("{signature}\n");
    html += &format!("<p>{}</p></body></html>", escape(&signature));
    Email {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

/// A one-time code. The code leads the subject, so it shows in a
/// notification without opening the mail.
fn code(
    locale: Locale,
    product: &str,
    purpose: Purpose,
    to: &str,
    code: &str,
    minutes: u64,
) -> Email {
    let (subject, intro) = match purpose {
        Purpose::VerifyEmail => (
            t!(locale, mail.verify_subject, code = code, product = product),
            t!(locale, mail.verify_intro),
        ),
        Purpose::ChangeEmail => (
            t!(locale, mail.change_subject, code = code, product = product),
            t!(locale, mail.change_intro),
        ),
        Purpose::SignIn => (
            t!(locale, mail.signin_subject, code = code, product = product),
            t!(locale, mail.signin_intro),
        ),
        Purpose::SignUp => (
            t!(locale, mail.signup_subject, code = code, product = product),
            t!(locale, mail.signup_intro),
        ),
    };
    let shown = (
        format!("    {code}"),
        format!("<p style=\"font-size:28px;font-weight:700;letter-spacing:6px\">{code}</p>"),
    );
    compose(
        locale,
        product,
        to,
        subject,
        &[
            intro.to_owned(),
            t!(locale, mail.code_expires, count = minutes),
            t!(locale, mail.code_ignore).to_owned(),
        ],
        Some(shown),
    )
}

/// A password-reset link that works once, for `minutes`.
fn reset(locale: Locale, product: &str, to: &str, link: &str, minutes: i64) -> Email {
    let lasts = match minutes {
        60 => t!(locale, mail.reset_once_hour).to_owned(),
        m if m > 60 && m % 60 == 0 => t!(locale, mail.reset_once_hours, count = m / 60),
        m => t!(locale, mail.reset_once_minutes, count = m.max(1)),
    };
    let button = t!(locale, mail.reset_button);
    let paste = t!(locale, mail.reset_paste);
    let open = (
        format!("{}\n\n{link}", t!(locale, mail.reset_open)),
        format!(
            "<p><a href=\"{link}\" style=\"display:inline-block;padding:10px 18px;background:#4338ca;color:#fff;border-radius:6px;text-decoration:none\">{button}</a></p>\
             <p>{paste}<br><span style=\"word-break:break-all\">{link}</span></p>"
        ),
    );
    compose(
        locale,
        product,
        to,
        t!(locale, mail.reset_subject, product = product),
        &[
            t!(locale, mail.reset_intro, product = product),
            lasts,
            t!(locale, mail.reset_ignore).to_owned(),
        ],
        Some(open),
    )
}

fn password_changed(locale: Locale, product: &str, to: &str) -> Email {
    compose(
        locale,
        product,
        to,
        t!(locale, mail.changed_subject, product = product),
        &[
            t!(locale, mail.changed_line1).to_owned(),
            t!(locale, mail.changed_line2).to_owned(),
        ],
        None,
    )
}

/// An authenticator app was added to the account, or removed.
fn passkey_changed(locale: Locale, product: &str, to: &str, added: bool) -> Email {
    let (subject, line) = match added {
        true => (
            t!(locale, mail.passkey_added_subject, product = product),
            t!(locale, mail.passkey_added_line1),
        ),
        false => (
            t!(locale, mail.passkey_removed_subject, product = product),
            t!(locale, mail.passkey_removed_line1),
        ),
    };
    factor_changed(locale, product, to, subject, line)
}

fn authenticator_changed(locale: Locale, product: &str, to: &str, added: bool) -> Email {
    let (subject, line) = if added {
        (
            t!(locale, mail.authenticator_added_subject, product = product),
            t!(locale, mail.authenticator_added_line1),
        )
    } else {
        (
            t!(
                locale,
                mail.authenticator_removed_subject,
                product = product
            ),
            t!(locale, mail.authenticator_removed_line1),
        )
    };
    factor_changed(locale, product, to, subject, line)
}

/// A way to sign in was added or removed: what happened, and what to do
/// if it was not the owner.
fn factor_changed(locale: Locale, product: &str, to: &str, subject: String, line: &str) -> Email {
    compose(
        locale,
        product,
        to,
        subject,
        &[
            line.to_owned(),
            t!(locale, mail.authenticator_not_you).to_owned(),
        ],
        None,
    )
}

/// A recovery code signed someone in; `left` remain.
fn recovery_code_used(locale: Locale, product: &str, to: &str, left: u32) -> Email {
    compose(
        locale,
        product,
        to,
        t!(locale, mail.recovery_used_subject, product = product),
        &[
            t!(locale, mail.recovery_used_line1, count = left),
            t!(locale, mail.recovery_used_line2).to_owned(),
        ],
        None,
    )
}

/// Too many wrong second factors after a right password: paused for the day.
fn second_factor_guessing(locale: Locale, product: &str, to: &str) -> Email {
    compose(
        locale,
        product,
        to,
        t!(
            locale,
            mail.second_factor_guessing_subject,
            product = product
        ),
        &[
            t!(locale, mail.second_factor_guessing_line1).to_owned(),
            t!(locale, mail.second_factor_guessing_line2).to_owned(),
        ],
        None,
    )
}

/// To the old address after an email change: what changed, and a link
/// that undoes it, working once for `days`.
fn email_changed(
    locale: Locale,
    product: &str,
    to: &str,
    new_email: &str,
    link: &str,
    days: i64,
) -> Email {
    let button = t!(locale, mail.email_changed_button);
    let paste = t!(locale, mail.reset_paste);
    let undo = (
        format!("{}\n\n{link}", t!(locale, mail.email_changed_undo)),
        format!(
            "<p>{}</p><p><a href=\"{link}\" style=\"display:inline-block;padding:10px 18px;background:#b91c1c;color:#fff;border-radius:6px;text-decoration:none\">{button}</a></p>\
             <p>{paste}<br><span style=\"word-break:break-all\">{link}</span></p>",
            t!(locale, mail.email_changed_undo)
        ),
    );
    compose(
        locale,
        product,
        to,
        t!(locale, mail.email_changed_subject, product = product),
        &[
            t!(locale, mail.email_changed_line1, old = to, new = new_email),
            t!(locale, mail.email_changed_lasts, count = days),
        ],
        Some(undo),
    )
}

/// To an account's owner when someone signs up with its address while
/// sign-up hides which addresses have accounts (`SIGNUP_HIDE_EXISTING`).
fn already_registered(locale: Locale, product: &str, to: &str, public_url: &str) -> Email {
    compose(
        locale,
        product,
        to,
        t!(locale, mail.existing_subject, product = product),
        &[
            t!(locale, mail.existing_line1).to_owned(),
            t!(
                locale,
                mail.existing_line2,
                link = format!("{public_url}/login")
            ),
            t!(
                locale,
                mail.existing_line3,
                link = format!("{public_url}/forgot")
            ),
            t!(locale, mail.existing_line4).to_owned(),
        ],
        None,
    )
}

/// To the restored address once a change was undone.
fn email_reverted(locale: Locale, product: &str, to: &str, signin_link: &str) -> Email {
    let signin = (
        format!("{}\n\n{signin_link}", t!(locale, mail.reverted_line2)),
        format!(
            "<p>{}<br><a href=\"{signin_link}\">{signin_link}</a></p>",
            t!(locale, mail.reverted_line2)
        ),
    );
    compose(
        locale,
        product,
        to,
        t!(locale, mail.reverted_subject, product = product),
        &[
            t!(locale, mail.reverted_line1).to_owned(),
            t!(locale, mail.reverted_line3).to_owned(),
        ],
        Some(signin),
    )
}

/// Codes for the address were paused after too many wrong ones.
fn code_guessing(locale: Locale, product: &str, to: &str) -> Email {
    compose(
        locale,
        product,
        to,
        t!(locale, mail.guessing_subject, product = product),
        &[
            t!(locale, mail.guessing_line1).to_owned(),
            t!(locale, mail.guessing_line2).to_owned(),
        ],
        None,
    )
}

fn account_deleted(locale: Locale, product: &str, to: &str) -> Email {
    compose(
        locale,
        product,
        to,
        t!(locale, mail.deleted_subject, product = product),
        &[
            t!(locale, mail.deleted_line1).to_owned(),
            t!(locale, mail.deleted_line2).to_owned(),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_name_is_text_in_the_html_part() {
        let mail = password_changed(Locale::en, "Acme & <Co>", "a@example.com");
        assert!(mail.html.contains("Acme &amp; &lt;Co&gt;"), "{}", mail.html);
        assert!(!mail.html.contains("<Co>"));
        assert!(mail.text.contains("Acme & <Co>"), "{}", mail.text);
    }

    #[test]
    fn code_mails_have_text_and_html_with_the_code() {
        for locale in [Locale::en, Locale::ko] {
            let mail = code(
                locale,
                "Latchkey",
                Purpose::VerifyEmail,
                "a@example.com",
                "004217",
                3,
            );
            assert!(mail.subject.starts_with("004217"), "{}", mail.subject);
            assert!(mail.text.contains("004217") && mail.html.contains("004217"));
            assert!(mail.text.contains('3'));
        }
        let en = code(
            Locale::en,
            "Latchkey",
            Purpose::SignIn,
            "a@example.com",
            "123456",
            3,
        );
        assert_eq!(en.subject, "123456 is your Latchkey sign-in code");
        assert!(en.text.contains("3 minutes"));
        let ko = code(
            Locale::ko,
            "Latchkey",
            Purpose::SignIn,
            "a@example.com",
            "123456",
            3,
        );
        assert_ne!(ko.text, en.text, "Korean mail is Korean");
        assert!(ko.html.contains("lang=\"ko\""));
    }

    #[test]
    fn email_change_notices_carry_the_undo_link_in_both_parts_and_languages() {
        let link = "http://x/email/revert?token=abc";
        for locale in [Locale::en, Locale::ko] {
            let mail = email_changed(
                locale,
                "Latchkey",
                "old@example.com",
                "new@example.com",
                link,
                7,
            );
            assert_eq!(mail.to, "old@example.com");
            assert!(mail.text.contains(link) && mail.html.contains(&format!("href=\"{link}\"")));
            assert!(mail.text.contains("new@example.com") && mail.text.contains('7'));
        }
        let back = email_reverted(
            Locale::en,
            "Latchkey",
            "old@example.com",
            "http://x/login/code",
        );
        assert!(back.text.contains("http://x/login/code") && back.text.contains("cleared"));
    }

    #[test]
    fn reset_mails_carry_the_link_in_both_parts() {
        let mail = reset(
            Locale::en,
            "Latchkey",
            "a@example.com",
            "http://x/reset?token=abc",
            60,
        );
        assert!(mail.text.contains("http://x/reset?token=abc"));
        assert!(mail.html.contains("href=\"http://x/reset?token=abc\""));
        assert!(mail.text.contains("1 hour"));
        assert!(reset(Locale::en, "L", "a@b.c", "l", 5)
            .text
            .contains("5 minutes"));
        assert!(reset(Locale::en, "L", "a@b.c", "l", 120)
            .text
            .contains("2 hours"));
        let ko = reset(
            Locale::ko,
            "Latchkey",
            "a@example.com",
            "http://x/reset?token=abc",
            60,
        );
        assert!(ko.text.contains("http://x/reset?token=abc"));
    }
}
