//! Sign-up that does not tell who has an account (`SIGNUP_HIDE_EXISTING`).
//!
//! By default a taken address answers 409 `email_taken`, as users expect.
//! With the switch on, a taken address answers exactly like a free one: no
//! session yet, "we sent a code to finish", the same cooldown and limits,
//! a stored code (a decoy nobody is mailed, for a taken address) and the
//! same answers to wrong codes. The owner of the taken address is mailed
//! "you already have an account" instead. A free address gets its account
//! and a code; the code finishes the sign-up only together with the token
//! this sign-up was given, so someone who reads the mailbox but did not
//! choose the password cannot finish it (and a squatter who chose the
//! password cannot, without the mailbox).

use super::audit::{record_in, Event};
use super::codes::Purpose;
use super::db::StoreError;
use super::letters;
use super::sessions::Issued;
use super::tokens::{random_token, well_formed};
use super::users::{self, UserRow};
use super::{ClientInfo, Services};
use crate::error::{AppError, ErrorCode, Reason};
use crate::model::{EventKind, Role, User};

/// What a sign-up answers.
pub enum SignUp {
    /// The account exists and this is its first session.
    Started(User, Issued),
    /// A code is on its way (if the address was free): finish with it.
    Pending(PendingSignup),
}

/// A sign-up waiting for its code.
#[derive(Debug, Clone)]
pub struct PendingSignup {
    /// The address as stored (trimmed, lower-cased, IDNA).
    pub email: String,
    /// Goes back with the code; 256-bit, never stored (the code's HMAC
    /// covers it).
    pub token: String,
}

impl Services {
    /// The front door of sign-up: the answer the operator chose.
    pub async fn sign_up(
        &self,
        email: &str,
        username: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<SignUp, AppError> {
        if !self.config.signup_hide_existing {
            let (user, issued) = self.signup(email, username, password, client).await?;
            return Ok(SignUp::Started(user, issued));
        }
        if let Some(ip) = client.limit_key() {
            self.limit(
                &format!("rl:signup:ip:{ip}"),
                self.config.signups_per_hour_per_ip,
                3600,
            )
            .await?;
        }
        // Checked and hashed either way: the work does not depend on the
        // address.
        let account = self.prepare_account(email, username, password).await?;
        let email = account.email().to_owned();
        let mut tx = self.db.begin().await?;
        let created = match account.insert_in(&mut tx, Role::User, client).await {
            Ok(user) => Some(user),
            // The address is taken: the username alone decides the answer,
            // as it would for a free address.
            Err(err) if err.code == ErrorCode::EmailTaken => {
                if users::by_login(&self.db, account.username())
                    .await?
                    .is_some()
                {
                    return Err(
                        AppError::of(ErrorCode::UsernameTaken, Reason::UsernameTaken)
                            .on("username"),
                    );
                }
                None
            }
            Err(err) => return Err(err),
        };
        // Only an answer that will be "code sent" starts the cooldown; a
        // refused one (cooldown, limits) rolls the new account back, so
        // both sides answer it alike.
        let token = random_token();
        let code = self
            .issue_code(Purpose::SignUp, &email, Some(&token), client)
            .await?;
        if let Some(user) = &created {
            record_in(
                &mut tx,
                Event::new(EventKind::SignUp, client).user(&user.id),
            )
            .await?;
            tx.commit().await.map_err(StoreError::from)?;
        }
        // The mail goes after the answer, so its work takes no visible time.
        let services = self.clone();
        let (address, client) = (email.clone(), client.clone());
        tokio::spawn(async move {
            let sent = match created {
                Some(user) => {
                    let owner = (user.id.as_str(), user.locale.as_str());
                    services
                        .mail_code(Purpose::SignUp, &address, owner, &code, &client)
                        .await
                }
                None => services.tell_owner(&address).await,
            };
            if let Err(err) = sent {
                tracing::warn!(code = ?err.code, "sign-up: mail not queued");
            }
        });
        Ok(SignUp::Pending(PendingSignup { email, token }))
    }

    /// Finishes a pending sign-up: the code mailed to the address and the
    /// token the sign-up answered with. The address is then verified and
    /// the first session opens.
    pub async fn finish_signup(
        &self,
        email: &str,
        code: &str,
        token: &str,
        client: &ClientInfo,
    ) -> Result<(User, Issued), AppError> {
        let email = super::validate::email(email)?;
        let expired = || AppError::of(ErrorCode::CodeExpired, Reason::CodeExpired).on("code");
        let account = users::by_login(&self.db, &email).await?;
        let user_id = account.as_ref().map(|u| u.id.as_str());
        // A malformed token still spends a try, like a wrong one.
        let token = if well_formed(token) { token } else { "" };
        self.check_bound_code(Purpose::SignUp, &email, user_id, Some(token), code, client)
            .await?;
        let user = account.ok_or_else(expired)?;
        if user.is_disabled() {
            return Err(super::accounts::account_disabled());
        }
        // The code proved the mailbox, the token that whoever chose the
        // password is here: the password stays.
        self.first_proof(&user.id, None, false, client).await?;
        let user = UserRow {
            email_verified: 1,
            ..user
        };
        let issued = self.start_session(&user, client).await?;
        Ok((user.to_user(), issued))
    }

    /// Mails an account's owner that someone tried to sign up with it.
    async fn tell_owner(&self, email: &str) -> Result<(), AppError> {
        let Some(owner) = users::by_login(&self.db, email).await? else {
            // Held by a live revert link, not an account: nobody to tell.
            return Ok(());
        };
        self.enqueue_mail(letters::already_registered(
            letters::locale_of(&owner.locale),
            &self.config.product,
            email,
            &self.config.public_url,
        ))
        .await
    }
}
