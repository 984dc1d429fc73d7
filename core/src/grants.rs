//! Ending what users let apps have (`oauth_grants`): the one way every
//! path does it (an app's revocation or detected code reuse, a user taking
//! an app's access back, "sign out everywhere" and the like), so none
//! forgets the refresh tokens or the codes not yet spent.

use crate::db::StoreError;

/// Which grants end.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Grants<'a> {
    One(&'a str),
    OfUser(&'a str),
    OfUserApp {
        user_id: &'a str,
        client_id: &'a str,
    },
}

impl Grants<'_> {
    /// The condition on `oauth_grants` (and, for a user's, `oauth_codes`),
    /// its placeholders numbered from `$first`, and their values.
    fn condition(&self, first: usize) -> (String, Vec<&str>) {
        let next = first + 1;
        match *self {
            Self::One(id) => (format!("id = ${first}"), vec![id]),
            Self::OfUser(user_id) => (format!("user_id = ${first}"), vec![user_id]),
            Self::OfUserApp { user_id, client_id } => (
                format!("user_id = ${first} AND client_id = ${next}"),
                vec![user_id, client_id],
            ),
        }
    }
}

/// Ends `which` grants inside `tx`: a user's codes not yet exchanged are
/// spent (a code fetched a moment before cannot open a new grant), live
/// grants are marked revoked (their access tokens fail at `userinfo` and
/// introspection), and their refresh tokens go. In that order: on
/// PostgreSQL each statement sees what committed before it, so a code
/// redemption that holds its code while we wait has committed its grant by
/// the time the grants are revoked. Returns how many live grants ended.
pub(crate) async fn end_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    which: Grants<'_>,
    now: i64,
) -> Result<u64, StoreError> {
    // `now` is `$1` of the updates, the grants' values after it.
    let (condition, values) = which.condition(2);
    let codes =
        format!("UPDATE oauth_codes SET used_at = $1 WHERE {condition} AND used_at IS NULL");
    let grants = format!(
        "UPDATE oauth_grants SET revoked_at = $1 \
         WHERE {condition} AND revoked_at IS NULL AND expires_at > $1"
    );
    let mut updates = vec![grants.as_str()];
    if !matches!(which, Grants::One(_)) {
        updates.insert(0, codes.as_str());
    }
    let mut ended = 0;
    for sql in updates {
        let mut update = sqlx::query(sql).bind(now);
        for value in &values {
            update = update.bind(*value);
        }
        let done = update.execute(&mut **tx).await?;
        if sql == grants {
            ended = done.rows_affected();
        }
    }
    let (of_grants, values) = which.condition(1);
    let tokens = format!(
        "DELETE FROM oauth_refresh_tokens WHERE grant_id IN \
         (SELECT id FROM oauth_grants WHERE {of_grants})"
    );
    let mut delete = sqlx::query(&tokens);
    for value in &values {
        delete = delete.bind(*value);
    }
    delete.execute(&mut **tx).await?;
    Ok(ended)
}
