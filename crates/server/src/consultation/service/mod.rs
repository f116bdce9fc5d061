//! Consultation use cases: request (follow-up only, guardians for young
//! children, eligible doctors), the doctor's decisions, escalation along the
//! tiered path, chat, attachments, reviews, service packages and the
//! department first-visit policy. One transaction per use case; every read
//! of patient data is authorised and audited.

use ihos_domain::DomainError;
use ihos_domain::ErrorCode;
use ihos_domain::Role;
use ihos_domain::Title;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::consultation::{
    self as rules, Action, EvidenceKind, FirstVisitPolicy, MAX_MESSAGE_CHARS, Requester, Status,
    Tier, parse_client_id, parse_text,
};
use ihos_domain::identity::age_on;
use ihos_domain::parse_date;
use ihos_domain::payment::VisitKind;
use ihos_store::consultation::{
    self as cstore, Appended, AttachmentRow, ConsultationRow, MessageRow, NewConsultation,
    NewMessage, PackageRow, ReviewRow, StatusChange, SubscriptionRow,
};
use ihos_store::identity::{self, PractitionerRow};
use ihos_store::{AnyConnection, StoreError, new_id, now_ms, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::chat::RoomEvent;
use crate::auth::Caller;
use crate::clock::today_in_shanghai;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::http::StatusCode;

mod attachments;
mod lifecycle;
mod messages;
mod packages;
mod policy;
mod reads;
mod reviews;
pub use attachments::*;
pub use lifecycle::*;
pub use messages::*;
pub use packages::*;
pub use policy::*;
pub use reads::*;
pub use reviews::*;

const DAY_MS: i64 = 86_400_000;

// ------------------------------------------------------------------ views

#[derive(Debug, Deserialize, ToSchema)]
pub struct EvidenceInput {
    /// platform_visit, outpatient_record or discharge_record
    pub kind: String,
    /// platform_visit: an earlier completed consultation id; records: the
    /// attachment id answered by POST /api/v1/consultation-evidence.
    pub reference: String,
    /// The diagnosis made offline, e.g. 2型糖尿病.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConsultationInput {
    /// The patient consulting: omit for yourself, or a child in your care.
    pub patient_id: Option<String>,
    pub doctor_id: String,
    /// One of the doctor's departments; defaults to their primary one.
    pub department_id: Option<String>,
    /// The complaint in the patient's words.
    pub complaint: String,
    pub evidence: Option<EvidenceInput>,
    /// A guardian confirms being present (required for children under 6).
    #[serde(default)]
    pub guardian_present: bool,
    /// Pay with a family-doctor package subscription instead of the fee.
    pub subscription_id: Option<String>,
    /// For later linking with a booked online slot.
    pub appointment_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationView {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub patient_age: u32,
    pub guardian_present: bool,
    pub doctor_id: String,
    pub doctor_name: String,
    pub doctor_title: String,
    pub org_id: String,
    pub department_id: Option<String>,
    /// gp, specialist or expert_studio
    pub tier: String,
    /// The consultation this one was escalated from (its history travels along).
    pub parent_id: Option<String>,
    /// requested, accepted, in_progress, completed, declined, cancelled, expired, referred_offline
    pub status: String,
    pub complaint: String,
    pub suggested_specialty: Option<String>,
    pub evidence_kind: Option<String>,
    pub evidence_ref: Option<String>,
    pub evidence_note: Option<String>,
    /// The doctor recorded that the patient qualifies for a follow-up online.
    pub qualified: bool,
    pub first_visit_pilot: bool,
    pub appointment_id: Option<String>,
    pub subscription_id: Option<String>,
    pub fee_fen: i64,
    pub refunded: bool,
    pub end_reason: Option<String>,
    pub summary: Option<String>,
    /// Sequence number of the last chat message.
    pub last_seq: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub fn view(row: &ConsultationRow) -> ApiResult<ConsultationView> {
    let birth = parse_date(&row.patient_birth_date, "birth_date").map_err(ApiError::stored)?;
    Ok(ConsultationView {
        id: row.id.clone(),
        patient_id: row.patient_id.clone(),
        patient_name: row.patient_name.clone(),
        patient_age: age_on(birth, today_in_shanghai()),
        guardian_present: row.guardian_present == 1,
        doctor_id: row.doctor_id.clone(),
        doctor_name: row.doctor_name.clone(),
        doctor_title: Title::parse(&row.doctor_title)
            .map(|t| t.label_zh())
            .unwrap_or_default()
            .to_string(),
        org_id: row.org_id.clone(),
        department_id: row.department_id.clone(),
        tier: row.tier.clone(),
        parent_id: row.parent_id.clone(),
        status: row.status.clone(),
        complaint: row.complaint.clone(),
        suggested_specialty: row.suggested_specialty.clone(),
        evidence_kind: row.evidence_kind.clone(),
        evidence_ref: row.evidence_ref.clone(),
        evidence_note: row.evidence_note.clone(),
        qualified: row.qualified_at.is_some(),
        first_visit_pilot: row.first_visit_pilot == 1,
        appointment_id: row.appointment_id.clone(),
        subscription_id: row.subscription_id.clone(),
        fee_fen: row.fee_fen,
        refunded: row.refunded_at.is_some(),
        end_reason: row.end_reason.clone(),
        summary: row.summary.clone(),
        last_seq: row.next_seq,
        created_at: row.created_at,
        expires_at: row.expires_at,
        accepted_at: row.accepted_at,
        started_at: row.started_at,
        ended_at: row.ended_at,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub seq: i64,
    pub id: String,
    pub sender_id: String,
    /// patient or doctor
    pub sender_role: String,
    pub client_id: String,
    /// text or picture
    pub kind: String,
    pub text: Option<String>,
    pub attachment_id: Option<String>,
    pub at: i64,
}

pub fn message_view(m: MessageRow) -> MessageView {
    MessageView {
        seq: m.seq,
        id: m.id,
        sender_id: m.sender_id,
        sender_role: m.sender_role,
        client_id: m.client_id,
        kind: m.kind,
        text: m.body,
        attachment_id: m.attachment_id,
        at: m.created_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendInput {
    /// Unique per message from this sender: resending with the same id is safe.
    pub client_id: String,
    /// text (default) or picture
    #[serde(default = "text_kind")]
    pub kind: String,
    pub text: Option<String>,
    pub attachment_id: Option<String>,
}

fn text_kind() -> String {
    "text".into()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInput {
    /// The doctor records that the evidence shows an offline diagnosis of this condition.
    #[serde(default)]
    pub qualifies: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonInput {
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CompleteInput {
    pub summary: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EscalateInput {
    /// The specialist (from a GP consultation) or expert (from a specialist one).
    pub doctor_id: String,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewInput {
    /// 1 to 5 stars
    pub rating: i64,
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyInput {
    pub reply: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub consultation_id: String,
    pub doctor_id: String,
    pub rating: i64,
    pub text: Option<String>,
    pub reply: Option<String>,
    pub created_at: i64,
}

fn review_view(r: ReviewRow) -> ReviewView {
    ReviewView {
        consultation_id: r.consultation_id,
        doctor_id: r.doctor_id,
        rating: r.rating,
        text: r.body,
        reply: r.reply,
        created_at: r.created_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorReviews {
    pub doctor_id: String,
    pub count: usize,
    /// Mean rating, one decimal; null without reviews.
    pub average: Option<f64>,
    pub reviews: Vec<ReviewView>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PolicyInput {
    /// true only where a region pilots online first visits for this department.
    pub allow_first_visit: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub department_id: String,
    pub allow_first_visit: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPackageInput {
    pub name: String,
    pub period_days: i64,
    pub consultations: i64,
    pub price_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackageView {
    pub id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub name: String,
    pub period_days: i64,
    pub consultations: i64,
    pub price_fen: i64,
}

fn package_view(p: PackageRow) -> PackageView {
    PackageView {
        id: p.id,
        doctor_id: p.doctor_id,
        org_id: p.org_id,
        name: p.name,
        period_days: p.period_days,
        consultations: p.consultations,
        price_fen: p.price_fen,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeInput {
    /// Omit for yourself, or a child in your care.
    pub patient_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub package_id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub remaining: i64,
}

fn subscription_view(s: SubscriptionRow) -> SubscriptionView {
    SubscriptionView {
        id: s.id,
        package_id: s.package_id,
        patient_id: s.patient_id,
        doctor_id: s.doctor_id,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        remaining: s.remaining,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub mime: String,
    pub size_bytes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntry {
    #[serde(flatten)]
    pub consultation: ConsultationView,
    pub waiting_minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadEntry {
    pub consultation: ConsultationView,
    pub messages: Vec<MessageView>,
}

// ------------------------------------------------------------------ helpers

/// Which side of a consultation the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Doctor,
    /// The patient, or the guardian of a child patient.
    Patient,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Doctor => "doctor",
            Side::Patient => "patient",
        }
    }

    fn ground(self, row: &ConsultationRow, caller: &Caller) -> &'static str {
        match self {
            Side::Doctor => "treating_practitioner",
            Side::Patient if row.patient_account_id.as_deref() == Some(&caller.account_id) => {
                "self"
            }
            Side::Patient => "guardian",
        }
    }
}

pub fn side_of(row: &ConsultationRow, caller: &Caller) -> Option<Side> {
    let me = caller.account_id.as_str();
    if row.doctor_id == me {
        Some(Side::Doctor)
    } else if row.patient_account_id.as_deref() == Some(me)
        || row.guardian_account_id.as_deref() == Some(me)
    {
        Some(Side::Patient)
    } else {
        None
    }
}

fn domain(e: DomainError) -> ApiError {
    let mut err = ApiError::from(e);
    if matches!(
        err.code,
        ErrorCode::IllegalTransition | ErrorCode::ConsultationClosed
    ) {
        err.status = StatusCode::CONFLICT;
    }
    err
}

/// Load a consultation the caller takes part in; anything else is "not found".
pub async fn load_for(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
) -> ApiResult<(ConsultationRow, Side)> {
    let row = cstore::consultation(conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let side = side_of(&row, caller).ok_or_else(ApiError::not_found)?;
    Ok((row, side))
}

/// A doctor who may take online consultations, or why not.
async fn eligible_doctor(conn: &mut AnyConnection, doctor_id: &str) -> ApiResult<PractitionerRow> {
    let doc = identity::practitioner(conn, doctor_id)
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(ErrorCode::NoSuchDoctor, "There is no such doctor.")
                    .on("doctor_id"),
            )
        })?;
    let role = Role::parse(&doc.role).unwrap_or(Role::Nurse);
    let since = parse_date(&doc.practising_since, "practising_since").map_err(ApiError::stored)?;
    rules::check_doctor(role, since, today_in_shanghai())?;
    Ok(doc)
}

/// The patient the caller acts for: themself, or a child in their care.
async fn patient_for(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: Option<&str>,
) -> ApiResult<(identity::PatientRow, Requester)> {
    let row = match patient_id {
        Some(id) => identity::patient(conn, id).await?,
        None => identity::patient_of_account(conn, &caller.account_id).await?,
    }
    .ok_or_else(ApiError::not_found)?;
    let me = Some(caller.account_id.as_str());
    let requester = if row.account_id.as_deref() == me {
        Requester::SelfPatient
    } else if row.guardian_account_id.as_deref() == me {
        Requester::LinkedGuardian
    } else {
        Requester::Other
    };
    if requester == Requester::Other {
        return Err(ApiError::not_found());
    }
    Ok((row, requester))
}

async fn notify(
    conn: &mut AnyConnection,
    topic: &str,
    recipient: Option<&str>,
    row: &ConsultationRow,
    now: i64,
) -> ApiResult<()> {
    ihos_store::outbox::put(
        conn,
        topic,
        recipient,
        &json!({"consultation_id": row.id, "status_from": row.status}),
        now,
    )
    .await?;
    Ok(())
}

fn patient_side_recipient(row: &ConsultationRow) -> Option<&str> {
    row.patient_account_id
        .as_deref()
        .or(row.guardian_account_id.as_deref())
}

/// The consultation ended without care: give back the package use, and
/// cancel (or refund in full) the visit's payment order. Answers the refund
/// to send to the provider after commit.
async fn refund(
    state: &AppState,
    conn: &mut AnyConnection,
    row: &ConsultationRow,
    now: i64,
) -> ApiResult<Option<crate::payment::service::PendingRefund>> {
    if let Some(sub) = &row.subscription_id {
        cstore::restore_subscription(conn, sub).await?;
    }
    let pending = crate::payment::service::withdraw_visit_in(
        state,
        conn,
        VisitKind::Consultation,
        &row.id,
        "the consultation ended before care",
        now,
    )
    .await?;
    if row.fee_fen > 0 {
        ihos_store::outbox::put(
            conn,
            "payment.refund",
            patient_side_recipient(row),
            &json!({"consultation_id": row.id, "amount_fen": row.fee_fen}),
            now,
        )
        .await?;
    }
    Ok(pending)
}

// ------------------------------------------------------------------ use cases
