//! The admin console's services: find users, change their role and status,
//! end their sessions, send them a reset link, delete them. Every action is
//! recorded with the acting admin, and no action may leave the deployment
//! without an enabled administrator.

use sqlx::{Any, FromRow, Transaction};

use crate::audit::{ActivityFilter, Event};
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{
    AdminAction, AdminUser, EventKind, EventReason, Role, UserChange, UserDetail, UserPage,
    UserQuery,
};
use crate::passwords::delete_user_in;
use crate::sessions::revoke_user_sessions_in;
use crate::user_store::{self, UserRow};
use crate::{now, validate, Auth, ClientInfo, Services};

pub const DEFAULT_PER_PAGE: u32 = 25;
pub const MAX_PER_PAGE: u32 = 100;

/// 403 unless `auth` is an administrator. The role comes from the database
/// on every request, so a demotion takes effect at once.
pub fn require_admin(auth: &Auth) -> Result<(), Error> {
    if auth.user.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden())
    }
}

#[derive(FromRow)]
struct AdminRow {
    #[sqlx(flatten)]
    user: UserRow,
    last_seen_at: Option<i64>,
}

impl AdminRow {
    fn into_admin_user(self) -> AdminUser {
        AdminUser {
            disabled: self.user.is_disabled(),
            user: self.user.to_user(),
            last_seen_at: self.last_seen_at,
        }
    }
}

/// A user row and when they were last active.
fn admin_columns() -> String {
    format!(
        "{}, (SELECT MAX(s.last_used_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at",
        user_store::COLUMNS
    )
}

fn no_such_user() -> Error {
    Error::of(ErrorCode::NotFound, Reason::NoSuchUser)
}

impl Services {
    async fn admin_user(&self, id: &str) -> Result<AdminUser, Error> {
        let row: Option<AdminRow> = sqlx::query_as(&format!(
            "SELECT {} FROM users u WHERE u.id = $1",
            admin_columns()
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        row.map(AdminRow::into_admin_user).ok_or_else(no_such_user)
    }
}

impl crate::Admin<'_> {
    /// One of the console's actions on user `id`; `session` names the
    /// session for `EndSession` (none named ends none).
    pub async fn admin_act(
        &self,
        admin: &Auth,
        id: &str,
        action: AdminAction,
        session: Option<&str>,
    ) -> Result<(), Error> {
        let (disabled, role, email_verified) = match action {
            AdminAction::Disable => (Some(true), None, None),
            AdminAction::Enable => (Some(false), None, None),
            AdminAction::MakeAdmin => (None, Some(Role::Admin), None),
            AdminAction::MakeMember => (None, Some(Role::User), None),
            AdminAction::VerifyEmail => (None, None, Some(true)),
            AdminAction::SendReset => return self.admin_send_reset(admin, id).await,
            AdminAction::EndSessions => {
                return self.admin_revoke_sessions(admin, id, None).await.map(drop)
            }
            AdminAction::ResetSecondFactors => {
                return self.admin_reset_second_factors(admin, id).await
            }
            // Never "all": a missing session id matches none.
            AdminAction::EndSession => {
                let session = Some(session.unwrap_or_default());
                return self
                    .admin_revoke_sessions(admin, id, session)
                    .await
                    .map(drop);
            }
        };
        let change = UserChange {
            disabled,
            role,
            email_verified,
        };
        self.change_user(admin, id, &change).await.map(drop)
    }

    /// One page of users matching `query`, newest first.
    pub async fn list_users(&self, query: &UserQuery) -> Result<UserPage, Error> {
        let per_page = query
            .per_page
            .unwrap_or(DEFAULT_PER_PAGE)
            .clamp(1, MAX_PER_PAGE);
        // Far past the end is simply empty; the cap keeps OFFSET sane.
        let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |value: String| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let like = bind(crate::db::like_pattern(q));
            conditions.push(format!(
                "(u.email LIKE {like} ESCAPE '\\' OR u.username LIKE {like} ESCAPE '\\')"
            ));
        }
        if let Some(role) = query.role {
            conditions.push(format!("u.role = {}", bind(role.as_str().to_owned())));
        }
        // Flags are 0/1 integers: inlined, never user text.
        if let Some(verified) = query.verified {
            conditions.push(format!("u.email_verified = {}", i64::from(verified)));
        }
        if let Some(disabled) = query.disabled {
            conditions.push(format!("u.disabled = {}", i64::from(disabled)));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };

        let count_sql = format!("SELECT COUNT(*) FROM users u{filter}");
        let mut count = sqlx::query_as::<_, (i64,)>(&count_sql);
        for value in &binds {
            count = count.bind(value.as_str());
        }
        let (total,) = count
            .fetch_one(&self.db.pool)
            .await
            .map_err(StoreError::from)?;

        let offset = i64::from(page - 1) * i64::from(per_page);
        let list_sql = format!(
            "SELECT {} FROM users u{filter} \
             ORDER BY u.created_at DESC, u.id DESC LIMIT {per_page} OFFSET {offset}",
            admin_columns()
        );
        let mut list = sqlx::query_as::<_, AdminRow>(&list_sql);
        for value in &binds {
            list = list.bind(value.as_str());
        }
        let rows = list
            .fetch_all(&self.db.pool)
            .await
            .map_err(StoreError::from)?;
        Ok(UserPage {
            users: rows.into_iter().map(AdminRow::into_admin_user).collect(),
            total,
            page,
            per_page,
        })
    }

    /// A user with their live sessions and latest activity.
    pub async fn user_detail(&self, id: &str) -> Result<UserDetail, Error> {
        let user = self.admin_user(id).await?;
        let sessions = self.sessions_of(id, None).await?;
        let activity = self
            .activity(&ActivityFilter {
                user_id: Some(id.to_owned()),
                limit: Some(20),
                ..ActivityFilter::default()
            })
            .await?
            .events;
        let second_factors = crate::second_factor::of_user(&self.db, id).await?;
        let identities = self.upstream().identities(id).await?;
        Ok(UserDetail {
            user,
            sessions,
            activity,
            second_factors,
            identities,
        })
    }

    /// Applies an admin's change to a user: each changed field is its own
    /// logged event, all in one transaction. Disabling ends every session.
    pub async fn change_user(
        &self,
        admin: &Auth,
        id: &str,
        change: &UserChange,
    ) -> Result<AdminUser, Error> {
        if change.email_verified == Some(false) {
            return Err(Error::invalid("email_verified", Reason::UnverifyRefused));
        }
        self.require_fresh_second_factor(admin).await?;
        let demotes = change.role == Some(Role::User) || change.disabled == Some(true);
        let mut tx = self.db.begin().await?;
        if demotes {
            lock_admins(&mut tx).await?;
        }
        let user = user_in(&mut tx, id).await?;
        if demotes {
            keep_an_admin(&mut tx, &user).await?;
        }
        let event = |kind: EventKind| {
            Event::new(kind, &admin.client)
                .user(id)
                .actor(&admin.user.id)
        };
        if let Some(role) = change.role.filter(|r| r.as_str() != user.role) {
            users_set_in(&mut tx, id, role_assignment(role)).await?;
            self.record_in(&mut tx, event(EventKind::RoleChanged).detail(role.as_str()))
                .await?;
        }
        match change.disabled {
            Some(true) if !user.is_disabled() => {
                users_set_in(&mut tx, id, "disabled = 1").await?;
                let ended = revoke_user_sessions_in(&mut tx, id, None, "disabled", now()).await?;
                let disabled = event(EventKind::UserDisabled).detail(ended.to_string());
                self.record_in(&mut tx, disabled).await?;
            }
            Some(false) if user.is_disabled() => {
                users_set_in(&mut tx, id, "disabled = 0").await?;
                self.record_in(&mut tx, event(EventKind::UserEnabled))
                    .await?;
            }
            _ => {}
        }
        if change.email_verified == Some(true) && user.email_verified == 0 {
            users_set_in(&mut tx, id, "email_verified = 1").await?;
            self.record_in(&mut tx, event(EventKind::EmailVerified))
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(id).await;
        self.admin_user(id).await
    }

    /// Removes the user's authenticator app, recovery codes and passkeys
    /// (they lost the phone and the codes, and proved who they are some
    /// other way);
    /// logged with the admin, and the user is mailed.
    pub async fn admin_reset_second_factors(&self, admin: &Auth, id: &str) -> Result<(), Error> {
        self.require_fresh_second_factor(admin).await?;
        let user = user_store::by_id(&self.db, id)
            .await?
            .ok_or_else(no_such_user)?;
        let mut tx = self.db.begin().await?;
        let app = crate::second_factor::remove_in(&mut tx, id, 0).await?;
        if app {
            let event = Event::new(EventKind::SecondFactorRemoved, &admin.client)
                .user(id)
                .actor(&admin.user.id)
                .reason(EventReason::Admin);
            self.record_in(&mut tx, event).await?;
        }
        let why = Event::new(EventKind::PasskeyRemoved, &admin.client)
            .actor(&admin.user.id)
            .reason(EventReason::Admin);
        let ways_in = self.remove_passkeys_in(&mut tx, id, why).await?;
        // Nothing to remove (reset twice, or from a stale page): nothing
        // to log or tell.
        if app || ways_in > 0 {
            let mail = self.letter(&user.locale, &user.email, crate::Letter::SignInFactorsReset);
            self.enqueue_mail_in(&mut tx, &mail).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Mails the user a password-reset link on an admin's behalf.
    pub async fn admin_send_reset(&self, admin: &Auth, id: &str) -> Result<(), Error> {
        self.require_fresh_second_factor(admin).await?;
        let user = user_store::by_id(&self.db, id)
            .await?
            .ok_or_else(no_such_user)?;
        if user.is_disabled() {
            return Err(Error::of(
                ErrorCode::AccountDisabled,
                Reason::DisabledNoReset,
            ));
        }
        self.send_reset_link(&user, Some(&admin.user.id), &admin.client)
            .await
    }

    /// Ends the user's sessions: one (`session_id`) or all of them.
    /// Returns how many ended.
    pub async fn admin_revoke_sessions(
        &self,
        admin: &Auth,
        id: &str,
        session_id: Option<&str>,
    ) -> Result<u64, Error> {
        self.require_fresh_second_factor(admin).await?;
        let mut tx = self.db.begin().await?;
        user_in(&mut tx, id).await?;
        let now = now();
        let ended = match session_id {
            Some(sid) => sqlx::query(
                "UPDATE sessions SET revoked_at = $1, revoked_reason = 'admin' \
                 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(sid)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected(),
            None => revoke_user_sessions_in(&mut tx, id, None, "admin", now).await?,
        };
        if session_id.is_some() && ended == 0 {
            return Err(Error::of(ErrorCode::NotFound, Reason::NoSuchSession));
        }
        let event = Event::new(EventKind::SessionRevoked, &admin.client)
            .user(id)
            .actor(&admin.user.id)
            .reason(EventReason::Admin)
            .detail(ended.to_string());
        self.record_in(&mut tx, event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(id).await;
        Ok(ended)
    }

    /// Deletes a user for good; the last enabled admin cannot be deleted.
    pub async fn admin_delete_user(&self, admin: &Auth, id: &str) -> Result<(), Error> {
        self.require_fresh_second_factor(admin).await?;
        let mut tx = self.db.begin().await?;
        lock_admins(&mut tx).await?;
        let user = user_in(&mut tx, id).await?;
        keep_an_admin(&mut tx, &user).await?;
        delete_user_in(&mut tx, id).await?;
        let event = Event::new(EventKind::AccountDeleted, &admin.client)
            .user(id)
            .actor(&admin.user.id)
            .detail(user.email.clone());
        self.record_in(&mut tx, event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(id).await;
        Ok(())
    }

    /// The operator's `create-admin`: promotes the account with this email
    /// (enabling and verifying it), or creates one with `password()`.
    /// Returns the admin and whether it was created.
    ///
    /// An existing account whose address was never proven may belong to
    /// someone who signed up with another person's address (and keeps its
    /// password and sessions): promoting it would make them an admin. It is
    /// refused unless `reset`, which also ends its sessions and clears its
    /// password, so only the mailbox's owner can get in (by code or reset
    /// link).
    pub async fn create_admin<F>(
        &self,
        email: &str,
        username: &str,
        reset: bool,
        password: F,
    ) -> Result<(AdminUser, bool), Error>
    where
        F: FnOnce() -> Result<String, Error>,
    {
        let email = validate::email(email)?;
        let username = validate::username(username)?;
        let cli = ClientInfo {
            user_agent: Some("latchkey create-admin".into()),
            ..ClientInfo::default()
        };
        let (mut tx, user, created) = match user_store::by_login(&self.db, &email).await? {
            Some(user) => {
                let mut tx = self.db.begin().await?;
                // Re-read in the transaction the changes below apply in.
                let user = user_in(&mut tx, &user.id).await?;
                if user.email_verified == 0 {
                    if !reset {
                        return Err(Error::detailed(
                            ErrorCode::Forbidden,
                            format!(
                                "{email} has an account whose address was never verified: whoever \
                                 made it may not own the mailbox. Ask the owner to verify it, or run \
                                 again with --reset to end its sessions and clear its password first."
                            ),
                        ));
                    }
                    let ended =
                        revoke_user_sessions_in(&mut tx, &user.id, None, "admin", now()).await?;
                    users_set_in(&mut tx, &user.id, "password_hash = ''").await?;
                    // Whatever else whoever made it could sign in with.
                    let why = Event::new(EventKind::PasskeyRemoved, &cli).reason(EventReason::Cli);
                    self.remove_passkeys_in(&mut tx, &user.id, why).await?;
                    if crate::second_factor::remove_in(&mut tx, &user.id, 0).await? {
                        let removed = Event::new(EventKind::SecondFactorRemoved, &cli)
                            .user(&user.id)
                            .reason(EventReason::Cli);
                        self.record_in(&mut tx, removed).await?;
                    }
                    let event = Event::new(EventKind::SessionRevoked, &cli)
                        .user(&user.id)
                        .reason(EventReason::Cli)
                        .detail(format!("{ended}"));
                    self.record_in(&mut tx, event).await?;
                }
                (tx, user, false)
            }
            // Only a new account needs a password (and the wait for its hash).
            None => {
                let account = self
                    .prepare_account(&email, &username, Some(password()?))
                    .await?;
                let mut tx = self.db.begin().await?;
                let user = account.insert_in(&mut tx, Role::User, &cli).await?;
                let signup = Event::new(EventKind::SignUp, &cli)
                    .user(&user.id)
                    .reason(EventReason::Cli);
                self.record_in(&mut tx, signup).await?;
                (tx, user, true)
            }
        };
        let id = user.id.clone();
        let event = |kind: EventKind| Event::new(kind, &cli).user(&id).reason(EventReason::Cli);
        if user.role != Role::Admin.as_str() {
            users_set_in(&mut tx, &id, role_assignment(Role::Admin)).await?;
            self.record_in(&mut tx, event(EventKind::RoleChanged).detail("admin"))
                .await?;
        }
        if user.is_disabled() {
            users_set_in(&mut tx, &id, "disabled = 0").await?;
            self.record_in(&mut tx, event(EventKind::UserEnabled))
                .await?;
        }
        if user.email_verified == 0 {
            users_set_in(&mut tx, &id, "email_verified = 1").await?;
            self.record_in(&mut tx, event(EventKind::EmailVerified))
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.forget_user(&id).await;
        Ok((self.admin_user(&id).await?, created))
    }
}

/// Serialises every change that could remove an admin: it takes the row
/// locks of all enabled admins (PostgreSQL) or the write lock (SQLite), so
/// two admins demoting each other at once cannot both succeed. Run it
/// first in the transaction, before any read.
async fn lock_admins(tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET updated_at = updated_at WHERE role = 'admin' AND disabled = 0")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Refuses (`last_admin`) when `user` is the only enabled administrator,
/// about to be demoted, disabled or deleted. Call after [`lock_admins`].
async fn keep_an_admin(tx: &mut Transaction<'_, Any>, user: &UserRow) -> Result<(), Error> {
    if user.role != Role::Admin.as_str() || user.is_disabled() {
        return Ok(());
    }
    let (others,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> $1",
    )
    .bind(&user.id)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::from)?;
    if others == 0 {
        return Err(Error::of(ErrorCode::LastAdmin, Reason::LastAdmin));
    }
    Ok(())
}

async fn user_in(tx: &mut Transaction<'_, Any>, id: &str) -> Result<UserRow, Error> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {} FROM users u WHERE u.id = $1",
        user_store::COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::from)?;
    row.ok_or_else(no_such_user)
}

fn role_assignment(role: Role) -> &'static str {
    match role {
        Role::Admin => "role = 'admin'",
        Role::User => "role = 'user'",
    }
}

/// `assignment` is a fixed `column = constant`, never user input.
async fn users_set_in(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    assignment: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "UPDATE users SET {assignment}, updated_at = $1 WHERE id = $2"
    ))
    .bind(now())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::db::like_pattern;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_pattern(" Ada "), "%ada%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
