//! What each mail says, as data. The words (in the account's language, as
//! text and HTML) come from a [`Letters`] the edge supplies: the UI crate
//! writes them from the same locale files as its pages.

use crate::codes::Purpose;
use crate::outbox::Email;

/// One mail Latchkey sends, with what it must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Letter<'a> {
    /// A one-time code, valid for `minutes`.
    Code {
        purpose: Purpose,
        code: &'a str,
        minutes: u64,
    },
    /// Codes for this address were paused after too many wrong guesses.
    CodeGuessing,
    /// A password-reset link that works once, for `minutes`.
    Reset {
        link: &'a str,
        minutes: i64,
    },
    PasswordChanged,
    AccountDeleted,
    /// To the old address: the address moved to `new_email`; `link` undoes
    /// it for `days`.
    EmailChanged {
        new_email: &'a str,
        link: &'a str,
        days: i64,
    },
    /// The address is back; sign in by code at `signin_link`.
    EmailReverted {
        signin_link: &'a str,
    },
    /// Someone tried to sign up with an address that has an account.
    AlreadyRegistered {
        public_url: &'a str,
    },
    /// An authenticator app was added (`true`) or removed.
    AuthenticatorChanged {
        added: bool,
    },
    /// A passkey was added to the account, or removed from it.
    PasskeyChanged {
        added: bool,
    },
    /// An account at another provider was linked: a new way in.
    IdentityLinked {
        /// The provider's name ("Kakao").
        provider: &'a str,
    },
    /// An administrator removed every second factor and passkey.
    SignInFactorsReset,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRenewed,
    /// A recovery code was used to sign in; `left` remain.
    RecoveryCodeUsed {
        left: u32,
    },
    /// Too many wrong second factors after a right first one: the second
    /// step is paused for the day, and someone may know the password.
    SecondFactorGuessing,
    /// To each administrator: every delivery to the webhook endpoint at
    /// `url` failed for a day, and it was turned off.
    WebhookDisabled {
        url: &'a str,
    },
}

/// Writes letters. `locale` is the account's language tag (`en`, `ko`;
/// anything else gets the default language).
pub trait Letters: Send + Sync {
    fn write(&self, locale: &str, product: &str, to: &str, letter: Letter<'_>) -> Email;
}

impl crate::Services {
    /// `letter` to `to`, in `locale`, from this deployment.
    pub(crate) fn letter(&self, locale: &str, to: &str, letter: Letter<'_>) -> Email {
        self.letters.write(locale, &self.config.product, to, letter)
    }
}
