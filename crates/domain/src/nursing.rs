//! Home nursing (互联网+护理): the rules for ordering a service, choosing a
//! nurse, and the life of an order from payment to the completed visit.
//!
//! - An order rests on an assessment by the hospital: a recent visit on
//!   record (completed consultation, attended appointment) or an explicit
//!   assessment by one of its doctors or nurses. Without one it is refused.
//! - Only a nurse with enough years of practice and the qualification the
//!   service needs is assigned.
//! - A visit is complete only with check-in and check-out (times and
//!   places) and a record of what was done.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode, Role};

const HOUR_MS: i64 = 3_600_000;

/// Hospital-wide rules for home nursing (settings file `[nursing]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// A completed consultation or attended appointment at the hospital this
    /// many days back counts as the assessment an order needs.
    pub assessment_days: i64,
    /// Explicit assessments stay valid this many days.
    pub assessment_valid_days: i64,
    /// The least years of practice any home-visiting nurse has (a service
    /// may ask for more). The national pilot asks for 5.
    pub min_nurse_years: i64,
    /// Orders may be placed for a window starting at least this many hours ahead …
    pub min_lead_hours: i64,
    /// … and at most this many days ahead.
    pub max_days_ahead: i64,
    /// Longest time window a patient may give.
    pub max_window_hours: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            assessment_days: 30,
            assessment_valid_days: 30,
            min_nurse_years: 5,
            min_lead_hours: 2,
            max_days_ahead: 14,
            max_window_hours: 4,
        }
    }
}

/// Qualifications a hospital verifies for its nurses.
pub const QUALIFICATIONS: [(&str, &str, &str); 6] = [
    ("wound_care", "伤口造口护理", "Wound and stoma care"),
    ("picc", "PICC 维护", "PICC line maintenance"),
    ("catheter", "导尿管护理", "Urinary catheter care"),
    ("maternal_newborn", "母婴护理", "Perinatal and newborn care"),
    ("geriatric", "老年护理", "Geriatric care"),
    ("injection", "注射与输液", "Injections and infusions"),
];

pub fn parse_qualification(s: &str) -> Result<&'static str, DomainError> {
    let s = s.trim();
    QUALIFICATIONS
        .iter()
        .find(|(code, zh, _)| *code == s || *zh == s)
        .map(|(code, _, _)| *code)
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::InvalidQualification,
                format!(
                    "Unknown qualification '{s}'; use one of: {}.",
                    QUALIFICATIONS.map(|q| q.0).join(", ")
                ),
            )
            .on("qualification")
        })
}

/// A catalogue entry as an org admin enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub code: String,
    pub name: String,
    pub fee_fen: i64,
    pub duration_minutes: i64,
    pub min_years: i64,
    pub required_qualification: Option<&'static str>,
}

impl ServiceSpec {
    pub fn parse(
        code: &str,
        name: &str,
        fee_fen: i64,
        duration_minutes: i64,
        min_years: i64,
        required_qualification: Option<&str>,
        policy: &Policy,
    ) -> Result<Self, DomainError> {
        let code = code.trim();
        if code.is_empty()
            || code.len() > 40
            || !code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(DomainError::new(
                ErrorCode::InvalidServiceCode,
                "The service code is 1-40 lower-case letters, digits or '_', e.g. picc_maintenance.",
            )
            .on("code"));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(DomainError::new(
                ErrorCode::InvalidName,
                "The service name is 1-60 characters.",
            )
            .on("name"));
        }
        if !(0..=10_000_000).contains(&fee_fen) {
            return Err(DomainError::new(
                ErrorCode::InvalidServiceFee,
                "The fee is in fen, from 0 to 10,000,000 (¥100,000).",
            )
            .on("fee_fen"));
        }
        if !(15..=480).contains(&duration_minutes) {
            return Err(DomainError::new(
                ErrorCode::InvalidDuration,
                "A home visit lasts 15 to 480 minutes.",
            )
            .on("duration_minutes"));
        }
        if min_years < policy.min_nurse_years || min_years > 40 {
            return Err(DomainError::new(
                ErrorCode::InvalidMinYears,
                format!(
                    "Home nursing needs at least {} years of practice (the hospital's setting); give {}-40.",
                    policy.min_nurse_years, policy.min_nurse_years
                ),
            )
            .on("min_years"));
        }
        let required_qualification = match required_qualification.map(str::trim) {
            Some(q) if !q.is_empty() => Some(parse_qualification(q)?),
            _ => None,
        };
        Ok(Self {
            code: code.into(),
            name: name.into(),
            fee_fen,
            duration_minutes,
            min_years,
            required_qualification,
        })
    }
}

/// Whole years between `since` and `today`.
pub fn years_of_practice(since: NaiveDate, today: NaiveDate) -> i64 {
    i64::from(crate::identity::age_on(since, today))
}

/// May this practitioner be assigned a home visit for this service?
pub fn check_nurse(
    role: Role,
    practising_since: NaiveDate,
    today: NaiveDate,
    held: &[String],
    min_years: i64,
    required_qualification: Option<&str>,
) -> Result<(), DomainError> {
    if role != Role::Nurse {
        return Err(DomainError::new(
            ErrorCode::NotANurse,
            "Home nursing visits are made by nurses only.",
        )
        .on("nurse_id"));
    }
    let years = years_of_practice(practising_since, today);
    if years < min_years {
        return Err(DomainError::new(
            ErrorCode::NurseNotQualified,
            format!(
                "This nurse has {years} years of practice; the service needs at least {min_years}."
            ),
        )
        .on("nurse_id"));
    }
    if let Some(q) = required_qualification
        && !held.iter().any(|h| h == q)
    {
        return Err(DomainError::new(
            ErrorCode::NurseNotQualified,
            format!("This service needs the '{q}' qualification, which this nurse does not hold at the hospital."),
        )
        .on("nurse_id"));
    }
    Ok(())
}

/// What an order rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentKind {
    Consultation,
    Appointment,
    Assessment,
}

impl AssessmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentKind::Consultation => "consultation",
            AssessmentKind::Appointment => "appointment",
            AssessmentKind::Assessment => "assessment",
        }
    }
}

/// The order needs an assessment by the hospital; `found` is the first one on record.
pub fn require_assessment<T>(found: Option<T>, policy: &Policy) -> Result<T, DomainError> {
    found.ok_or_else(|| {
        DomainError::new(
            ErrorCode::NursingAssessmentRequired,
            format!(
                "Home nursing needs an assessment by this hospital first: a completed online consultation or an attended appointment there in the last {} days, or an assessment by one of its doctors or nurses.",
                policy.assessment_days
            ),
        )
    })
}

/// Parse a local (Asia/Shanghai) time `YYYY-MM-DDTHH:MM` to UTC ms.
pub fn parse_local_time(s: &str, field: &'static str) -> Result<i64, DomainError> {
    let s = s.trim();
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .map_err(|_| {
            DomainError::new(
                ErrorCode::InvalidVisitTime,
                "Give the time as YYYY-MM-DDTHH:MM (Beijing time).",
            )
            .on(field)
        })?;
    Shanghai
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            DomainError::new(ErrorCode::InvalidVisitTime, "No such local time.").on(field)
        })
}

/// The visit window: in the future (lead time), not too far, not too long.
pub fn check_window(start: i64, end: i64, now: i64, policy: &Policy) -> Result<(), DomainError> {
    if end <= start {
        return Err(DomainError::new(
            ErrorCode::InvalidVisitWindow,
            "The end of the visit window must be after its start.",
        )
        .on("window_end"));
    }
    if end - start > policy.max_window_hours * HOUR_MS {
        return Err(DomainError::new(
            ErrorCode::InvalidVisitWindow,
            format!(
                "A visit window is at most {} hours long.",
                policy.max_window_hours
            ),
        )
        .on("window_end"));
    }
    if start < now + policy.min_lead_hours * HOUR_MS {
        return Err(DomainError::new(
            ErrorCode::InvalidVisitWindow,
            format!(
                "The visit window must start at least {} hours from now.",
                policy.min_lead_hours
            ),
        )
        .on("window_start"));
    }
    if start > now + policy.max_days_ahead * 24 * HOUR_MS {
        return Err(DomainError::new(
            ErrorCode::InvalidVisitWindow,
            format!(
                "Visits can be ordered up to {} days ahead.",
                policy.max_days_ahead
            ),
        )
        .on("window_start"));
    }
    Ok(())
}

/// A home address: 6-200 characters. Shown to others than the nurse masked.
pub fn parse_address(s: &str) -> Result<String, DomainError> {
    let s = s.trim();
    let n = s.chars().count();
    if !(6..=200).contains(&n) {
        return Err(DomainError::new(
            ErrorCode::InvalidAddress,
            "Give the full address where the nurse should come (6-200 characters).",
        )
        .on("address"));
    }
    Ok(s.to_string())
}

/// The first six characters (province/city/district) and stars.
pub fn mask_address(address: &str) -> String {
    let head: String = address.chars().take(6).collect();
    format!("{head}****")
}

/// A place in WGS-84, stored as micro-degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub lat_e6: i64,
    pub lng_e6: i64,
}

impl Location {
    pub fn parse(lat: f64, lng: f64) -> Result<Self, DomainError> {
        if !lat.is_finite() || !lng.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(DomainError::new(
                ErrorCode::InvalidLocation,
                "Latitude is from -90 to 90.",
            )
            .on("lat"));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(DomainError::new(
                ErrorCode::InvalidLocation,
                "Longitude is from -180 to 180.",
            )
            .on("lng"));
        }
        Ok(Self {
            lat_e6: (lat * 1e6).round() as i64,
            lng_e6: (lng * 1e6).round() as i64,
        })
    }
}

/// What the nurse records at check-out: required, 4-2000 characters.
pub fn parse_record(s: &str) -> Result<String, DomainError> {
    let s = s.trim();
    let n = s.chars().count();
    if !(4..=2000).contains(&n) {
        return Err(DomainError::new(
            ErrorCode::NursingRecordRequired,
            "Write what was done at the visit (4-2000 characters) before checking out.",
        )
        .on("record"));
    }
    Ok(s.to_string())
}

pub const SAFETY_KINDS: [&str; 4] = [
    "patient_deterioration",
    "violence_or_threat",
    "unsafe_environment",
    "other",
];

pub fn parse_safety_kind(s: &str) -> Result<&'static str, DomainError> {
    SAFETY_KINDS
        .iter()
        .find(|k| **k == s.trim())
        .copied()
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::InvalidKind,
                format!("The alert kind is one of: {}.", SAFETY_KINDS.join(", ")),
            )
            .on("kind")
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    AwaitingPayment,
    Paid,
    Assigned,
    Accepted,
    InVisit,
    Completed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::AwaitingPayment,
        Status::Paid,
        Status::Assigned,
        Status::Accepted,
        Status::InVisit,
        Status::Completed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingPayment => "awaiting_payment",
            Status::Paid => "paid",
            Status::Assigned => "assigned",
            Status::Accepted => "accepted",
            Status::InVisit => "in_visit",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(ErrorCode::InvalidStatus, format!("Unknown status '{s}'."))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The payment module reports the order paid.
    Pay,
    /// The hospital (or a nurse taking it) assigns a nurse.
    Assign,
    /// The assigned nurse accepts.
    Accept,
    /// The assigned nurse gives it back to the hospital.
    Decline,
    CheckIn,
    CheckOut,
    /// The patient cancels before the nurse arrives.
    Cancel,
}

/// The order's state machine: where `action` takes an order in `from`.
pub fn next(from: Status, action: Action) -> Result<Status, DomainError> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (S::AwaitingPayment, A::Pay) => S::Paid,
        (S::Paid, A::Assign) => S::Assigned,
        (S::Assigned, A::Accept) => S::Accepted,
        (S::Assigned | S::Accepted, A::Decline) => S::Paid,
        (S::Accepted, A::CheckIn) => S::InVisit,
        (S::InVisit, A::CheckOut) => S::Completed,
        (S::AwaitingPayment | S::Paid | S::Assigned | S::Accepted, A::Cancel) => S::Cancelled,
        _ => {
            return Err(DomainError::new(
                ErrorCode::IllegalTransition,
                format!(
                    "This order is {}; that step is not possible now.",
                    from.as_str()
                ),
            ));
        }
    };
    Ok(to)
}

/// One review per visit, 1-5 stars, only once completed.
pub fn check_review(status: Status, rating: i64) -> Result<(), DomainError> {
    if status != Status::Completed {
        return Err(DomainError::new(
            ErrorCode::NotReviewable,
            "A home visit can be reviewed once it is completed.",
        ));
    }
    if !(1..=5).contains(&rating) {
        return Err(DomainError::new(ErrorCode::InvalidRating, "Give 1 to 5 stars.").on("rating"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_order_without_an_assessment_is_refused_with_a_clear_message() {
        let e = require_assessment::<()>(None, &Policy::default()).unwrap_err();
        assert_eq!(e.code, "nursing_assessment_required");
        assert!(e.message.contains("30 days"), "{}", e.message);
        assert_eq!(require_assessment(Some(7), &Policy::default()), Ok(7));
    }

    #[test]
    fn a_nurse_needs_the_years_and_the_qualification() {
        let today = d("2026-11-25");
        let picc = vec!["picc".to_string()];
        assert!(check_nurse(Role::Nurse, d("2011-07-01"), today, &picc, 5, Some("picc")).is_ok());
        let e =
            check_nurse(Role::Nurse, d("2023-07-01"), today, &picc, 5, Some("picc")).unwrap_err();
        assert_eq!(e.code, "nurse_not_qualified");
        assert!(e.message.contains("3 years"), "{}", e.message);
        let e = check_nurse(Role::Nurse, d("2011-07-01"), today, &[], 5, Some("picc")).unwrap_err();
        assert_eq!(e.code, "nurse_not_qualified");
        assert!(check_nurse(Role::Nurse, d("2011-07-01"), today, &[], 5, None).is_ok());
        assert_eq!(
            check_nurse(Role::Doctor, d("2000-07-01"), today, &picc, 5, None)
                .unwrap_err()
                .code,
            "not_a_nurse"
        );
    }

    #[test]
    fn a_service_cannot_ask_for_fewer_years_than_the_hospital_setting() {
        let p = Policy::default();
        assert!(ServiceSpec::parse("picc", "PICC维护", 15000, 60, 5, Some("picc"), &p).is_ok());
        let e = ServiceSpec::parse("picc", "PICC维护", 15000, 60, 2, None, &p).unwrap_err();
        assert_eq!(e.code, "invalid_min_years");
        let e = ServiceSpec::parse("PICC!", "x", 1, 60, 5, None, &p).unwrap_err();
        assert_eq!(e.field, Some("code"));
        let e = ServiceSpec::parse("a", "x", -1, 60, 5, None, &p).unwrap_err();
        assert_eq!(e.code, "invalid_service_fee");
        let e = ServiceSpec::parse("a", "x", 1, 60, 5, Some("magic"), &p).unwrap_err();
        assert_eq!(e.code, "invalid_qualification");
    }

    #[test]
    fn the_window_is_ahead_bounded_and_short() {
        let p = Policy::default();
        let now = 1_000_000_000_000;
        let h = HOUR_MS;
        assert!(check_window(now + 3 * h, now + 5 * h, now, &p).is_ok());
        assert!(
            check_window(now + h, now + 2 * h, now, &p).is_err(),
            "too soon"
        );
        assert!(
            check_window(now + 3 * h, now + 9 * h, now, &p).is_err(),
            "too long"
        );
        assert!(
            check_window(now + 5 * h, now + 3 * h, now, &p).is_err(),
            "backwards"
        );
        assert!(check_window(now + 15 * 24 * h, now + 15 * 24 * h + h, now, &p).is_err());
    }

    #[test]
    fn local_times_are_beijing_time() {
        let ms = parse_local_time("2026-11-27T09:00", "window_start").unwrap();
        assert_eq!(ms, 1_795_741_200_000); // 2026-11-27 01:00 UTC
        assert!(parse_local_time("tomorrow", "window_start").is_err());
    }

    #[test]
    fn addresses_are_masked_and_locations_checked() {
        assert_eq!(
            mask_address("浙江省杭州市西湖区文三路90号"),
            "浙江省杭州市****"
        );
        assert!(parse_address("短").is_err());
        let l = Location::parse(30.274_1, 120.155_1).unwrap();
        assert_eq!(l.lat_e6, 30_274_100);
        assert!(Location::parse(91.0, 0.0).is_err());
        assert!(Location::parse(0.0, 181.0).is_err());
        assert!(Location::parse(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn the_order_moves_only_along_its_path() {
        use Action as A;
        use Status as S;
        let mut s = S::AwaitingPayment;
        for a in [A::Pay, A::Assign, A::Accept, A::CheckIn, A::CheckOut] {
            s = next(s, a).unwrap();
        }
        assert_eq!(s, S::Completed);
        assert!(next(S::AwaitingPayment, A::Assign).is_err(), "unpaid");
        assert!(next(S::Paid, A::CheckIn).is_err(), "not accepted");
        assert!(next(S::InVisit, A::Cancel).is_err(), "nurse is there");
        assert!(next(S::Completed, A::Pay).is_err());
        assert_eq!(next(S::Accepted, A::Decline), Ok(S::Paid));
    }

    #[test]
    fn check_out_needs_a_record_and_reviews_need_a_completed_visit() {
        assert_eq!(
            parse_record("  ").unwrap_err().code,
            "nursing_record_required"
        );
        assert!(parse_record("更换PICC敷料，导管通畅").is_ok());
        assert!(check_review(Status::Completed, 5).is_ok());
        assert_eq!(
            check_review(Status::InVisit, 5).unwrap_err().code,
            "not_reviewable"
        );
        assert_eq!(
            check_review(Status::Completed, 6).unwrap_err().code,
            "invalid_rating"
        );
    }
}
