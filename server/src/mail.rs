//! Mail in the operator's words: any part of any mail (subject, text,
//! HTML) can be replaced per language by a file in `MAIL_TEMPLATES`, a
//! minijinja template; everything not replaced is the built-in letter
//! (`app::letters`). Templates are checked at start-up: every variable
//! named anywhere in a template (any branch) must be one the mail has, and
//! each is rendered in strict mode with sample values, with and without a
//! support address; so a syntax error, an unknown variable or a file naming
//! no mail stops the start with the file (and line), rather than a send.
//!
//! Layout: `<MAIL_TEMPLATES>/<lang>/<mail>.subject`, `<mail>.txt`,
//! `<mail>.html`, where `<lang>` is `en` or `ko` and `<mail>` one of
//! [`MAILS`]. HTML templates escape every value; text and subjects do not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use latchkey_core::codes::Purpose;
use latchkey_core::outbox::Email;
use latchkey_core::{Letter, Letters};
use minijinja::{Environment, UndefinedBehavior, Value};

/// Every mail, its template name, and the variables it has beside the
/// ones every mail has ([`COMMON`]).
pub const MAILS: &[(&str, &[&str])] = &[
    ("verify_code", &["code", "minutes"]),
    ("email_change_code", &["code", "minutes"]),
    ("signin_code", &["code", "minutes"]),
    ("signup_code", &["code", "minutes"]),
    ("code_guessing", &[]),
    ("reset", &["link", "minutes"]),
    ("password_changed", &[]),
    ("account_deleted", &[]),
    ("email_changed", &["new_email", "link", "days"]),
    ("email_reverted", &["signin_link"]),
    ("already_registered", &["login_link", "forgot_link"]),
    ("authenticator_added", &[]),
    ("authenticator_removed", &[]),
    ("passkey_added", &[]),
    ("passkey_removed", &[]),
    ("identity_linked", &["provider"]),
    ("factors_reset", &[]),
    ("recovery_codes_renewed", &[]),
    ("recovery_code_used", &["left"]),
    ("second_factor_guessing", &[]),
    ("webhook_disabled", &["url"]),
];

/// What every mail's template can use: the product's name, the recipient,
/// the support address (`none` when unset) and the public URL.
pub const COMMON: &[&str] = &["product", "to", "support_email", "public_url"];

/// The languages templates may be written in.
const LANGS: &[&str] = &["en", "ko"];

/// The parts of a mail a file can replace.
const PARTS: &[&str] = &["subject", "txt", "html"];

/// The most a template may weigh.
const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;

/// The mail a letter is, and its own variables.
pub fn describe(letter: &Letter<'_>) -> (&'static str, Vec<(&'static str, Value)>) {
    match *letter {
        Letter::Code {
            purpose,
            code,
            minutes,
        } => {
            let name = match purpose {
                Purpose::VerifyEmail => "verify_code",
                Purpose::ChangeEmail => "email_change_code",
                Purpose::SignIn => "signin_code",
                Purpose::SignUp => "signup_code",
            };
            (
                name,
                vec![
                    ("code", Value::from(code)),
                    ("minutes", Value::from(minutes)),
                ],
            )
        }
        Letter::CodeGuessing => ("code_guessing", vec![]),
        Letter::Reset { link, minutes } => (
            "reset",
            vec![
                ("link", Value::from(link)),
                ("minutes", Value::from(minutes)),
            ],
        ),
        Letter::PasswordChanged => ("password_changed", vec![]),
        Letter::AccountDeleted => ("account_deleted", vec![]),
        Letter::EmailChanged {
            new_email,
            link,
            days,
        } => (
            "email_changed",
            vec![
                ("new_email", Value::from(new_email)),
                ("link", Value::from(link)),
                ("days", Value::from(days)),
            ],
        ),
        Letter::EmailReverted { signin_link } => (
            "email_reverted",
            vec![("signin_link", Value::from(signin_link))],
        ),
        Letter::AlreadyRegistered { public_url } => (
            "already_registered",
            vec![
                ("login_link", Value::from(format!("{public_url}/login"))),
                ("forgot_link", Value::from(format!("{public_url}/forgot"))),
            ],
        ),
        Letter::AuthenticatorChanged { added: true } => ("authenticator_added", vec![]),
        Letter::AuthenticatorChanged { added: false } => ("authenticator_removed", vec![]),
        Letter::PasskeyChanged { added: true } => ("passkey_added", vec![]),
        Letter::PasskeyChanged { added: false } => ("passkey_removed", vec![]),
        Letter::IdentityLinked { provider } => {
            ("identity_linked", vec![("provider", Value::from(provider))])
        }
        Letter::SignInFactorsReset => ("factors_reset", vec![]),
        Letter::RecoveryCodesRenewed => ("recovery_codes_renewed", vec![]),
        Letter::RecoveryCodeUsed { left } => {
            ("recovery_code_used", vec![("left", Value::from(left))])
        }
        Letter::SecondFactorGuessing => ("second_factor_guessing", vec![]),
        Letter::WebhookDisabled { url } => ("webhook_disabled", vec![("url", Value::from(url))]),
    }
}

/// A letter of the mail named `name`, with sample values (checks and
/// `preview-mail`).
pub fn sample(name: &str) -> Option<Letter<'static>> {
    const LINK: &str = "https://auth.example.com/reset?token=sample-token";
    Some(match name {
        "verify_code" => code(Purpose::VerifyEmail),
        "email_change_code" => code(Purpose::ChangeEmail),
        "signin_code" => code(Purpose::SignIn),
        "signup_code" => code(Purpose::SignUp),
        "code_guessing" => Letter::CodeGuessing,
        "reset" => Letter::Reset {
            link: LINK,
            minutes: 60,
        },
        "password_changed" => Letter::PasswordChanged,
        "account_deleted" => Letter::AccountDeleted,
        "email_changed" => Letter::EmailChanged {
            new_email: "new@example.com",
            link: "https://auth.example.com/email/revert?token=sample-token",
            days: 7,
        },
        "email_reverted" => Letter::EmailReverted {
            signin_link: "https://auth.example.com/login/code",
        },
        "already_registered" => Letter::AlreadyRegistered {
            public_url: "https://auth.example.com",
        },
        "authenticator_added" => Letter::AuthenticatorChanged { added: true },
        "authenticator_removed" => Letter::AuthenticatorChanged { added: false },
        "passkey_added" => Letter::PasskeyChanged { added: true },
        "passkey_removed" => Letter::PasskeyChanged { added: false },
        "identity_linked" => Letter::IdentityLinked { provider: "Kakao" },
        "factors_reset" => Letter::SignInFactorsReset,
        "recovery_codes_renewed" => Letter::RecoveryCodesRenewed,
        "recovery_code_used" => Letter::RecoveryCodeUsed { left: 7 },
        "second_factor_guessing" => Letter::SecondFactorGuessing,
        "webhook_disabled" => Letter::WebhookDisabled {
            url: "https://hooks.example.com/latchkey",
        },
        _ => return None,
    })
}

fn code(purpose: Purpose) -> Letter<'static> {
    Letter::Code {
        purpose,
        code: "004217",
        minutes: 3,
    }
}

/// The operator's templates, checked.
pub struct Templates {
    dir: PathBuf,
    env: Environment<'static>,
    /// `(lang, mail, part)` that a file replaces.
    replaced: BTreeSet<(String, String, String)>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("dir", &self.dir)
            .field("replaced", &self.replaced)
            .finish()
    }
}

impl Templates {
    /// Reads every template under `dir` and checks each against what its
    /// mail has (`deployment`: this deployment's values); every problem is
    /// returned, each naming its file.
    pub fn load(dir: &Path, deployment: &Deployment) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut env = Environment::new();
        // An unknown variable is an error, never an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut replaced = BTreeSet::new();
        for lang in entries(dir, &mut problems) {
            let lang_name = lang.file_name().to_string_lossy().into_owned();
            if !LANGS.contains(&lang_name.as_str()) || !lang.path().is_dir() {
                problems.push(format!(
                    "MAIL_TEMPLATES: {} is not a language folder (en, ko)",
                    lang.path().display()
                ));
                continue;
            }
            for file in entries(&lang.path(), &mut problems) {
                let file_name = file.file_name().to_string_lossy().into_owned();
                let name = format!("{lang_name}/{file_name}");
                let Some((mail, part)) = file_name.rsplit_once('.').filter(|(mail, part)| {
                    PARTS.contains(part) && MAILS.iter().any(|(known, _)| known == mail)
                }) else {
                    problems.push(format!(
                        "MAIL_TEMPLATES: {name} names no mail part: files are <mail>.subject, \
                         <mail>.txt or <mail>.html, and the mails are {}",
                        MAILS.iter().map(|(m, _)| *m).collect::<Vec<_>>().join(", ")
                    ));
                    continue;
                };
                // Weighed first: a pipe or a huge file never hangs the start.
                let source = match std::fs::metadata(file.path()) {
                    Ok(meta) if !meta.is_file() || meta.len() > MAX_TEMPLATE_BYTES => {
                        problems.push(format!(
                            "MAIL_TEMPLATES: {name} must be a file of at most {} KiB",
                            MAX_TEMPLATE_BYTES / 1024
                        ));
                        continue;
                    }
                    Ok(_) => std::fs::read_to_string(file.path()),
                    Err(e) => Err(e),
                };
                let source = match source {
                    Ok(source) => source,
                    Err(e) => {
                        problems.push(format!("MAIL_TEMPLATES: cannot read {name}: {e}"));
                        continue;
                    }
                };
                if let Err(e) = env.add_template_owned(name.clone(), source) {
                    problems.push(format!("MAIL_TEMPLATES: {e}"));
                    continue;
                }
                replaced.insert((lang_name.clone(), mail.to_owned(), part.to_owned()));
            }
        }
        let templates = Self {
            dir: dir.to_owned(),
            env,
            replaced,
        };
        let globals: BTreeSet<String> = templates
            .env
            .globals()
            .map(|(name, _)| name.to_owned())
            .collect();
        for (lang, mail, part) in &templates.replaced {
            let name = format!("{lang}/{mail}.{part}");
            let (_, own) = MAILS.iter().find(|(m, _)| m == mail).expect("a known mail");
            // Any branch: a variable only used when `left == 0` is checked too.
            let template = templates.env.get_template(&name).expect("added above");
            let mut unknown: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| {
                    !COMMON.contains(&v.as_str())
                        && !own.contains(&v.as_str())
                        && !globals.contains(v)
                })
                .collect();
            unknown.sort();
            if !unknown.is_empty() {
                problems.push(format!(
                    "MAIL_TEMPLATES: {name} uses {} which {mail} does not have (it has {})",
                    unknown.join(", "),
                    COMMON
                        .iter()
                        .chain(own.iter())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            }
            // Rendered as a send would, with and without a support address.
            let letter = sample(mail).expect("a known mail");
            let without_support = Deployment {
                support_email: None,
                ..deployment.clone()
            };
            for deployment in [deployment, &without_support] {
                let (_, context) = context(&letter, "Latchkey", "ada@example.com", deployment);
                if let Err(e) = templates.render(lang, mail, part, context) {
                    problems.push(format!("MAIL_TEMPLATES: {e}"));
                    break;
                }
            }
        }
        if problems.is_empty() {
            Ok(templates)
        } else {
            problems.sort();
            Err(problems)
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many files replace built-in parts.
    pub fn count(&self) -> usize {
        self.replaced.len()
    }

    fn render(
        &self,
        lang: &str,
        mail: &str,
        part: &str,
        context: Value,
    ) -> Result<Option<String>, minijinja::Error> {
        match self.env.get_template(&format!("{lang}/{mail}.{part}")) {
            Ok(template) => template.render(context).map(Some),
            // No file replaces this part: the built-in one stays.
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The entries of `dir`; what cannot be read is a problem.
fn entries(dir: &Path, problems: &mut Vec<String>) -> Vec<std::fs::DirEntry> {
    let cannot = |e: std::io::Error| format!("MAIL_TEMPLATES: cannot read {}: {e}", dir.display());
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.map_err(|e| problems.push(cannot(e))).ok())
            .collect(),
        Err(e) => {
            problems.push(cannot(e));
            Vec::new()
        }
    }
}

/// The deployment's part of every mail's variables.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub support_email: Option<String>,
    pub public_url: String,
}

/// The mail a letter is, and every variable its templates can use.
fn context(
    letter: &Letter<'_>,
    product: &str,
    to: &str,
    deployment: &Deployment,
) -> (&'static str, Value) {
    let (mail, own) = describe(letter);
    let mut vars: BTreeMap<String, Value> =
        own.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    vars.insert("product".into(), Value::from(product));
    vars.insert("to".into(), Value::from(to));
    vars.insert(
        "support_email".into(),
        deployment
            .support_email
            .as_deref()
            .map_or(Value::from(()), Value::from),
    );
    vars.insert(
        "public_url".into(),
        Value::from(deployment.public_url.as_str()),
    );
    (mail, Value::from(vars))
}

/// The letters this deployment sends: the built-in ones, with the parts
/// the operator's templates replace.
#[derive(Debug, Clone)]
pub struct Templated {
    pub templates: Option<Arc<Templates>>,
    pub deployment: Deployment,
}

impl Letters for Templated {
    fn write(&self, locale: &str, product: &str, to: &str, letter: Letter<'_>) -> Email {
        let mut email = app::letters::Translated.write(locale, product, to, letter);
        let Some(templates) = &self.templates else {
            return email;
        };
        let lang = app::locale::tag(app::locale::from_tag(locale).unwrap_or_default());
        let (mail, context) = context(&letter, product, to, &self.deployment);
        for (part, slot) in [
            ("subject", &mut email.subject),
            ("txt", &mut email.text),
            ("html", &mut email.html),
        ] {
            match templates.render(lang, mail, part, context.clone()) {
                Ok(Some(text)) if part == "subject" => {
                    // One line: a header never spans lines.
                    *slot = text.split_whitespace().collect::<Vec<_>>().join(" ");
                }
                Ok(Some(text)) => *slot = text,
                Ok(None) => {}
                // Checked at start-up with every variable, so this is a
                // runtime error in a filter: the built-in part goes instead.
                Err(e) => {
                    tracing::error!(%e, mail, part, "mail template failed; sent the built-in part")
                }
            }
        }
        email
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mail has a sample, and the sample is that mail with exactly
    /// the documented variables.
    #[test]
    fn every_mail_is_described_and_sampled() {
        for (name, vars) in MAILS {
            let letter = sample(name).unwrap_or_else(|| panic!("{name} has no sample"));
            let (described, own) = describe(&letter);
            assert_eq!(described, *name);
            let own: Vec<&str> = own.iter().map(|(k, _)| *k).collect();
            assert_eq!(own, *vars, "{name}");
        }
        assert!(sample("nope").is_none());
    }

    /// The README's list of mails and variables is this one.
    #[test]
    fn the_readme_documents_every_mail_and_variable() {
        let readme = include_str!("../../README.md");
        for (name, vars) in MAILS {
            let line = readme
                .lines()
                .find(|l| {
                    l.starts_with("| `")
                        && l.split(" | ")
                            .next()
                            .is_some_and(|first| first.contains(&format!("`{name}`")))
                })
                .unwrap_or_else(|| panic!("README lists no `{name}`"));
            for var in *vars {
                assert!(
                    line.contains(&format!("`{var}`")),
                    "{name}: `{var}` in {line}"
                );
            }
        }
        for var in COMMON {
            assert!(readme.contains(&format!("`{var}`")), "README: {var}");
        }
    }
}
