//! Online consultation: the lifecycle state machine and the rules of online
//! care that decide who may consult whom (follow-up only, guardians for young
//! children, experienced doctors), the tiered path (GP, specialist, expert's
//! studio), chat message limits and reviews.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::identity::{Title, age_on, may_practise_online};
use crate::{DomainError, ErrorCode, Role};

/// Where a consultation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Requested,
    Accepted,
    InProgress,
    Completed,
    Declined,
    Cancelled,
    /// The doctor did not answer within the configured time; the fee is refunded.
    Expired,
    /// The doctor ended the consultation because the case needs an in-person visit.
    ReferredOffline,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Requested,
        Status::Accepted,
        Status::InProgress,
        Status::Completed,
        Status::Declined,
        Status::Cancelled,
        Status::Expired,
        Status::ReferredOffline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Accepted => "accepted",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Declined => "declined",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::ReferredOffline => "referred_offline",
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

    /// No further transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            Status::Requested | Status::Accepted | Status::InProgress
        )
    }

    /// Chat is open while the doctor has taken the case and it has not ended.
    pub fn chat_open(self) -> bool {
        matches!(self, Status::Accepted | Status::InProgress)
    }
}

/// What someone does to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Decline,
    Start,
    Complete,
    Cancel,
    Expire,
    ReferOffline,
    Escalate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Decline => "decline",
            Action::Start => "start",
            Action::Complete => "complete",
            Action::Cancel => "cancel",
            Action::Expire => "expire",
            Action::ReferOffline => "refer_offline",
            Action::Escalate => "escalate",
        }
    }

    /// Who may take this action: the assigned doctor, the patient side
    /// (patient or guardian), or the platform itself (jobs).
    pub fn actor(self) -> Actor {
        match self {
            Action::Cancel => Actor::PatientSide,
            Action::Expire => Actor::System,
            _ => Actor::Doctor,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Doctor,
    PatientSide,
    System,
}

/// The state machine: the status after `action`, or a refusal with a code
/// that says why.
pub fn transition(from: Status, action: Action) -> Result<Status, DomainError> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (S::Requested, A::Accept) => S::Accepted,
        (S::Requested, A::Decline) => S::Declined,
        (S::Requested, A::Expire) => S::Expired,
        (S::Requested | S::Accepted, A::Cancel) => S::Cancelled,
        (S::Accepted, A::Start) => S::InProgress,
        (S::Accepted | S::InProgress, A::Complete) => S::Completed,
        (S::Accepted | S::InProgress, A::ReferOffline) => S::ReferredOffline,
        // Escalating hands the case (and its history) to the next tier; this
        // consultation is complete.
        (S::Accepted | S::InProgress, A::Escalate) => S::Completed,
        (from, action) => {
            let code = if from.is_terminal() {
                ErrorCode::ConsultationClosed
            } else {
                ErrorCode::IllegalTransition
            };
            return Err(DomainError::new(
                code,
                format!(
                    "Cannot {} a consultation that is {}{}.",
                    action.as_str().replace('_', " "),
                    from.as_str().replace('_', " "),
                    if from.is_terminal() {
                        "; it has ended"
                    } else {
                        ""
                    }
                ),
            ));
        }
    };
    Ok(to)
}

/// The tiered path: general practitioner first, then a specialist, then an
/// expert's studio (名医工作室).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Gp,
    Specialist,
    ExpertStudio,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Gp => "gp",
            Tier::Specialist => "specialist",
            Tier::ExpertStudio => "expert_studio",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "gp" => Ok(Tier::Gp),
            "specialist" => Ok(Tier::Specialist),
            "expert_studio" => Ok(Tier::ExpertStudio),
            _ => Err(
                DomainError::new(ErrorCode::InvalidTier, format!("Unknown tier '{s}'.")).on("tier"),
            ),
        }
    }

    /// The tier a case escalates to, if any.
    pub fn next(self) -> Option<Tier> {
        match self {
            Tier::Gp => Some(Tier::Specialist),
            Tier::Specialist => Some(Tier::ExpertStudio),
            Tier::ExpertStudio => None,
        }
    }

    /// Whether a doctor with `title` may take consultations at this tier:
    /// specialists are attending physicians or above, expert studios are run
    /// by (associate) chief physicians.
    pub fn admits(self, title: Title) -> bool {
        match self {
            Tier::Gp => title.role() == Role::Doctor,
            Tier::Specialist => matches!(
                title,
                Title::AttendingPhysician | Title::AssociateChiefPhysician | Title::ChiefPhysician
            ),
            Tier::ExpertStudio => {
                matches!(
                    title,
                    Title::AssociateChiefPhysician | Title::ChiefPhysician
                )
            }
        }
    }
}

/// Where the next tier goes, or why not.
pub fn escalation_target(from: Tier, doctor_title: Title) -> Result<Tier, DomainError> {
    let next = from.next().ok_or_else(|| {
        DomainError::new(
            ErrorCode::NoHigherTier,
            "An expert's studio is the highest tier; refer the patient offline instead.",
        )
    })?;
    if !next.admits(doctor_title) {
        return Err(DomainError::new(
            ErrorCode::DoctorTierMismatch,
            format!(
                "A {} consultation needs a doctor of a higher title than {}.",
                next.as_str(),
                doctor_title.label_zh()
            ),
        )
        .on("doctor_id"));
    }
    Ok(next)
}

/// Evidence that the condition was diagnosed offline before (online care is
/// follow-up only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An earlier completed consultation or visit on the platform.
    PlatformVisit,
    /// An uploaded outpatient record (门诊病历).
    OutpatientRecord,
    /// An uploaded discharge summary (出院小结).
    DischargeRecord,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::PlatformVisit => "platform_visit",
            EvidenceKind::OutpatientRecord => "outpatient_record",
            EvidenceKind::DischargeRecord => "discharge_record",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "platform_visit" => Ok(Self::PlatformVisit),
            "outpatient_record" => Ok(Self::OutpatientRecord),
            "discharge_record" => Ok(Self::DischargeRecord),
            _ => Err(DomainError::new(
                ErrorCode::InvalidEvidence,
                "Evidence kind is platform_visit, outpatient_record or discharge_record.",
            )
            .on("evidence.kind")),
        }
    }

    pub fn is_upload(self) -> bool {
        !matches!(self, EvidenceKind::PlatformVisit)
    }
}

/// Whether a department takes first visits online. Strict (follow-up only)
/// unless a region pilots an exception for that department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstVisitPolicy {
    #[default]
    Strict,
    PilotAllowed,
}

pub fn first_visit_refusal() -> DomainError {
    DomainError::new(
        ErrorCode::FirstVisitNotAllowed,
        "Online consultation is for follow-up visits only: this condition must first be diagnosed \
         in person. Attach an earlier visit on the platform or upload an outpatient or discharge \
         record, or book an offline appointment.",
    )
    .on("evidence")
}

/// A request needs evidence of an offline diagnosis unless the department
/// pilots first visits.
pub fn check_follow_up(has_evidence: bool, policy: FirstVisitPolicy) -> Result<(), DomainError> {
    if has_evidence || policy == FirstVisitPolicy::PilotAllowed {
        Ok(())
    } else {
        Err(first_visit_refusal())
    }
}

/// When accepting, the doctor records that the patient qualifies (the
/// evidence shows an offline diagnosis of this condition).
pub fn check_qualification(
    doctor_confirms: bool,
    has_evidence: bool,
    policy: FirstVisitPolicy,
) -> Result<(), DomainError> {
    if policy == FirstVisitPolicy::PilotAllowed {
        return Ok(());
    }
    if !has_evidence || !doctor_confirms {
        return Err(DomainError::new(
            ErrorCode::QualificationRequired,
            "Confirm that the evidence shows an offline diagnosis of this condition \
             (qualifies: true), or decline the consultation with a reason.",
        )
        .on("qualifies"));
    }
    Ok(())
}

/// Children under this age consult only with a guardian present.
pub const GUARDIAN_PRESENT_BELOW_AGE: u32 = 6;

/// Who asks for the consultation, relative to the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    SelfPatient,
    LinkedGuardian,
    Other,
}

/// Children under 6 consult only with their linked guardian present;
/// anyone else asking for someone not theirs is told "not found".
pub fn check_requester(
    requester: Requester,
    birth: NaiveDate,
    today: NaiveDate,
    guardian_present: bool,
) -> Result<(), DomainError> {
    match requester {
        Requester::Other => Err(DomainError::new(ErrorCode::NotFound, "No such patient.")),
        _ if age_on(birth, today) >= GUARDIAN_PRESENT_BELOW_AGE => Ok(()),
        Requester::LinkedGuardian if guardian_present => Ok(()),
        _ => Err(DomainError::new(
            ErrorCode::GuardianMustBePresent,
            "Children under 6 consult online only with their registered guardian present: \
             the guardian starts the consultation and confirms being present.",
        )
        .on("guardian_present")),
    }
}

/// Only doctors with at least 3 years of independent practice take online
/// consultations.
pub fn check_doctor(
    role: Role,
    practising_since: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if role != Role::Doctor {
        return Err(DomainError::new(
            ErrorCode::NotADoctor,
            "Online consultations are given by doctors.",
        )
        .on("doctor_id"));
    }
    if !may_practise_online(practising_since, today) {
        return Err(DomainError::new(
            ErrorCode::DoctorNotEligibleOnline,
            "This doctor has fewer than 3 years of independent practice and may not consult \
             online; please choose another doctor.",
        )
        .on("doctor_id"));
    }
    Ok(())
}

/// A free-text field: trimmed, 1..=max characters, no control characters
/// other than line breaks.
pub fn parse_text(raw: &str, field: &'static str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty()
        || s.chars().count() > max
        || s.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::new(
            ErrorCode::InvalidField,
            format!("'{field}' must be 1 to {max} characters of text."),
        )
        .on(field));
    }
    Ok(s.to_string())
}

/// Longest chat text message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Longest client message id (the idempotency key of a send).
pub const MAX_CLIENT_ID_LEN: usize = 64;

pub fn parse_client_id(raw: &str) -> Result<String, DomainError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_CLIENT_ID_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidClientId,
            "client_id is 1 to 64 letters, digits, '-' or '_' and is unique per message.",
        )
        .on("client_id"))
    }
}

/// Picture (and record scan) types accepted, identified by their magic bytes.
pub fn sniff_picture(declared: &str, bytes: &[u8]) -> Result<&'static str, DomainError> {
    let actual = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    };
    let declared = declared.split(';').next().unwrap_or_default().trim();
    match actual {
        Some(a) if a == declared => Ok(a),
        _ => Err(DomainError::new(
            ErrorCode::UnsupportedPicture,
            "Send a JPEG, PNG or WebP picture (or a PDF record) with a matching Content-Type.",
        )),
    }
}

/// A review of a completed service: 1 to 5 stars and optional text.
pub fn parse_rating(rating: i64) -> Result<i64, DomainError> {
    if (1..=5).contains(&rating) {
        Ok(rating)
    } else {
        Err(DomainError::new(ErrorCode::InvalidRating, "A rating is 1 to 5 stars.").on("rating"))
    }
}

/// Only the patient served (or their guardian, for a child) reviews, only a
/// finished service, and only once (the store's unique key enforces once).
pub fn check_review(is_served_patient: bool, status: Status) -> Result<(), DomainError> {
    if !is_served_patient {
        return Err(DomainError::new(
            ErrorCode::NotFound,
            "No such consultation.",
        ));
    }
    if !matches!(status, Status::Completed | Status::ReferredOffline) {
        return Err(DomainError::new(
            ErrorCode::ReviewNotOpen,
            "A consultation can be reviewed once it has been completed.",
        ));
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
    fn the_happy_path_runs_requested_to_completed() {
        let s = transition(Status::Requested, Action::Accept).unwrap();
        assert_eq!(s, Status::Accepted);
        let s = transition(s, Action::Start).unwrap();
        assert_eq!(s, Status::InProgress);
        assert_eq!(transition(s, Action::Complete).unwrap(), Status::Completed);
    }

    #[test]
    fn side_exits_are_where_they_belong() {
        assert_eq!(
            transition(Status::Requested, Action::Expire).unwrap(),
            Status::Expired
        );
        assert_eq!(
            transition(Status::Requested, Action::Decline).unwrap(),
            Status::Declined
        );
        assert_eq!(
            transition(Status::Accepted, Action::Cancel).unwrap(),
            Status::Cancelled
        );
        assert_eq!(
            transition(Status::InProgress, Action::ReferOffline).unwrap(),
            Status::ReferredOffline
        );
    }

    #[test]
    fn illegal_transitions_are_refused_with_a_code() {
        let e = transition(Status::Requested, Action::Complete).unwrap_err();
        assert_eq!(e.code, "illegal_transition");
        let e = transition(Status::InProgress, Action::Cancel).unwrap_err();
        assert_eq!(e.code, "illegal_transition");
        let e = transition(Status::InProgress, Action::Expire).unwrap_err();
        assert_eq!(e.code, "illegal_transition");
        for s in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            for a in [
                Action::Accept,
                Action::Start,
                Action::Complete,
                Action::Cancel,
            ] {
                assert_eq!(transition(s, a).unwrap_err().code, "consultation_closed");
            }
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()).unwrap(), s);
        }
        assert!(Status::parse("bogus").is_err());
    }

    #[test]
    fn first_visits_are_refused_unless_the_department_pilots_them() {
        assert_eq!(
            check_follow_up(false, FirstVisitPolicy::Strict)
                .unwrap_err()
                .code,
            "first_visit_not_allowed"
        );
        assert!(check_follow_up(true, FirstVisitPolicy::Strict).is_ok());
        assert!(check_follow_up(false, FirstVisitPolicy::PilotAllowed).is_ok());
        assert_eq!(FirstVisitPolicy::default(), FirstVisitPolicy::Strict);
    }

    #[test]
    fn the_doctor_must_confirm_the_patient_qualifies() {
        assert!(check_qualification(false, true, FirstVisitPolicy::Strict).is_err());
        assert!(check_qualification(true, false, FirstVisitPolicy::Strict).is_err());
        assert!(check_qualification(true, true, FirstVisitPolicy::Strict).is_ok());
        assert!(check_qualification(false, false, FirstVisitPolicy::PilotAllowed).is_ok());
    }

    #[test]
    fn children_under_six_need_their_guardian_present() {
        let today = d("2026-11-25");
        let child = d("2022-01-01");
        let older = d("2019-01-01");
        assert_eq!(
            check_requester(Requester::LinkedGuardian, child, today, false)
                .unwrap_err()
                .code,
            "guardian_must_be_present"
        );
        assert!(check_requester(Requester::LinkedGuardian, child, today, true).is_ok());
        assert!(check_requester(Requester::LinkedGuardian, older, today, false).is_ok());
        assert_eq!(
            check_requester(Requester::Other, older, today, true)
                .unwrap_err()
                .code,
            "not_found"
        );
        // The sixth birthday is the boundary.
        assert!(check_requester(Requester::SelfPatient, d("2020-11-25"), today, false).is_ok());
        assert!(check_requester(Requester::SelfPatient, d("2020-11-26"), today, false).is_err());
    }

    #[test]
    fn junior_doctors_do_not_consult_online() {
        let today = d("2026-11-25");
        assert_eq!(
            check_doctor(Role::Doctor, d("2025-01-01"), today)
                .unwrap_err()
                .code,
            "doctor_not_eligible_online"
        );
        assert!(check_doctor(Role::Doctor, d("2020-01-01"), today).is_ok());
        assert_eq!(
            check_doctor(Role::Nurse, d("2000-01-01"), today)
                .unwrap_err()
                .code,
            "not_a_doctor"
        );
    }

    #[test]
    fn the_tiered_path_climbs_by_title() {
        assert_eq!(
            escalation_target(Tier::Gp, Title::AttendingPhysician).unwrap(),
            Tier::Specialist
        );
        assert_eq!(
            escalation_target(Tier::Gp, Title::Resident)
                .unwrap_err()
                .code,
            "doctor_tier_mismatch"
        );
        assert_eq!(
            escalation_target(Tier::Specialist, Title::ChiefPhysician).unwrap(),
            Tier::ExpertStudio
        );
        assert!(escalation_target(Tier::Specialist, Title::AttendingPhysician).is_err());
        assert_eq!(
            escalation_target(Tier::ExpertStudio, Title::ChiefPhysician)
                .unwrap_err()
                .code,
            "no_higher_tier"
        );
    }

    #[test]
    fn pictures_are_checked_by_their_bytes() {
        assert_eq!(
            sniff_picture("image/png", b"\x89PNG\r\n\x1a\nrest").unwrap(),
            "image/png"
        );
        assert!(sniff_picture("image/jpeg", b"\x89PNG\r\n\x1a\nrest").is_err());
        assert!(sniff_picture("image/png", b"<script>").is_err());
        assert_eq!(
            sniff_picture("image/jpeg; charset=x", &[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
    }

    #[test]
    fn client_ids_and_texts_are_bounded() {
        assert!(parse_client_id("a-1_B").is_ok());
        assert!(parse_client_id("").is_err());
        assert!(parse_client_id("has space").is_err());
        assert!(parse_client_id(&"x".repeat(65)).is_err());
        assert_eq!(parse_text("  你好 ", "text", 10).unwrap(), "你好");
        assert!(parse_text("   ", "text", 10).is_err());
        assert!(parse_text("a\u{0}b", "text", 10).is_err());
    }

    #[test]
    fn only_the_served_patient_reviews_a_finished_service() {
        assert_eq!(
            check_review(false, Status::Completed).unwrap_err().code,
            "not_found"
        );
        assert_eq!(
            check_review(true, Status::InProgress).unwrap_err().code,
            "review_not_open"
        );
        assert!(check_review(true, Status::Completed).is_ok());
        assert!(parse_rating(0).is_err() && parse_rating(6).is_err());
        assert_eq!(parse_rating(5).unwrap(), 5);
    }
}
