//! Mail templates (`MAIL_TEMPLATES`): the operator's words reach a real
//! SMTP server, values are escaped in HTML and not in text, parts and
//! languages not replaced stay built-in, and every broken template is named
//! with its file and line before anything starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use server::config::{Config, Sources};

use crate::common;

fn templates(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lk-mail-{}", uuid::Uuid::new_v4().simple()));
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Without SUPPORT_EMAIL.
fn read_without_support(dir: &Path) -> (Config, Vec<String>) {
    Config::read(
        &Sources::from_toml(
            PathBuf::from("latchkey.toml"),
            &format!("mail_templates = \"{}\"\n", dir.display()),
        )
        .unwrap()
        .file_only(),
    )
}

fn read(dir: &Path, extra: &str) -> (Config, Vec<String>) {
    let toml = format!(
        "mail_templates = \"{}\"\nproduct_name = \"Acme <Notes>\"\nsupport_email = \"help@acme.test\"\n{extra}",
        dir.display()
    );
    Config::read(
        &Sources::from_toml(PathBuf::from("latchkey.toml"), &toml)
            .unwrap()
            .file_only(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operators_words_are_sent_and_the_rest_stays_built_in() {
    let dir = templates(&[
        ("en/reset.subject", "Reset your {{ product }}\npassword"),
        (
            "en/reset.txt",
            "Someone asked to reset the {{ product }} password of {{ to }}.\nOpen {{ link }} within {{ minutes }} minutes.\n",
        ),
        (
            "en/reset.html",
            "<p>{{ product }}: <a href=\"{{ link }}\">reset</a></p>{% if support_email %}<p>Help: {{ support_email }}</p>{% endif %}",
        ),
    ]);
    let (config, problems) = read(&dir, "");
    assert!(problems.is_empty(), "{problems:?}");

    let mut auth = latchkey_core::AuthConfig::for_tests();
    auth.product = config.auth.product.clone();
    let (port, inbox) = common::smtp::start().await;
    let s = latchkey_core::Services::new(
        common::fresh_db(common::Backend::Sqlite).await,
        common::ephemeral(common::Backend::Sqlite).await,
        auth,
        Arc::new(config.letters()),
    );
    s.keys.ready().await.unwrap();
    common::start_outbox(&s, port);

    let english = common::sign_up(&s).await;
    s.passwords()
        .forgot_password(&english.email, &common::client())
        .await
        .unwrap();
    let raw = inbox.wait_for_subject(&english.email, "Reset your").await;
    // Quoted-printable: soft line breaks and `=3D` undone.
    let mail = raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        mail.contains("Subject: Reset your Acme <Notes> password"),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "Someone asked to reset the Acme <Notes> password of {}.",
            english.email
        )),
        "{mail}"
    );
    assert!(mail.contains("within 60 minutes"), "{mail}");
    let token = common::smtp::reset_token_in(&raw);
    assert_eq!(token.len(), 43, "the link works: {mail}");
    // HTML escapes the product's name; the support address is there.
    assert!(mail.contains("Acme &lt;Notes&gt;"), "{mail}");
    assert!(mail.contains("Help: help@acme.test"), "{mail}");

    // Korean was not replaced, nor any other mail: the built-in letters go.
    use latchkey_core::Letters;
    let letters = config.letters();
    for (lang, mail) in [
        ("ko", "reset"),
        ("en", "password_changed"),
        ("en", "signin_code"),
    ] {
        let letter = server::mail::sample(mail).unwrap();
        let parts = |e: latchkey_core::outbox::Email| (e.subject, e.text, e.html);
        assert_eq!(
            parts(letters.write(lang, "Acme", "a@example.com", letter)),
            parts(app::letters::Translated.write(lang, "Acme", "a@example.com", letter)),
            "{lang}/{mail}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn every_broken_template_is_named_with_its_file_and_line() {
    let dir = templates(&[
        ("en/reset.txt", "Hello\nOpen {{ linkk }}\n"),
        ("en/verify_code.html", "<p>{{ code }}</p>\n{% if %}\n"),
        ("en/resett.txt", "typo in the name"),
        ("ko/signin_code.subject", "{{ code }} {{ product }}"),
        ("fr/reset.txt", "Bonjour"),
        // Only reached when no code is left: checked all the same.
        (
            "en/recovery_code_used.txt",
            "{% if left == 0 %}{{ none_left_advice }}{% endif %}{{ left }} left",
        ),
        // Fails only without a support address.
        (
            "en/password_changed.txt",
            "Write to {{ support_email | length }}",
        ),
    ]);
    let (_, problems) = read_without_support(&dir);
    let d = dir.display();
    assert_eq!(problems.len(), 6, "{problems:#?}");
    let expected = [
        "en/reset.txt uses linkk which reset does not have".to_owned(),
        "(in en/verify_code.html:2)".to_owned(),
        "en/resett.txt names no mail part".to_owned(),
        format!("{d}/fr is not a language folder"),
        "en/recovery_code_used.txt uses none_left_advice".to_owned(),
        "(in en/password_changed.txt:1)".to_owned(),
    ];
    for want in &expected {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("MAIL_TEMPLATES: ") && p.contains(want.as_str())),
            "{want:?} not in {problems:#?}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();

    let (_, problems) = read(Path::new("/nonexistent/templates"), "");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("MAIL_TEMPLATES: cannot read /nonexistent/templates"));
}
