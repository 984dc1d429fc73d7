//! The operator's brand: product name, logo, favicon, colours, support
//! address and legal links (`PRODUCT_NAME`, `BRAND_*`, `SUPPORT_EMAIL`,
//! `TERMS_URL`, `PRIVACY_URL`). Read and checked once at start-up: colours
//! must meet WCAG AA against both of the app's themes (a problem names the
//! failing pair), and files are read into memory and served under names
//! carrying their digest, kept by browsers for a year.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use app::brand::Brand;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use md5::{Digest, Md5};
use palette::color_difference::Wcag21RelativeContrast;
use palette::{IntoColor, Mix, Oklch, Srgb};

/// The most a logo or favicon may weigh: it is sent with every first visit.
const MAX_FILE_BYTES: usize = 256 * 1024;

/// WCAG 2.1 AA for text (links, and the words on a button).
const TEXT_CONTRAST: f32 = 4.5;
/// WCAG 2.1 AA for the parts of controls (1.4.11): buttons, checkboxes and
/// focused fields are drawn in the primary colour.
const CONTROL_CONTRAST: f32 = 3.0;

/// The colours links are drawn on, per theme: `--surface` and `--bg` in
/// `style/main.css` (a test holds these to the stylesheet).
const LIGHT_GROUNDS: [(&str, &str); 2] = [("surface", "#ffffff"), ("background", "#f6f7f9")];
const DARK_GROUNDS: [(&str, &str); 2] = [("surface", "#161922"), ("background", "#0b0d12")];
/// The two inks a button's words can take: the light theme's text and white.
const DARK_INK: &str = "#111827";
const LIGHT_INK: &str = "#ffffff";
/// The text drawn on the highlight tint, per theme: `--text` and
/// `--text-muted` (notices sit on it).
const LIGHT_TEXTS: [&str; 2] = ["#111827", "#4b5563"];
const DARK_TEXTS: [&str; 2] = ["#e6e8ee", "#a3a9b6"];

/// The brand as configured: what the pages show and the files served.
#[derive(Debug, Clone)]
pub struct Branding {
    pub product: String,
    pub logo: Option<Asset>,
    pub favicon: Option<Asset>,
    pub colours: Option<Colours>,
    pub support_email: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
}

impl Default for Branding {
    /// Latchkey's own.
    fn default() -> Self {
        Self {
            product: app::brand::LATCHKEY.into(),
            logo: None,
            favicon: None,
            colours: None,
            support_email: None,
            terms_url: None,
            privacy_url: None,
        }
    }
}

impl Branding {
    /// Reads the brand settings through `get`, adding every problem.
    pub fn read(get: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Self {
        let product = get("PRODUCT_NAME")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|| app::brand::LATCHKEY.into());
        if product.chars().count() > 40 || product.chars().any(char::is_control) {
            problems.push(format!(
                "PRODUCT_NAME must be at most 40 characters, on one line, got {product:?}"
            ));
        }
        let mut asset = |key: &str, icon: bool| {
            get(key).and_then(|path| {
                Asset::read(key, path.trim(), icon)
                    .map_err(|problem| problems.push(problem))
                    .ok()
            })
        };
        let logo = asset("BRAND_LOGO", false);
        let favicon = asset("BRAND_FAVICON", true);
        let (primary, primary_dark, accent, accent_dark) = (
            get("BRAND_PRIMARY"),
            get("BRAND_PRIMARY_DARK"),
            get("BRAND_ACCENT"),
            get("BRAND_ACCENT_DARK"),
        );
        let colours = Colours::from_settings(&Given {
            primary: primary.as_deref(),
            primary_dark: primary_dark.as_deref(),
            accent: accent.as_deref(),
            accent_dark: accent_dark.as_deref(),
        })
        .unwrap_or_else(|more| {
            problems.extend(more);
            None
        });
        let support_email = get("SUPPORT_EMAIL").map(|email| email.trim().to_owned());
        if let Some(email) = &support_email {
            if email.parse::<lettre::Address>().is_err() {
                problems.push(format!(
                    "SUPPORT_EMAIL must be an address like help@example.com, got {email:?}"
                ));
            }
        }
        let mut link = |key: &str| {
            let raw = get(key)?.trim().to_owned();
            let ok = url::Url::parse(&raw)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
            if !ok {
                problems.push(format!("{key} must be an http(s) URL, got {raw:?}"));
            }
            ok.then_some(raw)
        };
        let terms_url = link("TERMS_URL");
        let privacy_url = link("PRIVACY_URL");
        Self {
            product,
            logo,
            favicon,
            colours,
            support_email,
            terms_url,
            privacy_url,
        }
    }

    /// The settings as `check-config` shows them.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let file = |asset: &Option<Asset>, none: &str| {
            asset.as_ref().map_or(none.to_owned(), |a| {
                format!("{} ({} bytes)", a.path.display(), a.bytes.len())
            })
        };
        let colour = |pick: fn(&Colours) -> Srgb<u8>| {
            self.colours
                .as_ref()
                .map_or("unset: Latchkey's colours".to_owned(), |c| hex(pick(c)))
        };
        let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "unset".into());
        vec![
            ("PRODUCT_NAME", self.product.clone()),
            ("BRAND_LOGO", file(&self.logo, "unset: Latchkey's mark")),
            (
                "BRAND_FAVICON",
                file(&self.favicon, "unset: Latchkey's icon"),
            ),
            ("BRAND_PRIMARY", colour(|c| c.light.primary)),
            ("BRAND_PRIMARY_DARK", colour(|c| c.dark.primary)),
            ("BRAND_ACCENT", colour(|c| c.light.accent)),
            ("BRAND_ACCENT_DARK", colour(|c| c.dark.accent)),
            ("SUPPORT_EMAIL", text(&self.support_email)),
            ("TERMS_URL", text(&self.terms_url)),
            ("PRIVACY_URL", text(&self.privacy_url)),
        ]
    }
}

/// A file the operator gave, read at start-up.
#[derive(Debug, Clone)]
pub struct Asset {
    pub path: PathBuf,
    pub bytes: Bytes,
    pub content_type: &'static str,
    extension: &'static str,
}

/// Both themes' colours, each either given or derived from the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Colours {
    pub light: Theme,
    pub dark: Theme,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Filled buttons.
    pub primary: Srgb<u8>,
    /// The words on them: white or the dark ink, whichever reads better.
    pub primary_text: Srgb<u8>,
    pub primary_hover: Srgb<u8>,
    /// Links, focus rings and highlights.
    pub accent: Srgb<u8>,
    /// The tint behind highlighted items (links are drawn on it too).
    pub accent_soft: Srgb<u8>,
}

/// What the settings say, before checking (`None`: unset).
#[derive(Debug, Default)]
pub struct Given<'a> {
    pub primary: Option<&'a str>,
    pub primary_dark: Option<&'a str>,
    pub accent: Option<&'a str>,
    pub accent_dark: Option<&'a str>,
}

fn hex(c: Srgb<u8>) -> String {
    format!("#{:02x}{:02x}{:02x}", c.red, c.green, c.blue)
}

fn parse(raw: &str) -> Option<Srgb<u8>> {
    let raw = raw.trim();
    let digits = raw.strip_prefix('#')?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| raw.parse().ok())
        .flatten()
}

fn contrast(a: Srgb<u8>, b: Srgb<u8>) -> f32 {
    let a: Srgb<f32> = a.into_format();
    a.relative_contrast(b.into_format())
}

fn colour(raw: &str) -> Srgb<u8> {
    parse(raw).expect("a constant colour")
}

fn mix(a: Srgb<u8>, b: Srgb<u8>, share_of_b: f32) -> Srgb<u8> {
    let a = a.into_format::<f32>().into_linear();
    let b = b.into_format::<f32>().into_linear();
    Srgb::<u8>::from_linear(a.mix(b, share_of_b))
}

/// Whether `c` reaches `ratio` against every ground.
fn meets(c: Srgb<u8>, grounds: &[Srgb<u8>], ratio: f32) -> bool {
    grounds.iter().all(|g| contrast(c, *g) >= ratio)
}

/// Moves `c`'s lightness (Oklch) step by step, darker or lighter, until it
/// reaches `ratio` against every ground; hue and chroma stay. (Black and
/// white reach 15:1 on any ground here, so it always gets there; the
/// caller checks anyway.)
fn readable_on(c: Srgb<u8>, grounds: &[Srgb<u8>], lighter: bool, ratio: f32) -> Srgb<u8> {
    let mut lch: Oklch = c.into_format::<f32>().into_linear().into_color();
    let mut out = c;
    for _ in 0..100 {
        if meets(out, grounds, ratio) {
            break;
        }
        lch.l = (lch.l + if lighter { 0.01 } else { -0.01 }).clamp(0.0, 1.0);
        let linear: palette::LinSrgb = lch.into_color();
        out = Srgb::<u8>::from_linear(linear);
    }
    out
}

impl Colours {
    /// Checks the given colours and derives the rest. Every problem names
    /// the setting, the pair and the ratio.
    pub fn from_settings(given: &Given<'_>) -> Result<Option<Self>, Vec<String>> {
        if given.primary.is_none() && given.accent.is_none() {
            if given.primary_dark.is_some() || given.accent_dark.is_some() {
                return Err(vec![
                    "BRAND_PRIMARY_DARK and BRAND_ACCENT_DARK adjust BRAND_PRIMARY or BRAND_ACCENT: set one of those too".into(),
                ]);
            }
            return Ok(None);
        }
        let mut problems = Vec::new();
        let mut read = |key: &str, raw: Option<&str>| {
            raw.and_then(|raw| {
                let parsed = parse(raw);
                if parsed.is_none() {
                    problems.push(format!("{key} must be a colour like #0f766e, got {raw:?}"));
                }
                parsed
            })
        };
        let primary = read("BRAND_PRIMARY", given.primary);
        let primary_dark = read("BRAND_PRIMARY_DARK", given.primary_dark);
        let accent = read("BRAND_ACCENT", given.accent);
        let accent_dark = read("BRAND_ACCENT_DARK", given.accent_dark);
        if !problems.is_empty() {
            return Err(problems);
        }
        // One of the two is set: each stands in for the other.
        let (primary, accent_base) = match (primary, accent) {
            (Some(p), a) => (p, a.unwrap_or(p)),
            (None, Some(a)) => (a, a),
            (None, None) => unreachable!("checked above"),
        };
        let light = theme(
            ("BRAND_PRIMARY", primary, true),
            ("BRAND_ACCENT", accent_base, accent.is_some()),
            &LIGHT,
            &mut problems,
        );
        let dark = theme(
            (
                "BRAND_PRIMARY_DARK",
                primary_dark.unwrap_or(primary),
                primary_dark.is_some(),
            ),
            (
                "BRAND_ACCENT_DARK",
                accent_dark.unwrap_or(accent_base),
                accent_dark.is_some(),
            ),
            &DARK,
            &mut problems,
        );
        if problems.is_empty() {
            Ok(Some(Self { light, dark }))
        } else {
            Err(problems)
        }
    }

    /// The stylesheet that puts these colours over the app's own.
    pub fn stylesheet(&self) -> String {
        let vars = |t: &Theme| {
            format!(
                "--accent:{};--accent-hover:{};--accent-contrast:{};--accent-soft:{};--link:{};--focus:{}",
                hex(t.primary),
                hex(t.primary_hover),
                hex(t.primary_text),
                hex(t.accent_soft),
                hex(t.accent),
                hex(t.accent),
            )
        };
        format!(
            "/* The product's colours (BRAND_*), checked and completed at start-up. */\n\
             :root{{{}}}\n@media (prefers-color-scheme: dark){{:root{{{}}}}}\n",
            vars(&self.light),
            vars(&self.dark)
        )
    }
}

/// What a theme draws brand colours on, and with.
struct Ground {
    name: &'static str,
    grounds: [(&'static str, &'static str); 2],
    texts: [&'static str; 2],
    /// Dark theme: colours are moved lighter to stand out.
    dark: bool,
}

const LIGHT: Ground = Ground {
    name: "the light theme",
    grounds: LIGHT_GROUNDS,
    texts: LIGHT_TEXTS,
    dark: false,
};
const DARK: Ground = Ground {
    name: "the dark theme",
    grounds: DARK_GROUNDS,
    texts: DARK_TEXTS,
    dark: true,
};

/// One theme's colours. A given colour must meet its ratio on the theme's
/// grounds (a problem names the pair otherwise); a derived one is moved
/// until it does. The tint behind highlighted items is faded until the
/// accent and the theme's text read on it.
fn theme(
    (primary_key, primary, primary_given): (&str, Srgb<u8>, bool),
    (accent_key, accent, accent_given): (&str, Srgb<u8>, bool),
    ground: &Ground,
    problems: &mut Vec<String>,
) -> Theme {
    let Ground {
        name: theme_name,
        grounds,
        dark,
        ..
    } = ground;
    let dark = *dark;
    let lighter_or_darker = if dark { "lighter" } else { "darker" };
    // BRAND_PRIMARY is the base every other colour comes from: it cannot be
    // left unset the way the others can.
    let unset_hint = |key: &str| {
        if key.ends_with("_DARK") || key == "BRAND_ACCENT" {
            format!(", or leave {key} unset to have one derived")
        } else {
            String::new()
        }
    };
    let grounds_rgb: Vec<Srgb<u8>> = grounds.iter().map(|(_, g)| colour(g)).collect();
    let check = |key: &str, c: Srgb<u8>, ratio: f32, what: &str| -> Vec<String> {
        grounds
            .iter()
            .filter_map(|(name, g)| {
                let found = contrast(c, colour(g));
                (found < ratio).then(|| {
                    format!(
                        "{key} {} on {theme_name}'s {name} ({g}) has a contrast of {found:.2}:1; \
                         {what} and WCAG AA asks {ratio}:1. Choose a {lighter_or_darker} colour{}.",
                        hex(c),
                        unset_hint(key)
                    )
                })
            })
            .collect()
    };

    let primary = if primary_given {
        problems.extend(check(
            primary_key,
            primary,
            CONTROL_CONTRAST,
            "buttons, checkboxes and focused fields are drawn in it",
        ));
        primary
    } else {
        readable_on(primary, &grounds_rgb, dark, CONTROL_CONTRAST)
    };
    let (dark_ink, light_ink) = (colour(DARK_INK), colour(LIGHT_INK));
    let primary_text = if contrast(primary, light_ink) >= contrast(primary, dark_ink) {
        light_ink
    } else {
        dark_ink
    };
    let best = contrast(primary, primary_text);
    if best < TEXT_CONTRAST {
        problems.push(format!(
            "{primary_key} {} carries button text at {best:.2}:1 at best (with {}); WCAG AA asks \
             {TEXT_CONTRAST}:1. Choose a darker or a lighter colour{}.",
            hex(primary),
            hex(primary_text),
            if primary_given {
                String::new()
            } else {
                format!(" for {primary_key}")
            }
        ));
    }
    // Away from the text, so the hovered button reads at least as well.
    let primary_hover = mix(
        primary,
        if primary_text == light_ink {
            dark_ink
        } else {
            light_ink
        },
        0.18,
    );

    let accent = if accent_given {
        problems.extend(check(
            accent_key,
            accent,
            TEXT_CONTRAST,
            "links are drawn in it",
        ));
        accent
    } else {
        readable_on(accent, &grounds_rgb, dark, TEXT_CONTRAST)
    };
    if !meets(primary, &grounds_rgb, CONTROL_CONTRAST) && !primary_given
        || !meets(accent, &grounds_rgb, TEXT_CONTRAST) && !accent_given
    {
        problems.push(format!(
            "no readable colour could be derived for {theme_name}: set {primary_key} and {accent_key}"
        ));
    }
    let surface = grounds_rgb[0];
    let readers: Vec<Srgb<u8>> = std::iter::once(accent)
        .chain(ground.texts.iter().map(|t| colour(t)))
        .collect();
    let mut share = if dark { 0.22 } else { 0.1 };
    let mut accent_soft = mix(surface, accent, share);
    while !readers
        .iter()
        .all(|r| contrast(*r, accent_soft) >= TEXT_CONTRAST)
        && share > 0.0
    {
        share = (share - 0.02f32).max(0.0);
        accent_soft = mix(surface, accent, share);
    }
    Theme {
        primary,
        primary_text,
        primary_hover,
        accent,
        accent_soft,
    }
}

impl Asset {
    /// Reads an SVG or PNG (or, for a favicon, ICO) file named by `key`.
    pub fn read(key: &str, path: &str, icon: bool) -> Result<Self, String> {
        let path = PathBuf::from(path);
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let (content_type, extension) = match extension.as_deref() {
            Some("svg") => ("image/svg+xml", "svg"),
            Some("png") => ("image/png", "png"),
            Some("ico") if icon => ("image/x-icon", "ico"),
            _ => {
                return Err(format!(
                    "{key} must name an .svg or .png file{}, got {}",
                    if icon { " (or .ico)" } else { "" },
                    path.display()
                ))
            }
        };
        let unreadable = |e: std::io::Error| format!("{key}: cannot read {}: {e}", path.display());
        // Weighed before reading: a pipe or a huge file never hangs the start.
        let meta = std::fs::metadata(&path).map_err(unreadable)?;
        if !meta.is_file() {
            return Err(format!("{key}: {} is not a file", path.display()));
        }
        if meta.len() > MAX_FILE_BYTES as u64 {
            return Err(format!(
                "{key}: {} weighs {} KiB; at most {} KiB (it is sent on every first visit)",
                path.display(),
                meta.len() / 1024,
                MAX_FILE_BYTES / 1024
            ));
        }
        let bytes = std::fs::read(&path).map_err(unreadable)?;
        let looks_right = match extension {
            "svg" => std::str::from_utf8(&bytes).is_ok_and(|text| text.contains("<svg")),
            "png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            _ => bytes.starts_with(&[0, 0, 1, 0]),
        };
        if !looks_right {
            return Err(format!(
                "{key}: {} is not a{} {extension} file",
                path.display(),
                if extension == "svg" { "n" } else { "" }
            ));
        }
        Ok(Self {
            path,
            bytes: Bytes::from(bytes),
            content_type,
            extension,
        })
    }

    fn name(&self, stem: &str) -> String {
        format!("{stem}.{}.{}", digest(&self.bytes), self.extension)
    }
}

/// The digest in a served name: MD5, base64url, as cargo-leptos names
/// the build's files.
fn digest(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Md5::digest(bytes))
}

type Files = HashMap<String, (&'static str, Bytes)>;

impl Branding {
    /// What the pages need to know, and the `/brand/*` routes serving the
    /// files it names.
    pub fn serve(&self) -> (Brand, Router) {
        let mut files = Files::new();
        let mut add = |name: String, content_type: &'static str, bytes: Bytes| {
            let url = format!("/brand/{name}");
            files.insert(name, (content_type, bytes));
            url
        };
        let logo = self
            .logo
            .as_ref()
            .map(|a| add(a.name("logo"), a.content_type, a.bytes.clone()));
        let favicon = self.favicon.as_ref().map(|a| {
            (
                add(a.name("icon"), a.content_type, a.bytes.clone()),
                a.content_type.to_owned(),
            )
        });
        let stylesheet = self.colours.as_ref().map(|c| {
            let css = Bytes::from(c.stylesheet());
            add(
                format!("colours.{}.css", digest(&css)),
                "text/css; charset=utf-8",
                css,
            )
        });
        let brand = Brand {
            product: self.product.clone(),
            logo,
            favicon,
            stylesheet,
            support_email: self.support_email.clone(),
            terms_url: self.terms_url.clone(),
            privacy_url: self.privacy_url.clone(),
        };
        let router = Router::new()
            .route("/brand/{file}", get(file))
            .with_state(Arc::new(files));
        (brand, router)
    }
}

async fn file(State(files): State<Arc<Files>>, Path(name): Path<String>) -> Response {
    match files.get(&name) {
        Some((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // The name changes with the content.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(primary: Option<&'static str>, accent: Option<&'static str>) -> Given<'static> {
        Given {
            primary,
            accent,
            ..Given::default()
        }
    }

    /// The grounds checked against are the stylesheet's.
    #[test]
    fn the_grounds_are_the_stylesheets() {
        let css = include_str!("../../style/main.css");
        let (light, dark) = css.split_once("prefers-color-scheme: dark").unwrap();
        for ((name, value), part) in LIGHT_GROUNDS
            .iter()
            .zip([light, light])
            .chain(DARK_GROUNDS.iter().zip([dark, dark]))
        {
            let var = if *name == "surface" {
                "--surface"
            } else {
                "--bg"
            };
            assert!(
                part.contains(&format!("{var}: {value};")),
                "{var} is not {value} in style/main.css"
            );
        }
        assert!(light.contains(&format!("--text: {DARK_INK};")));
        assert!(light.contains(&format!("--text: {};", LIGHT_TEXTS[0])));
        assert!(light.contains(&format!("--text-muted: {};", LIGHT_TEXTS[1])));
        assert!(dark.contains(&format!("--text: {};", DARK_TEXTS[0])));
        assert!(dark.contains(&format!("--text-muted: {};", DARK_TEXTS[1])));
    }

    #[test]
    fn unset_colours_keep_the_apps_own() {
        assert_eq!(Colours::from_settings(&Given::default()), Ok(None));
        let alone = Given {
            accent_dark: Some("#a5b4fc"),
            ..Given::default()
        };
        assert!(Colours::from_settings(&alone).unwrap_err()[0].contains("set one of those too"));
    }

    #[test]
    fn a_dark_teal_gets_white_text_and_a_derived_dark_theme_accent_that_reads() {
        let c = Colours::from_settings(&given(Some("#0f766e"), None))
            .unwrap()
            .unwrap();
        assert_eq!(hex(c.light.primary_text), "#ffffff");
        assert_eq!(
            c.light.accent,
            colour("#0f766e"),
            "it already reads on white"
        );
        for (_, g) in DARK_GROUNDS {
            assert!(contrast(c.dark.accent, colour(g)) >= TEXT_CONTRAST);
        }
        for t in [&c.light, &c.dark] {
            assert!(contrast(t.accent, t.accent_soft) >= TEXT_CONTRAST);
            assert!(
                contrast(t.primary_hover, t.primary_text) >= contrast(t.primary, t.primary_text)
            );
        }
        let css = c.stylesheet();
        assert!(css.starts_with("/* The product's colours"));
        assert!(css.contains(":root{--accent:#0f766e;"), "{css}");
    }

    #[test]
    fn a_yellow_button_vanishes_on_white_and_is_refused() {
        let problems = Colours::from_settings(&given(Some("#facc15"), None)).unwrap_err();
        assert!(
            problems[0].starts_with(
                "BRAND_PRIMARY #facc15 on the light theme's surface (#ffffff) has a contrast of 1.5"
            ),
            "{problems:#?}"
        );
        assert!(problems[0].contains("buttons, checkboxes and focused fields"));
        // A dark gold carries white words and reads; the dark theme's is
        // derived lighter, with dark words.
        let c = Colours::from_settings(&given(Some("#a16207"), None))
            .unwrap()
            .unwrap();
        assert_eq!(hex(c.light.primary_text), LIGHT_INK);
        assert!(meets(
            c.dark.primary,
            &DARK_GROUNDS.map(|(_, g)| colour(g)),
            CONTROL_CONTRAST
        ));
    }

    #[test]
    fn a_navy_brand_gets_a_dark_theme_primary_that_stands_out() {
        let c = Colours::from_settings(&given(Some("#1e3a8a"), None))
            .unwrap()
            .unwrap();
        assert_eq!(c.light.primary, colour("#1e3a8a"));
        assert_ne!(
            c.dark.primary, c.light.primary,
            "too dark on the dark theme"
        );
        let dark_grounds = DARK_GROUNDS.map(|(_, g)| colour(g));
        assert!(meets(c.dark.primary, &dark_grounds, CONTROL_CONTRAST));
        assert!(contrast(c.dark.primary, c.dark.primary_text) >= TEXT_CONTRAST);
        assert!(meets(c.dark.accent, &dark_grounds, TEXT_CONTRAST));
        // Notices put the theme's text on the tint.
        for text in DARK_TEXTS {
            assert!(contrast(colour(text), c.dark.accent_soft) >= TEXT_CONTRAST);
        }
    }

    #[test]
    fn a_given_colour_that_fails_names_the_setting_the_pair_and_the_ratio() {
        let problems = Colours::from_settings(&Given {
            primary: Some("#0f766e"),
            accent: Some("#0f766e"),
            accent_dark: Some("#4338ca"),
            primary_dark: Some("#777777"),
        })
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "BRAND_PRIMARY_DARK #777777 carries button text at 4.48:1 at best (with #ffffff)"
            ),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].starts_with(
                "BRAND_ACCENT_DARK #4338ca on the dark theme's surface (#161922) has a contrast of 2."
            ),
            "{}",
            problems[1]
        );
        assert!(problems[2].contains("the dark theme's background (#0b0d12)"));
        let unreadable = Colours::from_settings(&given(Some("teal"), None)).unwrap_err();
        assert_eq!(
            unreadable,
            ["BRAND_PRIMARY must be a colour like #0f766e, got \"teal\""]
        );
    }

    #[test]
    fn files_are_checked_for_kind_and_weight() {
        let dir = std::env::temp_dir().join(format!("lk-brand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("logo.svg");
        std::fs::write(&svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
        let logo = Asset::read("BRAND_LOGO", svg.to_str().unwrap(), false).unwrap();
        assert_eq!(logo.content_type, "image/svg+xml");
        assert!(logo.name("logo").starts_with("logo.") && logo.name("logo").ends_with(".svg"));
        let fake = dir.join("logo.png");
        std::fs::write(&fake, "not a png").unwrap();
        let err = Asset::read("BRAND_LOGO", fake.to_str().unwrap(), false).unwrap_err();
        assert!(err.ends_with("is not a png file"), "{err}");
        let err = Asset::read("BRAND_LOGO", "/x/logo.gif", false).unwrap_err();
        assert_eq!(
            err,
            "BRAND_LOGO must name an .svg or .png file, got /x/logo.gif"
        );
        let big = dir.join("big.svg");
        std::fs::write(&big, format!("<svg>{}</svg>", " ".repeat(MAX_FILE_BYTES))).unwrap();
        let err = Asset::read("BRAND_FAVICON", big.to_str().unwrap(), true).unwrap_err();
        assert!(err.contains("at most 256 KiB"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
