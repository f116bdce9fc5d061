//! Two-way referral inside a consortium: creating referrals (visit or exam),
//! moving them through the domain state machine with an append-only
//! timeline, audit entries and notifications to exactly the parties of the
//! step, in one transaction per step; the duplicate-exam reminder; reads of
//! the referral (a patient record) authorised and audited.

use axum::http::StatusCode;
use chrono::TimeZone;
use chrono_tz::Asia::Shanghai;
use ihos_domain::ErrorCode;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::referral::{
    self as rules, Action, Direction, ExamType, Kind, Party, Status, next_actions, parse_text,
    transition,
};
use ihos_domain::{DomainError, OrgKind, Role};
use ihos_store::referral::{self as store, Change, NewReferral, ReferralRow};
use ihos_store::{AnyConnection, identity, now_ms, org, scheduling};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::shanghai_time;

mod create;
mod reads;
mod step;
pub use create::*;
pub use reads::*;
pub use step::*;

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewReferralInput {
    /// `up` (default: community to upper hospital) or `down`.
    pub direction: Option<String>,
    /// `visit` (default) or `exam`.
    pub kind: Option<String>,
    /// The patient, by id or by resident ID number.
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    /// The referring organisation; defaults to the caller's site that shares a consortium with the receiver.
    pub from_org_id: Option<String>,
    pub to_org_id: String,
    pub to_department_id: Option<String>,
    pub to_doctor_id: Option<String>,
    pub reason: String,
    /// Clinical summary (病情摘要).
    pub summary: String,
    /// For exam referrals: ct, mri, ultrasound or xray.
    pub exam_type: Option<String>,
    /// Required when the same exam was done recently at a member.
    pub repeat_reason: Option<String>,
    /// Required for a downward referral.
    pub follow_up_plan: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StepInput {
    /// Decline or cancel reason.
    pub reason: Option<String>,
    /// Accept (visit): a slot of the receiving hospital to book for the patient.
    pub slot_id: Option<String>,
    /// Accept (exam): the exam slot to book.
    pub exam_slot_id: Option<String>,
    /// Return results: the findings and the diagnosis.
    pub results: Option<String>,
    /// Refer down: the follow-up plan for the community doctor.
    pub follow_up_plan: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub at: i64,
    pub at_local: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralView {
    pub id: String,
    pub direction: String,
    pub kind: String,
    pub status: String,
    pub patient_id: String,
    pub patient_name: String,
    pub from_org_name: String,
    pub from_doctor_id: String,
    pub from_doctor_name: String,
    pub to_org_id: String,
    pub to_org_name: String,
    pub to_department_name: Option<String>,
    pub to_doctor_id: Option<String>,
    pub to_doctor_name: Option<String>,
    pub reason: String,
    pub summary: String,
    pub exam_type: Option<String>,
    pub repeat_reason: Option<String>,
    pub decline_reason: Option<String>,
    pub appointment_id: Option<String>,
    pub exam_slot_id: Option<String>,
    pub exam_starts_at: Option<i64>,
    pub exam_time_local: Option<String>,
    pub results: Option<String>,
    pub follow_up_plan: Option<String>,
    pub created_at: i64,
    pub created_local: String,
    pub due_at: Option<i64>,
    pub due_local: Option<String>,
    pub overdue: bool,
    pub closed_at: Option<i64>,
    /// What the caller may do next (accept, decline, ...).
    pub my_actions: Vec<String>,
    pub timeline: Vec<EventView>,
}

/// Which side of the referral the caller is on, if any.
pub(crate) async fn party_of(
    c: &mut AnyConnection,
    caller: &Caller,
    r: &ReferralRow,
) -> ApiResult<Option<Party>> {
    if !caller.has(Role::Doctor) {
        return Ok(None);
    }
    if r.from_doctor_id == caller.account_id {
        return Ok(Some(Party::Referrer));
    }
    let receiver = match &r.to_doctor_id {
        Some(d) => *d == caller.account_id,
        None => {
            store::works_at(
                c,
                &caller.account_id,
                &r.to_org_id,
                r.to_department_id.as_deref(),
            )
            .await?
        }
    };
    Ok(receiver.then_some(Party::Receiver))
}

fn view(r: &ReferralRow, party: Option<Party>, timeline: Vec<store::EventRow>) -> ReferralView {
    let status = Status::parse(&r.status).unwrap_or(Status::Requested);
    let direction = Direction::parse(&r.direction).unwrap_or(Direction::Up);
    let my_actions = match party {
        Some(p) => next_actions(status)
            .iter()
            .filter(|a| a.party(direction) == p)
            .map(|a| a.as_str().to_string())
            .collect(),
        None => Vec::new(),
    };
    ReferralView {
        id: r.id.clone(),
        direction: r.direction.clone(),
        kind: r.kind.clone(),
        status: r.status.clone(),
        patient_id: r.patient_id.clone(),
        patient_name: r.patient_name.clone(),
        from_org_name: r.from_org_name.clone(),
        from_doctor_id: r.from_doctor_id.clone(),
        from_doctor_name: r.from_doctor_name.clone(),
        to_org_id: r.to_org_id.clone(),
        to_org_name: r.to_org_name.clone(),
        to_department_name: r.to_department_name.clone(),
        to_doctor_id: r.to_doctor_id.clone(),
        to_doctor_name: r.to_doctor_name.clone(),
        reason: r.reason.clone(),
        summary: r.summary.clone(),
        exam_type: r.exam_type.clone(),
        repeat_reason: r.repeat_reason.clone(),
        decline_reason: r.decline_reason.clone(),
        appointment_id: r.appointment_id.clone(),
        exam_slot_id: r.exam_slot_id.clone(),
        exam_starts_at: r.exam_starts_at,
        exam_time_local: r.exam_starts_at.map(shanghai_time),
        results: r.results.clone(),
        follow_up_plan: r.follow_up_plan.clone(),
        created_at: r.created_at,
        created_local: shanghai_time(r.created_at),
        due_at: r.due_at,
        due_local: r.due_at.map(shanghai_time),
        overdue: r.overdue_at.is_some(),
        closed_at: r.closed_at,
        my_actions,
        timeline: timeline
            .into_iter()
            .map(|e| EventView {
                seq: e.seq,
                at: e.at,
                at_local: shanghai_time(e.at),
                actor_name: e.actor_name,
                action: e.action,
                from_status: e.from_status,
                to_status: e.to_status,
                note: e.note,
            })
            .collect(),
    }
}

/// Who is told about a step: the referring doctor, the receiving (or, for
/// exams, ordering) doctor — or the receiving department's doctors while
/// nobody has accepted — and the patient (or their guardian). Each gets their
/// own notification naming their part.
pub(crate) async fn notify(
    c: &mut AnyConnection,
    r: &ReferralRow,
    topic: &str,
    status: &str,
    now: i64,
) -> ApiResult<()> {
    let receiver_part = if r.kind == "exam" {
        "ordering_doctor"
    } else {
        "receiving_doctor"
    };
    let mut recipients: Vec<(String, &str)> = vec![(r.from_doctor_id.clone(), "referring_doctor")];
    match (&r.to_doctor_id, &r.to_department_id) {
        (Some(d), _) => recipients.push((d.clone(), receiver_part)),
        (None, Some(dep)) => {
            for d in store::doctors_of_department(c, dep).await? {
                recipients.push((d, receiver_part));
            }
        }
        (None, None) => {}
    }
    if let Some(p) = r
        .patient_account_id
        .as_deref()
        .or(r.guardian_account_id.as_deref())
    {
        recipients.push((p.to_string(), "patient"));
    }
    recipients.dedup_by(|a, b| a.0 == b.0);
    for (who, part) in recipients {
        let payload = json!({
            "referral_id": r.id, "status": status, "as": part, "kind": r.kind,
            "direction": r.direction, "from_org": r.from_org_name, "to_org": r.to_org_name,
        });
        ihos_store::outbox::put_json(c, topic, Some(&who), &payload.to_string(), now).await?;
    }
    Ok(())
}

async fn resolve_patient(
    state: &AppState,
    c: &mut AnyConnection,
    input: &NewReferralInput,
) -> ApiResult<identity::PatientRow> {
    let id = match (opt(&input.patient_id), opt(&input.resident_id)) {
        (Some(id), _) => Some(id.to_string()),
        (None, Some(rid)) => {
            let rid = ihos_domain::ResidentId::parse(rid).map_err(ApiError::from)?;
            store::patient_id_by_resident_hash(
                c,
                &state.vault.blind_index("resident_id", rid.as_str()),
            )
            .await?
        }
        (None, None) => None,
    };
    let found = match id {
        Some(id) => identity::patient(c, &id).await?,
        None => None,
    };
    found.ok_or_else(|| {
        ApiError::from(DomainError::new(
            ErrorCode::RefUnknownPatient,
            "No registered patient with this id or resident ID number; the patient signs up first.",
        )
        .on("resident_id"))
    })
}

/// A patient id from an id or a resident ID number (for the other consortium services).
pub(crate) async fn patient_of(
    state: &AppState,
    c: &mut AnyConnection,
    patient_id: Option<&str>,
    resident_id: Option<&str>,
) -> ApiResult<String> {
    let input = NewReferralInput {
        patient_id: patient_id.map(str::to_string),
        resident_id: resident_id.map(str::to_string),
        ..Default::default()
    };
    Ok(resolve_patient(state, c, &input).await?.id)
}

/// Earlier exams of this type for the patient at any member within the window.
pub async fn earlier_exams(
    state: &AppState,
    c: &mut AnyConnection,
    consortium_id: &str,
    patient_id: &str,
    exam: ExamType,
    now: i64,
) -> ApiResult<Vec<store::EarlierExam>> {
    let since = state.settings.referral.duplicate_windows.since(exam, now);
    let since_date = Shanghai
        .timestamp_millis_opt(since)
        .single()
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_default();
    let mut rows = store::earlier_exams(
        c,
        consortium_id,
        patient_id,
        exam.as_str(),
        exam.modality(),
        since,
        &since_date,
    )
    .await?;
    for r in &mut rows {
        if r.at_text.is_empty() {
            r.at_text = shanghai_time(r.at);
        }
    }
    Ok(rows)
}
