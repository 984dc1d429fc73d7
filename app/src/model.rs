//! Data shared by the server and the browser: the wire types, plus the one
//! that carries a UI error.

pub use latchkey_types::model::*;
use serde::{Deserialize, Serialize};

/// The live password meter's reading: the policy's verdict plus an estimate
/// of how hard the password is to guess (zxcvbn's 0–4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Strength {
    pub score: u8,
    /// Whether sign-up, reset and change would accept it.
    pub acceptable: bool,
    /// Why it is refused, or zxcvbn's warning (English).
    pub message: Option<String>,
    /// zxcvbn's advice (English).
    pub suggestions: Vec<String>,
    /// The policy's refusal, as sign-up would answer it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<crate::error::AppError>,
    /// zxcvbn's warning by name (`this_is_a_top10_password`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// zxcvbn's advice by name (`add_another_word_or_two`, …).
    #[serde(default)]
    pub tips: Vec<String>,
}

#[cfg(feature = "ssr")]
impl From<latchkey_core::password_policy::Estimate> for Strength {
    fn from(estimate: latchkey_core::password_policy::Estimate) -> Self {
        let acceptable = estimate.acceptable();
        let refused = estimate.refused.map(crate::error::AppError::from);
        Self {
            score: estimate.score,
            acceptable,
            message: match &refused {
                Some(err) => Some(err.message.clone()),
                None => estimate.warning_text,
            },
            suggestions: estimate.suggestions,
            refused,
            warning: estimate.warning,
            tips: estimate.tips,
        }
    }
}
