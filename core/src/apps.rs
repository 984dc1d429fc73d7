//! Apps that sign their users in through Latchkey (OpenID Connect
//! clients): registering, changing and deleting them, their secrets. The
//! protocol itself is in `oidc`.
//!
//! Redirect URIs are matched exactly, never as patterns: https, or http on
//! a loopback address (a developer's machine, a native app's listener).
//! A confidential app's secret is 256 random bits, shown once, stored as
//! SHA-256 and compared in constant time; or, instead of a secret, it
//! registers public keys and signs assertions (`app_keys`).

use sqlx::FromRow;
use subtle::ConstantTimeEq;

use crate::audit::Event;
use crate::db::StoreError;
use crate::error::{Error, ErrorCode, Reason};
use crate::model::{App, AppSpec, EventKind};
use crate::signing_keys::Alg;
use crate::tokens::{random_token, token_hash};
use crate::{admin::require_admin, now, Auth};

/// The scopes an app may ask for.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// The grants an app may use.
pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];
const MAX_URIS: usize = 10;
const MAX_URI_LEN: usize = 2000;
const MAX_NAME_LEN: usize = 80;

#[derive(Debug, Clone, FromRow)]
pub(crate) struct AppRow {
    pub id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub secret_hash: Option<String>,
    pub scopes: String,
    pub grants: String,
    pub first_party: i64,
    pub id_token_alg: String,
    pub jwks: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AppRow {
    /// An app that can prove who it is: with a secret or with keys.
    pub fn confidential(&self) -> bool {
        self.secret_hash.is_some() || self.jwks.is_some()
    }

    /// The keys of an app that signs assertions (`private_key_jwt`).
    pub fn keys(&self) -> Option<jsonwebtoken::jwk::JwkSet> {
        serde_json::from_str(self.jwks.as_deref()?).ok()
    }

    fn auth_method(&self) -> &'static str {
        match (&self.secret_hash, &self.jwks) {
            (Some(_), _) => "client_secret",
            (None, Some(_)) => "private_key_jwt",
            (None, None) => "none",
        }
    }

    pub fn first_party(&self) -> bool {
        self.first_party != 0
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.split(' ').any(|s| s == scope)
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grants.split(' ').any(|g| g == grant)
    }

    pub fn redirects_to(&self, uri: &str) -> bool {
        self.redirect_uris.split(' ').any(|u| u == uri)
    }

    pub fn signs_out_to(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.split(' ').any(|u| u == uri)
    }

    pub fn id_token_alg(&self) -> Alg {
        Alg::parse(&self.id_token_alg).unwrap_or(Alg::EdDSA)
    }

    /// Whether `secret` is this app's; `false` for a public app.
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret_hash
            .as_deref()
            .is_some_and(|hash| bool::from(hash.as_bytes().ct_eq(token_hash(secret).as_bytes())))
    }

    pub fn to_app(&self) -> App {
        let list = |s: &str| {
            s.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        };
        App {
            client_id: self.id.clone(),
            name: self.name.clone(),
            logo_url: self.logo_url.clone(),
            redirect_uris: list(&self.redirect_uris),
            post_logout_redirect_uris: list(&self.post_logout_redirect_uris),
            confidential: self.confidential(),
            scopes: list(&self.scopes),
            grant_types: list(&self.grants),
            first_party: self.first_party(),
            id_token_alg: self.id_token_alg.clone(),
            auth_method: self.auth_method().to_owned(),
            jwks: self
                .jwks
                .as_deref()
                .and_then(|keys| serde_json::from_str(keys).ok()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const COLUMNS: &str = "id, name, logo_url, redirect_uris, post_logout_redirect_uris, secret_hash, \
                       scopes, grants, first_party, id_token_alg, jwks, created_at, updated_at";

pub(crate) async fn by_id(db: &crate::Db, id: &str) -> Result<Option<AppRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oauth_clients WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::from)?)
}

/// Bad input from an administrator: the console says `reason` in their
/// language; an API client reads the English `detail`, which names the
/// value.
fn invalid(field: &str, reason: Reason, detail: impl Into<String>) -> Error {
    Error {
        detail: Some(detail.into()),
        ..Error::invalid(field, reason)
    }
}

/// Whether `url` names this machine: `localhost` or `127.0.0.1`. Not
/// `[::1]`: a page's CSP cannot name an IPv6 address, so the consent form
/// could not send the browser there.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    matches!(
        url.host(),
        Some(url::Host::Domain("localhost")) | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
    )
}

/// Whether `uri` may receive codes or signed-out users: absolute, no
/// fragment, https or http on a loopback address.
fn check_uri(field: &str, uri: &str) -> Result<(), Error> {
    let bad = |why: &str| invalid(field, Reason::AppAddress, format!("{uri:.100}: {why}"));
    if uri.len() > MAX_URI_LEN || uri.contains(' ') {
        return Err(bad("too long, or has spaces"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("not an absolute URL"))?;
    if url.fragment().is_some() {
        return Err(bad("a redirect URI has no fragment (RFC 6749 §3.1.2)"));
    }
    if uri.contains('*') {
        return Err(bad("redirect URIs are matched exactly; no wildcards"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(bad("use https (http only on a loopback address)")),
    }
}

/// The spec, checked and in storage form.
struct Checked {
    name: String,
    logo_url: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    grants: String,
    first_party: bool,
    id_token_alg: Alg,
    jwks: Option<String>,
}

fn check(spec: &AppSpec) -> Result<Checked, Error> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(Error {
            count: Some(MAX_NAME_LEN as u64),
            ..invalid(
                "name",
                Reason::AppName,
                format!("a name of 1 to {MAX_NAME_LEN} characters"),
            )
        });
    }
    if let Some(logo) = &spec.logo_url {
        check_uri("logo_url", logo)?;
    }
    for (field, list) in [
        ("redirect_uris", &spec.redirect_uris),
        ("post_logout_redirect_uris", &spec.post_logout_redirect_uris),
    ] {
        if list.len() > MAX_URIS {
            return Err(Error {
                count: Some(MAX_URIS as u64),
                ..invalid(
                    field,
                    Reason::AppTooManyAddresses,
                    format!("at most {MAX_URIS}"),
                )
            });
        }
        for uri in list {
            check_uri(field, uri)?;
        }
    }
    for scope in &spec.scopes {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(invalid(
                "scopes",
                Reason::UnknownChoice,
                format!("{scope:.40}: not one of {}", SCOPES.join(" ")),
            ));
        }
    }
    for grant in &spec.grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(
                "grant_types",
                Reason::UnknownChoice,
                format!("{grant:.40}: not one of {}", GRANT_TYPES.join(" ")),
            ));
        }
    }
    let has = |g: &str| spec.grant_types.iter().any(|x| x == g);
    if spec.grant_types.is_empty() {
        return Err(invalid(
            "grant_types",
            Reason::AppNeedsGrant,
            "at least one grant",
        ));
    }
    if has("authorization_code") && spec.redirect_uris.is_empty() {
        return Err(invalid(
            "redirect_uris",
            Reason::AppNeedsRedirect,
            "an app signing users in needs a redirect URI",
        ));
    }
    if has("client_credentials") && !spec.confidential {
        return Err(invalid(
            "grant_types",
            Reason::AppCredentialsNeedSecret,
            "client_credentials needs a confidential app (one with a secret)",
        ));
    }
    if has("refresh_token") && !has("authorization_code") {
        return Err(invalid(
            "grant_types",
            Reason::AppRefreshNeedsCode,
            "refresh_token comes with authorization_code",
        ));
    }
    let id_token_alg = match spec.id_token_alg.as_deref() {
        None => Alg::EdDSA,
        Some(name) => Alg::parse(name)
            .ok_or_else(|| invalid("id_token_alg", Reason::UnknownChoice, "EdDSA or ES256"))?,
    };
    let jwks = match &spec.jwks {
        None => None,
        Some(_) if !spec.confidential => {
            return Err(invalid(
                "jwks",
                Reason::AppKeys,
                "keys are for confidential apps (a public app proves itself with PKCE)",
            ))
        }
        Some(set) if crate::app_keys::has_private_part(set) => {
            return Err(invalid(
                "jwks",
                Reason::AppKeys,
                "public keys only: a key has a private part (\"d\")",
            ))
        }
        Some(set) => {
            let set = crate::app_keys::check_set(set)
                .map_err(|why| invalid("jwks", Reason::AppKeys, why))?;
            Some(serde_json::to_string(&set).map_err(|e| Error::internal().caused_by(e))?)
        }
    };
    let join = |list: &[String]| {
        let mut list = list.to_vec();
        list.dedup();
        list.join(" ")
    };
    Ok(Checked {
        name: name.to_owned(),
        logo_url: spec.logo_url.clone(),
        redirect_uris: join(&spec.redirect_uris),
        post_logout_redirect_uris: join(&spec.post_logout_redirect_uris),
        scopes: join(&spec.scopes),
        grants: join(&spec.grant_types),
        first_party: spec.first_party,
        id_token_alg,
        jwks,
    })
}

fn not_found() -> Error {
    Error {
        detail: Some("No app has this client_id.".into()),
        ..Error::of(ErrorCode::NotFound, Reason::NoSuchApp)
    }
}

impl crate::Apps<'_> {
    /// Every registered app, by name.
    pub async fn list(&self, admin: &Auth) -> Result<Vec<App>, Error> {
        require_admin(admin)?;
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM oauth_clients ORDER BY name, id"
        ))
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(rows.iter().map(AppRow::to_app).collect())
    }

    pub async fn get(&self, admin: &Auth, client_id: &str) -> Result<App, Error> {
        require_admin(admin)?;
        Ok(by_id(&self.db, client_id)
            .await?
            .ok_or_else(not_found)?
            .to_app())
    }

    /// Registers an app; a confidential one's secret is returned here and
    /// never again.
    pub async fn register(
        &self,
        admin: &Auth,
        spec: &AppSpec,
    ) -> Result<(App, Option<String>), Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let checked = check(spec)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        // An app with keys signs assertions instead of sending a secret.
        let secret = (spec.confidential && checked.jwks.is_none()).then(random_token);
        let now = now();
        let mut tx = self.db.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO oauth_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
        ))
        .bind(&id)
        .bind(&checked.name)
        .bind(&checked.logo_url)
        .bind(&checked.redirect_uris)
        .bind(&checked.post_logout_redirect_uris)
        .bind(secret.as_deref().map(token_hash))
        .bind(&checked.scopes)
        .bind(&checked.grants)
        .bind(i64::from(checked.first_party))
        .bind(checked.id_token_alg.name())
        .bind(&checked.jwks)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        self.record_app_in(&mut tx, admin, EventKind::AppRegistered, &checked.name)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        let app = by_id(&self.db, &id).await?.ok_or_else(not_found)?.to_app();
        Ok((app, secret))
    }

    /// Changes an app. Whether it is confidential does not change here: a
    /// new secret comes from `rotate_secret`.
    pub async fn update(
        &self,
        admin: &Auth,
        client_id: &str,
        spec: &AppSpec,
    ) -> Result<App, Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let current = by_id(&self.db, client_id).await?.ok_or_else(not_found)?;
        if spec.confidential != current.confidential() {
            return Err(invalid(
                "confidential",
                Reason::AppKindFixed,
                "an app stays public or confidential; register a new one to change it",
            ));
        }
        if spec.jwks.is_some() != current.jwks.is_some() {
            return Err(invalid(
                "jwks",
                Reason::AppKindFixed,
                "an app keeps its way of proving itself (a secret or keys); register a new one to change it",
            ));
        }
        let checked = check(spec)?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE oauth_clients SET name = $1, logo_url = $2, redirect_uris = $3, \
             post_logout_redirect_uris = $4, scopes = $5, grants = $6, first_party = $7, \
             id_token_alg = $8, jwks = $9, updated_at = $10 WHERE id = $11",
        )
        .bind(&checked.name)
        .bind(&checked.logo_url)
        .bind(&checked.redirect_uris)
        .bind(&checked.post_logout_redirect_uris)
        .bind(&checked.scopes)
        .bind(&checked.grants)
        .bind(i64::from(checked.first_party))
        .bind(checked.id_token_alg.name())
        .bind(&checked.jwks)
        .bind(now())
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        self.record_app_in(&mut tx, admin, EventKind::AppChanged, &checked.name)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(by_id(&self.db, client_id)
            .await?
            .ok_or_else(not_found)?
            .to_app())
    }

    /// A new secret for a confidential app, returned once; the old one
    /// stops working at once.
    pub async fn rotate_secret(&self, admin: &Auth, client_id: &str) -> Result<String, Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let current = by_id(&self.db, client_id).await?.ok_or_else(not_found)?;
        if current.secret_hash.is_none() {
            return Err(invalid(
                "confidential",
                Reason::AppNoSecret,
                "this app has no secret (it is public, or proves itself with keys)",
            ));
        }
        let secret = random_token();
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE oauth_clients SET secret_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(token_hash(&secret))
            .bind(now())
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.record_app_in(&mut tx, admin, EventKind::AppSecretRotated, &current.name)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(secret)
    }

    /// Deletes an app and everything it was granted (its refresh tokens
    /// stop working; its access tokens expire within minutes).
    pub async fn delete(&self, admin: &Auth, client_id: &str) -> Result<(), Error> {
        require_admin(admin)?;
        self.require_fresh_second_factor(admin).await?;
        let current = by_id(&self.db, client_id).await?.ok_or_else(not_found)?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "DELETE FROM oauth_refresh_tokens WHERE grant_id IN \
             (SELECT id FROM oauth_grants WHERE client_id = $1)",
        )
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        for table in ["oauth_codes", "oauth_consents", "oauth_grants"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        }
        sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.record_app_in(&mut tx, admin, EventKind::AppDeleted, &current.name)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn record_app_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        admin: &Auth,
        kind: EventKind,
        name: &str,
    ) -> Result<(), Error> {
        let event = Event::new(kind, &admin.client)
            .actor(&admin.user.id)
            .detail(name);
        self.record_in(tx, event).await?;
        Ok(())
    }
}
