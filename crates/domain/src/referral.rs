//! Two-way referral (双向转诊) inside a regional medical consortium, as a
//! closed loop: a community doctor refers a patient up (to a visit or an
//! exam), the upper hospital accepts or declines, sees the patient, returns
//! the results and refers the patient back down with a follow-up plan; the
//! community doctor closes the loop. Every state has a deadline, so no
//! referral ends silently. Also: exam privileges (CT/MRI), the regional
//! duplicate-exam reminder, bed reservation and remote consultation rules.

use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Community to upper hospital.
    Up,
    /// Upper hospital to community (a standalone downward referral, e.g. after discharge).
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            _ => Err(DomainError::new(
                ErrorCode::RefInvalidDirection,
                "Direction is 'up' or 'down'.",
            )
            .on("direction")),
        }
    }
}

/// What the receiving side is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// See the patient (outpatient visit, optionally on a booked slot).
    Visit,
    /// Order an exam the referring doctor may not order.
    Exam,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Visit => "visit",
            Kind::Exam => "exam",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "visit" => Ok(Kind::Visit),
            "exam" => Ok(Kind::Exam),
            _ => Err(
                DomainError::new(ErrorCode::RefInvalidKind, "Kind is 'visit' or 'exam'.")
                    .on("kind"),
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Requested,
    Accepted,
    Declined,
    Cancelled,
    Seen,
    ResultsReturned,
    ReferredDown,
    Closed,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Requested,
        Status::Accepted,
        Status::Declined,
        Status::Cancelled,
        Status::Seen,
        Status::ResultsReturned,
        Status::ReferredDown,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Cancelled => "cancelled",
            Status::Seen => "seen",
            Status::ResultsReturned => "results_returned",
            Status::ReferredDown => "referred_down",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::RefInvalidStatus,
                    format!("Unknown referral status '{s}'."),
                )
            })
    }

    /// The loop has ended: nothing further may happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Declined | Status::Cancelled | Status::Closed)
    }

    /// The patient is (back) in the community doctor's care.
    pub fn is_downward(self) -> bool {
        matches!(self, Status::ReferredDown | Status::Closed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Decline,
    Cancel,
    MarkSeen,
    ReturnResults,
    ReferDown,
    Close,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Decline => "decline",
            Action::Cancel => "cancel",
            Action::MarkSeen => "mark_seen",
            Action::ReturnResults => "return_results",
            Action::ReferDown => "refer_down",
            Action::Close => "close",
        }
    }

    /// Who may take this action. The loop is closed by the community side:
    /// the referring doctor of an upward referral, the receiving doctor of a
    /// standalone downward one.
    pub fn party(self, direction: Direction) -> Party {
        match (self, direction) {
            (Action::Close, Direction::Down) => Party::Receiver,
            (Action::Cancel | Action::Close, _) => Party::Referrer,
            (
                Action::Accept
                | Action::Decline
                | Action::MarkSeen
                | Action::ReturnResults
                | Action::ReferDown,
                _,
            ) => Party::Receiver,
        }
    }
}

/// The two sides of a referral. For an upward referral the referrer is the
/// community doctor and the receiver the upper hospital; for a standalone
/// downward referral the upper hospital refers and the community receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Referrer,
    Receiver,
}

/// The state machine. Illegal transitions are refused with stable codes:
/// `ref_already_ended` once the loop has ended, `ref_illegal_transition`
/// otherwise; the message names the state and what may happen next.
pub fn transition(from: Status, action: Action) -> Result<Status, DomainError> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (S::Requested, A::Accept) => S::Accepted,
        (S::Requested, A::Decline) => S::Declined,
        (S::Requested | S::Accepted, A::Cancel) => S::Cancelled,
        // A standalone downward referral the community has not taken up yet.
        (S::ReferredDown, A::Cancel) => S::Cancelled,
        (S::Accepted, A::MarkSeen) => S::Seen,
        (S::Seen, A::ReturnResults) => S::ResultsReturned,
        (S::ResultsReturned, A::ReferDown) => S::ReferredDown,
        (S::ReferredDown, A::Close) => S::Closed,
        (from, action) if from.is_terminal() => {
            return Err(DomainError::new(
                ErrorCode::RefAlreadyEnded,
                format!(
                    "This referral is {} and has ended; it cannot be '{}'.",
                    from.as_str(),
                    action.as_str()
                ),
            ));
        }
        (from, action) => {
            return Err(DomainError::new(
                ErrorCode::RefIllegalTransition,
                format!(
                    "A referral that is {} cannot be '{}'; next: {}.",
                    from.as_str(),
                    action.as_str(),
                    next_actions(from)
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
    };
    Ok(to)
}

/// What may happen next in a state (for the UI and error messages).
pub fn next_actions(s: Status) -> &'static [Action] {
    match s {
        Status::Requested => &[Action::Accept, Action::Decline, Action::Cancel],
        Status::Accepted => &[Action::MarkSeen, Action::Cancel],
        Status::Seen => &[Action::ReturnResults],
        Status::ResultsReturned => &[Action::ReferDown],
        Status::ReferredDown => &[Action::Close, Action::Cancel],
        Status::Declined | Status::Cancelled | Status::Closed => &[],
    }
}

/// The party allowed to act, or `ref_not_your_turn`.
pub fn authorise(action: Action, direction: Direction, party: Party) -> Result<(), DomainError> {
    if action.party(direction) == party {
        return Ok(());
    }
    let who = match action.party(direction) {
        Party::Referrer => "the referring doctor",
        Party::Receiver => "the receiving hospital",
    };
    Err(DomainError::new(
        ErrorCode::RefNotYourTurn,
        format!("Only {who} may '{}' this referral.", action.as_str()),
    ))
}

/// Hours each open state may last before the referral is overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Deadlines {
    /// The receiving side answers (accept or decline).
    pub requested_hours: i64,
    /// The patient is seen after acceptance.
    pub accepted_hours: i64,
    /// Results come back after the patient was seen.
    pub seen_hours: i64,
    /// The patient is referred back down after the results.
    pub results_returned_hours: i64,
    /// The community doctor confirms the patient is back in their care.
    pub referred_down_hours: i64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            requested_hours: 48,
            accepted_hours: 14 * 24,
            seen_hours: 72,
            results_returned_hours: 72,
            referred_down_hours: 72,
        }
    }
}

impl Deadlines {
    /// When a referral that entered `status` at `entered_at` (ms) becomes
    /// overdue; `None` for ended referrals.
    pub fn due_at(&self, status: Status, entered_at: i64) -> Option<i64> {
        let hours = match status {
            Status::Requested => self.requested_hours,
            Status::Accepted => self.accepted_hours,
            Status::Seen => self.seen_hours,
            Status::ResultsReturned => self.results_returned_hours,
            Status::ReferredDown => self.referred_down_hours,
            Status::Declined | Status::Cancelled | Status::Closed => return None,
        };
        Some(entered_at + hours.max(1) * 3_600_000)
    }
}

/// Exam types that can be ordered through a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExamType {
    Ct,
    Mri,
    Ultrasound,
    Xray,
}

impl ExamType {
    pub const ALL: [ExamType; 4] = [
        ExamType::Ct,
        ExamType::Mri,
        ExamType::Ultrasound,
        ExamType::Xray,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExamType::Ct => "ct",
            ExamType::Mri => "mri",
            ExamType::Ultrasound => "ultrasound",
            ExamType::Xray => "xray",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ExamType::Ct => "CT",
            ExamType::Mri => "磁共振(MRI)",
            ExamType::Ultrasound => "超声",
            ExamType::Xray => "X线",
        }
    }

    /// DICOM modality of the studies this exam produces.
    pub fn modality(self) -> &'static str {
        match self {
            ExamType::Ct => "CT",
            ExamType::Mri => "MR",
            ExamType::Ultrasound => "US",
            ExamType::Xray => "DX",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::RefInvalidExamType,
                    "Exam type is ct, mri, ultrasound or xray.",
                )
                .on("exam_type")
            })
    }

    /// Large-equipment exams (大型医用设备检查) need a per-doctor privilege.
    pub fn needs_privilege(self) -> bool {
        matches!(self, ExamType::Ct | ExamType::Mri)
    }
}

/// A doctor may order `exam` only with the privilege when it needs one.
pub fn may_order(exam: ExamType, has_privilege: bool) -> Result<(), DomainError> {
    if exam.needs_privilege() && !has_privilege {
        return Err(DomainError::new(
            ErrorCode::RefNeedsPrivilege,
            format!(
                "Ordering {} needs the exam privilege; refer the request to a qualified doctor of the upper hospital.",
                exam.label_zh()
            ),
        ));
    }
    Ok(())
}

/// Days within which the same exam at any consortium member counts as a
/// duplicate (区域重复检查提醒), per exam type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateWindows {
    pub ct_days: i64,
    pub mri_days: i64,
    pub ultrasound_days: i64,
    pub xray_days: i64,
}

impl Default for DuplicateWindows {
    fn default() -> Self {
        Self {
            ct_days: 30,
            mri_days: 30,
            ultrasound_days: 14,
            xray_days: 14,
        }
    }
}

impl DuplicateWindows {
    pub fn days(&self, exam: ExamType) -> i64 {
        match exam {
            ExamType::Ct => self.ct_days,
            ExamType::Mri => self.mri_days,
            ExamType::Ultrasound => self.ultrasound_days,
            ExamType::Xray => self.xray_days,
        }
        .max(0)
    }

    /// Earliest time (ms) an earlier exam still counts as recent at `now`.
    pub fn since(&self, exam: ExamType, now: i64) -> i64 {
        now - self.days(exam) * 86_400_000
    }
}

/// An earlier exam within the window needs a written reason to repeat.
pub fn check_repeat(
    earlier_found: bool,
    reason: Option<&str>,
) -> Result<Option<String>, DomainError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match (earlier_found, reason) {
        (true, None) => Err(DomainError::new(
            ErrorCode::RefDuplicateExam,
            "The patient had this exam recently at a consortium member; read the earlier result, and give a reason to repeat it.",
        )
        .on("repeat_reason")),
        (_, Some(r)) => Ok(Some(parse_text(r, "repeat_reason", 500)?)),
        (false, None) => Ok(None),
    }
}

/// Referral policy from settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub deadlines: Deadlines,
    pub duplicate_windows: DuplicateWindows,
}

/// Free text (reason, summary, plan, opinion): trimmed, 1..=max characters.
pub fn parse_text(raw: &str, field: &'static str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DomainError::new(
            ErrorCode::RefTextRequired,
            format!("Please fill in '{field}'."),
        )
        .on(field));
    }
    if s.chars().count() > max {
        return Err(DomainError::new(
            ErrorCode::RefTextTooLong,
            format!("'{field}' may be at most {max} characters."),
        )
        .on(field));
    }
    Ok(s.to_string())
}

/// Bed reservation: a request is reviewed once; beds are taken only on admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BedStatus {
    Requested,
    Admitted,
    Declined,
    Discharged,
}

impl BedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BedStatus::Requested => "requested",
            BedStatus::Admitted => "admitted",
            BedStatus::Declined => "declined",
            BedStatus::Discharged => "discharged",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        [
            BedStatus::Requested,
            BedStatus::Admitted,
            BedStatus::Declined,
            BedStatus::Discharged,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::RefInvalidStatus,
                format!("Unknown bed request status '{s}'."),
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BedAction {
    Admit,
    Decline,
    Discharge,
}

pub fn bed_transition(from: BedStatus, action: BedAction) -> Result<BedStatus, DomainError> {
    match (from, action) {
        (BedStatus::Requested, BedAction::Admit) => Ok(BedStatus::Admitted),
        (BedStatus::Requested, BedAction::Decline) => Ok(BedStatus::Declined),
        (BedStatus::Admitted, BedAction::Discharge) => Ok(BedStatus::Discharged),
        (from, _) => Err(DomainError::new(
            ErrorCode::RefIllegalTransition,
            format!(
                "A bed request that is {} cannot change that way.",
                from.as_str()
            ),
        )),
    }
}

/// Bed count of a ward: 1..=2000.
pub fn parse_beds(n: i64) -> Result<i64, DomainError> {
    if !(1..=2000).contains(&n) {
        return Err(
            DomainError::new(ErrorCode::RefInvalidBeds, "A ward has 1 to 2000 beds.").on("beds"),
        );
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_loop_runs_up_and_back_down() {
        let mut s = Status::Requested;
        for a in [
            Action::Accept,
            Action::MarkSeen,
            Action::ReturnResults,
            Action::ReferDown,
            Action::Close,
        ] {
            s = transition(s, a).unwrap();
        }
        assert_eq!(s, Status::Closed);
        assert!(s.is_terminal());
    }

    #[test]
    fn skipping_a_step_is_refused_and_names_the_next_step() {
        let e = transition(Status::Requested, Action::ReferDown).unwrap_err();
        assert_eq!(e.code, "ref_illegal_transition");
        assert!(e.message.contains("accept"), "{}", e.message);
        let e = transition(Status::Accepted, Action::ReturnResults).unwrap_err();
        assert_eq!(e.code, "ref_illegal_transition");
        assert!(e.message.contains("mark_seen"));
        assert_eq!(
            transition(Status::Seen, Action::Close).unwrap_err().code,
            "ref_illegal_transition"
        );
    }

    #[test]
    fn an_ended_referral_cannot_be_reopened() {
        for s in [Status::Declined, Status::Cancelled, Status::Closed] {
            for a in [
                Action::Accept,
                Action::Cancel,
                Action::Close,
                Action::MarkSeen,
            ] {
                assert_eq!(transition(s, a).unwrap_err().code, "ref_already_ended");
            }
            assert!(next_actions(s).is_empty());
        }
    }

    #[test]
    fn a_seen_patient_cannot_be_cancelled() {
        assert_eq!(
            transition(Status::Seen, Action::Cancel).unwrap_err().code,
            "ref_illegal_transition"
        );
        assert_eq!(
            transition(Status::Accepted, Action::Cancel),
            Ok(Status::Cancelled)
        );
    }

    #[test]
    fn every_legal_next_action_is_accepted_by_the_machine() {
        for s in Status::ALL {
            for a in next_actions(s) {
                assert!(transition(s, *a).is_ok(), "{s:?} {a:?}");
            }
        }
    }

    #[test]
    fn only_the_right_party_acts() {
        let up = Direction::Up;
        assert!(authorise(Action::Accept, up, Party::Receiver).is_ok());
        assert_eq!(
            authorise(Action::Accept, up, Party::Referrer)
                .unwrap_err()
                .code,
            "ref_not_your_turn"
        );
        assert_eq!(
            authorise(Action::Close, up, Party::Receiver)
                .unwrap_err()
                .code,
            "ref_not_your_turn"
        );
        assert!(authorise(Action::Cancel, up, Party::Referrer).is_ok());
        // Downward: the community doctor (the receiver) closes the loop.
        assert!(authorise(Action::Close, Direction::Down, Party::Receiver).is_ok());
        assert!(authorise(Action::Close, Direction::Down, Party::Referrer).is_err());
    }

    #[test]
    fn every_open_state_has_a_deadline_and_ended_ones_none() {
        let d = Deadlines::default();
        for s in Status::ALL {
            assert_eq!(d.due_at(s, 0).is_none(), s.is_terminal(), "{s:?}");
        }
        assert_eq!(
            d.due_at(Status::Requested, 1000),
            Some(1000 + 48 * 3_600_000)
        );
        let zero = Deadlines {
            requested_hours: 0,
            ..d
        };
        assert_eq!(
            zero.due_at(Status::Requested, 0),
            Some(3_600_000),
            "at least an hour"
        );
    }

    #[test]
    fn ct_and_mri_need_the_privilege_ultrasound_does_not() {
        assert_eq!(
            may_order(ExamType::Ct, false).unwrap_err().code,
            "ref_needs_privilege"
        );
        assert_eq!(
            may_order(ExamType::Mri, false).unwrap_err().code,
            "ref_needs_privilege"
        );
        assert!(may_order(ExamType::Ct, true).is_ok());
        assert!(may_order(ExamType::Ultrasound, false).is_ok());
        assert!(ExamType::parse("pet").is_err());
    }

    #[test]
    fn a_recent_duplicate_needs_a_reason() {
        assert_eq!(
            check_repeat(true, None).unwrap_err().code,
            "ref_duplicate_exam"
        );
        assert_eq!(
            check_repeat(true, Some("  ")).unwrap_err().code,
            "ref_duplicate_exam"
        );
        assert_eq!(
            check_repeat(true, Some("病情变化，需复查")).unwrap(),
            Some("病情变化，需复查".into())
        );
        assert_eq!(check_repeat(false, None).unwrap(), None);
        let w = DuplicateWindows::default();
        assert_eq!(w.since(ExamType::Ct, 31 * 86_400_000), 86_400_000);
    }

    #[test]
    fn beds_are_taken_once_and_given_back_on_discharge() {
        assert_eq!(
            bed_transition(BedStatus::Requested, BedAction::Admit),
            Ok(BedStatus::Admitted)
        );
        assert_eq!(
            bed_transition(BedStatus::Admitted, BedAction::Admit)
                .unwrap_err()
                .code,
            "ref_illegal_transition"
        );
        assert_eq!(
            bed_transition(BedStatus::Admitted, BedAction::Discharge),
            Ok(BedStatus::Discharged)
        );
        assert!(bed_transition(BedStatus::Declined, BedAction::Discharge).is_err());
        assert!(parse_beds(0).is_err());
        assert!(parse_beds(40).is_ok());
    }

    #[test]
    fn text_is_required_and_bounded() {
        assert_eq!(
            parse_text(" ", "reason", 10).unwrap_err().code,
            "ref_text_required"
        );
        assert_eq!(
            parse_text("一二三四五六七八九十一", "reason", 10)
                .unwrap_err()
                .code,
            "ref_text_too_long"
        );
        assert_eq!(parse_text(" 胸痛 ", "reason", 10).unwrap(), "胸痛");
    }
}
