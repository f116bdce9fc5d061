//! A refusal of the domain: an [`ErrorCode`] and the call site's own sentence.

use std::fmt;

use chrono::NaiveDate;

use crate::ErrorCode;

/// A rule of the domain was broken by the input. `code` is stable and says
/// what went wrong in either language; `message` is the call site's own
/// English sentence, with the facts of this case (shown as `detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    /// The input field at fault, when there is one.
    pub field: Option<&'static str>,
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}

/// A calendar date written `YYYY-MM-DD` (surrounding blanks ignored), or
/// `invalid_date` on `field`. The one date parser for input and stored rows.
pub fn parse_date(s: &str, field: &'static str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| DomainError::new(ErrorCode::InvalidDate, "Dates are YYYY-MM-DD.").on(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_refused_on_their_field_not_guessed() {
        assert_eq!(
            parse_date(" 2026-03-01 ", "date").unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        for bad in ["", "2026-02-30", "01/03/2026", "2026-3-1x", "garbage"] {
            let e = parse_date(bad, "practising_since").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDate, "{bad}");
            assert_eq!(e.field, Some("practising_since"));
        }
    }
}
