//! Single-use emailed links (password resets, undoing an email change):
//! 256-bit tokens stored as SHA-256, spent once inside the transaction that
//! acts on them, retired together when the account changes hands.

use sqlx::{Any, Transaction};

use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::tokens::token_hash;

/// How long a dead link's row is kept before it is pruned: of no use to
/// anyone after a day, but a late click still reads "used", not "invalid".
pub(crate) const KEEP_DEAD_SECS: i64 = 86_400;

/// Spends a single-use emailed link (`password_resets`, `email_reverts`)
/// inside `tx`: of two racing uses, one finds it unused and live.
pub(crate) async fn spend_link_in(
    tx: &mut Transaction<'_, Any>,
    table: &'static str,
    token: &str,
    now: i64,
) -> Result<(), Error> {
    let used = sqlx::query(&format!(
        "UPDATE {table} SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1"
    ))
    .bind(now)
    .bind(token_hash(token))
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from)?;
    match used.rows_affected() {
        1 => Ok(()),
        _ => Err(link_used()),
    }
}

/// Whether a stored link still works: unused and not yet expired.
pub(crate) fn still_live(used_at: Option<i64>, expires_at: i64) -> Result<(), Error> {
    if used_at.is_some() {
        return Err(link_used());
    }
    if expires_at <= crate::now() {
        return Err(Error::of(ErrorCode::LinkExpired, Reason::LinkExpired));
    }
    Ok(())
}

pub(crate) fn link_invalid() -> Error {
    Error::of(ErrorCode::LinkInvalid, Reason::LinkInvalid)
}

fn link_used() -> Error {
    Error::of(ErrorCode::LinkExpired, Reason::LinkUsed)
}

/// Every outstanding reset link of the account stops working.
pub(crate) async fn retire_reset_links_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
