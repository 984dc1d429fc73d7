//! Where a browser may be sent after signing in or posting a form: back to
//! the page it came from, only ever on this site. Both builds need the same
//! answer (a page renders the link on the server and again when it
//! hydrates), so the rule lives here.

/// `next` when it can only mean a page of this site. Browsers read `\` as
/// `/` and drop tabs and newlines anywhere in a URL, so `/\evil.example`
/// and `/<TAB>/evil.example` would become `//evil.example`: another host.
/// The same characters percent-encoded in the path are refused too: some
/// proxy or browser in between may decode them, and none of our paths
/// needs them. (The query may hold them: `/login?next=%2Fsessions`.)
pub fn same_site_path(next: &str) -> Option<&str> {
    let risky = |c: u8| c == b'\\' || c == b'/' || c.is_ascii_control() || c == b' ';
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let encoded_risky = path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(risky)
    });
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && !encoded_risky
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    safe.then_some(next)
}

/// Where a sign-in lands: `next` if it is a page here, else the profile.
pub fn landing(next: &str) -> &str {
    same_site_path(next).unwrap_or("/profile")
}

/// `next` when it is a page here other than the profile, where a sign-in
/// lands anyway: the only `next` worth carrying or mentioning.
pub fn elsewhere(next: &str) -> Option<&str> {
    same_site_path(next).filter(|n| *n != "/profile")
}

/// `path` carrying `next` on to the step after it (`/login?next=…`), when
/// `next` is [`elsewhere`].
pub fn with_next(path: &str, next: &str) -> String {
    match elsewhere(next) {
        None => path.to_owned(),
        Some(next) => {
            let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
            with_query(path, &format!("next={next}"))
        }
    }
}

/// `path` with `part` (`name=value`, or a bare flag) added to its query.
pub fn with_query(path: &str, part: &str) -> String {
    let glue = if path.contains('?') { '&' } else { '?' };
    format!("{path}{glue}{part}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parts_are_glued() {
        assert_eq!(with_query("/login", "again"), "/login?again");
        assert_eq!(
            with_query("/login?next=%2Fx", "again"),
            "/login?next=%2Fx&again"
        );
        assert_eq!(
            with_next("/login?again", "/security"),
            "/login?again&next=%2Fsecurity"
        );
    }

    #[test]
    fn only_pages_here() {
        assert_eq!(same_site_path("/profile?x=1"), Some("/profile?x=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil.example",
            "profile",
            "",
        ] {
            assert_eq!(same_site_path(bad), None, "{bad:?}");
            assert_eq!(landing(bad), "/profile", "{bad:?}");
        }
        for encoded in ["/%09/evil.example", "/%5Cevil.example", "/%2f/evil.example"] {
            assert_eq!(same_site_path(encoded), None, "{encoded:?}");
        }
        assert_eq!(same_site_path(&format!("/{}", "a".repeat(600))), None);
        assert_eq!(
            same_site_path("/login?email=a%40b.c"),
            Some("/login?email=a%40b.c")
        );
        // A page's own address, `next` and all (the language switcher's
        // way back, a sign-in asked for by the step-up page).
        for own in [
            "/login?next=%2Fsessions",
            "/security/confirm?next=%2Fpassword",
        ] {
            assert_eq!(same_site_path(own), Some(own));
            assert_eq!(
                with_next("/login", own),
                format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(own.as_bytes()).collect::<String>()
                )
            );
        }
    }

    #[test]
    fn next_rides_along_encoded() {
        assert_eq!(
            with_next("/login", "/security/sessions?x=1&y=2"),
            "/login?next=%2Fsecurity%2Fsessions%3Fx%3D1%26y%3D2"
        );
        assert_eq!(
            with_next("/login?upstream=kakao", "/security"),
            "/login?upstream=kakao&next=%2Fsecurity"
        );
        assert_eq!(with_next("/login", "/profile"), "/login");
        assert_eq!(with_next("/login", "//evil.example"), "/login");
        assert_eq!(with_next("/login", ""), "/login");
    }

    #[test]
    fn elsewhere_is_a_page_here_but_not_the_profile() {
        assert_eq!(elsewhere("/security?x=1"), Some("/security?x=1"));
        for not in ["/profile", "", "//evil.example", "https://evil.example/"] {
            assert_eq!(elsewhere(not), None, "{not}");
        }
        assert_eq!(landing("/security"), "/security");
        assert_eq!(landing("//evil.example"), "/profile");
    }
}
