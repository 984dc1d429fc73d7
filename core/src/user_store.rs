//! The `users` table.

use sqlx::FromRow;

use crate::db::{Db, StoreError};
use crate::model::{Role, User};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    /// 0 or 1.
    pub email_verified: i64,
    /// 0 or 1.
    pub disabled: i64,
    pub created_at: i64,
    /// The language of their mail (`en`, `ko`).
    pub locale: String,
}

impl UserRow {
    pub fn is_disabled(&self) -> bool {
        self.disabled != 0
    }

    pub fn to_user(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            username: self.username.clone(),
            role: Role::parse(&self.role).unwrap_or_default(),
            email_verified: self.email_verified != 0,
            created_at: self.created_at,
            locale: self.locale.clone(),
            has_password: !self.password_hash.is_empty(),
        }
    }
}

/// A `UserRow`'s columns, from `users` aliased `u`.
pub const COLUMNS: &str =
    "u.id, u.email, u.username, u.password_hash, u.role, u.email_verified, u.disabled, u.created_at, u.locale";

pub struct NewUser<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub locale: &'a str,
}

pub async fn insert<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    new: NewUser<'_>,
    now: i64,
) -> Result<UserRow, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO users (id, email, username, password_hash, role, email_verified, disabled, created_at, updated_at, locale) \
         VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6, $7)",
    )
    .bind(&id)
    .bind(new.email)
    .bind(new.username)
    .bind(new.password_hash)
    .bind(new.role.as_str())
    .bind(now)
    .bind(new.locale)
    .execute(executor)
    .await?;
    Ok(UserRow {
        id,
        email: new.email.to_owned(),
        username: new.username.to_owned(),
        password_hash: new.password_hash.to_owned(),
        role: new.role.as_str().to_owned(),
        email_verified: 0,
        disabled: 0,
        created_at: now,
        locale: new.locale.to_owned(),
    })
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Looks a user up by email (if `login` has an '@') or by username.
pub async fn by_login(db: &Db, login: &str) -> Result<Option<UserRow>, StoreError> {
    let column = if login.contains('@') {
        "email"
    } else {
        "username"
    };
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.{column} = $1"
    ))
    .bind(login)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn set_username(db: &Db, id: &str, username: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET username = $1, updated_at = $2 WHERE id = $3")
        .bind(username)
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_email<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
    email: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET email = $1, email_verified = 1, updated_at = $2 WHERE id = $3")
        .bind(email)
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_email_verified(db: &Db, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET email_verified = 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_disabled(db: &Db, id: &str, disabled: bool, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(disabled))
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_locale(db: &Db, id: &str, locale: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET locale = $1, updated_at = $2 WHERE id = $3")
        .bind(locale)
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn count(db: &Db) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&db.pool)
        .await?;
    Ok(n)
}
