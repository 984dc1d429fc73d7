//! A value sealed (`Tokens::seal`) for one owner until a time: what the
//! short-lived cookies carry between a post and the page after it (`once`,
//! `kept`). The owner is the associated data, so a value sealed for one
//! purpose, account or form opens for no other; the stamp inside the seal
//! bounds its life even if a browser keeps the cookie longer.

use latchkey_core::{now, Services};

/// `plain`, sealed for `owner` until `max_age` seconds from now.
pub fn seal_until(services: &Services, owner: &str, plain: &str, max_age: i64) -> String {
    let stamped = format!("{}|{plain}", now() + max_age);
    services.tokens.seal(owner, stamped.as_bytes())
}

/// What [`seal_until`] sealed for `owner`, while its time lasts.
pub fn open_unexpired(services: &Services, owner: &str, sealed: &str) -> Option<String> {
    let stamped = String::from_utf8(services.tokens.open(owner, sealed)?).ok()?;
    let (expires, plain) = stamped.split_once('|')?;
    expires.parse::<i64>().ok().filter(|e| *e >= now())?;
    Some(plain.to_owned())
}
