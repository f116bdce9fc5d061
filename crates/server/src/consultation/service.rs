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
use crate::error::{ApiError, ApiResult};
use crate::identity::service::today_in_shanghai;
use crate::state::AppState;
use axum::http::StatusCode;

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

/// A patient (or a guardian for a child) asks a doctor for a follow-up consultation.
#[tracing::instrument(skip_all)]
pub async fn request(
    state: &AppState,
    caller: &Caller,
    input: NewConsultationInput,
) -> ApiResult<ConsultationView> {
    caller.require(Role::Patient)?;
    let complaint = super::triage::parse_complaint(&input.complaint)?;
    let triage = super::triage::assess(state, &complaint)?;
    // An emergency or a crisis is never booked: the answer is 120 or the crisis line.
    let refusal = match triage.level {
        ihos_triage::Level::Emergency => Some(ErrorCode::EmergencyCall120),
        ihos_triage::Level::Crisis => Some(ErrorCode::CrisisHotline),
        ihos_triage::Level::Routine => None,
    };
    if let Some(code) = refusal {
        let advice = super::triage::advice(state, &triage, crate::i18n::Lang::En);
        return Err(ApiError::from(
            DomainError::new(code, advice).on("complaint"),
        ));
    }
    let mut tx = state.store.begin().await?;
    let (patient, requester) = patient_for(&mut tx, caller, input.patient_id.as_deref()).await?;
    rules::check_requester(
        requester,
        parse_date(&patient.birth_date, "birth_date").map_err(ApiError::stored)?,
        today_in_shanghai(),
        input.guardian_present,
    )?;
    let doctor = eligible_doctor(&mut tx, &input.doctor_id).await?;
    let affiliations = identity::affiliations_of(&mut tx, &doctor.account_id).await?;
    let aff = match input.department_id.as_deref() {
        Some(dep) => affiliations
            .iter()
            .find(|a| a.department_id.as_deref() == Some(dep)),
        None => affiliations.first(),
    }
    .ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidDepartment,
                "The doctor does not work in this department.",
            )
            .on("department_id"),
        )
    })?;
    let pilot = match &aff.department_id {
        Some(dep) => cstore::dept_allows_first_visit(&mut tx, dep).await?,
        None => false,
    };
    let policy = if pilot {
        FirstVisitPolicy::PilotAllowed
    } else {
        FirstVisitPolicy::Strict
    };
    let evidence = match &input.evidence {
        Some(e) => Some(check_evidence(&mut tx, caller, &patient.id, e).await?),
        None => None,
    };
    rules::check_follow_up(evidence.is_some(), policy)?;
    let now = now_ms();
    let (subscription_id, fee_fen) = match input.subscription_id.as_deref() {
        Some(sub) => {
            if !cstore::use_subscription(&mut tx, sub, &patient.id, &doctor.account_id, now).await?
            {
                return Err(ApiError::conflict(
                    ErrorCode::PackageExhausted,
                    "This service package has no consultations left, has ended, or is not with this doctor.",
                ));
            }
            (Some(sub.to_string()), 0)
        }
        None => (None, state.settings.consultation_fee_fen),
    };
    let appointment_id = match input.appointment_id.as_deref() {
        Some(a) => Some(parse_text(a, "appointment_id", 64)?),
        None => None,
    };
    let new = NewConsultation {
        patient_id: patient.id.clone(),
        requester_id: caller.account_id.clone(),
        guardian_present: input.guardian_present && requester == Requester::LinkedGuardian,
        doctor_id: doctor.account_id.clone(),
        org_id: aff.org_id.clone(),
        department_id: aff.department_id.clone(),
        tier: Tier::Gp.as_str().into(),
        parent_id: None,
        status: Status::Requested.as_str().into(),
        complaint,
        suggested_specialty: triage
            .suggestions
            .first()
            .map(|s| s.specialty.code().to_string()),
        evidence_kind: evidence.as_ref().map(|e| e.0.as_str().to_string()),
        evidence_ref: evidence.as_ref().map(|e| e.1.clone()),
        evidence_note: evidence.and_then(|e| e.2),
        first_visit_pilot: pilot,
        appointment_id,
        subscription_id,
        fee_fen,
        created_at: now,
        expires_at: now + state.settings.consultation_answer_minutes * 60_000,
    };
    let id = cstore::insert_consultation(&mut tx, &new).await?;
    if let Some(e) = &new.evidence_ref
        && new.evidence_kind.as_deref() != Some("platform_visit")
    {
        cstore::link_attachment(&mut tx, e, &id).await?;
    }
    let row = cstore::consultation(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    notify(
        &mut tx,
        "consultation.requested",
        Some(&row.doctor_id),
        &row,
        now,
    )
    .await?;
    if fee_fen > 0 {
        ihos_store::outbox::put(
            &mut tx,
            "payment.charge",
            Some(&caller.account_id),
            &json!({"consultation_id": id, "amount_fen": fee_fen}),
            now,
        )
        .await?;
    }
    let ground = if requester == Requester::SelfPatient {
        "self"
    } else {
        "guardian"
    };
    caller
        .audit(
            &mut tx,
            "consultation.request",
            "patient",
            &patient.id,
            ground,
            Some(&row.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    view(&row)
}

/// Evidence of an offline diagnosis: answers (kind, reference, note).
async fn check_evidence(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: &str,
    e: &EvidenceInput,
) -> ApiResult<(EvidenceKind, String, Option<String>)> {
    let kind = EvidenceKind::parse(e.kind.trim())?;
    let bad =
        |m: &str| ApiError::from(DomainError::new(ErrorCode::InvalidEvidence, m).on("evidence"));
    let reference = e.reference.trim().to_string();
    if kind.is_upload() {
        let ok = cstore::attachment(conn, &reference)
            .await?
            .is_some_and(|a| a.uploader_id == caller.account_id);
        if !ok {
            return Err(bad(
                "Upload the outpatient or discharge record first (POST /api/v1/consultation-evidence) and give its id.",
            ));
        }
    } else {
        let ok = cstore::consultation(conn, &reference)
            .await?
            .is_some_and(|c| {
                c.patient_id == patient_id
                    && matches!(c.status.as_str(), "completed" | "referred_offline")
            });
        if !ok {
            return Err(bad(
                "The earlier visit must be a finished consultation of this patient on the platform.",
            ));
        }
    }
    let note = match e.note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(parse_text(n, "evidence.note", 500)?),
        _ => None,
    };
    Ok((kind, reference, note))
}

/// The state machine applied to one consultation by one actor, atomically.
async fn apply(
    conn: &mut AnyConnection,
    row: &ConsultationRow,
    action: Action,
    now: i64,
    ch: &StatusChange<'_>,
) -> ApiResult<Status> {
    let from = Status::parse(&row.status)?;
    let to = rules::transition(from, action).map_err(domain)?;
    if !cstore::change_status(conn, &row.id, from.as_str(), to.as_str(), now, ch).await? {
        return Err(ApiError::conflict(
            ErrorCode::ConsultationChanged,
            "Someone changed this consultation at the same moment; reload it and try again.",
        ));
    }
    if ch.ended {
        ihos_store::events::record_consultation_closed(conn, &row.id, to == Status::Completed)
            .await?;
    }
    Ok(to)
}

pub fn publish_status(state: &AppState, id: &str, status: Status) {
    let json = json!({"type": "status", "status": status.as_str()}).to_string();
    super::chat::hub(state).publish(id, RoomEvent::Status { json: json.into() });
}

async fn finish(
    state: &AppState,
    caller: &Caller,
    mut tx: cstore::Tx,
    id: &str,
    action: &str,
    status: Status,
) -> ApiResult<ConsultationView> {
    let row = cstore::consultation(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut tx,
            action,
            "consultation",
            id,
            "participant",
            Some(&row.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    publish_status(state, id, status);
    view(&row)
}

/// The doctor accepts, recording that the patient qualifies; a care
/// relationship lets them read the patient's record (audited).
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: AcceptInput,
) -> ApiResult<ConsultationView> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden(
            "Only the consulted doctor accepts a consultation.",
        ));
    }
    let from = Status::parse(&row.status)?;
    rules::transition(from, Action::Accept).map_err(domain)?;
    eligible_doctor(&mut tx, &row.doctor_id).await?;
    let policy = if row.first_visit_pilot == 1 {
        FirstVisitPolicy::PilotAllowed
    } else {
        FirstVisitPolicy::Strict
    };
    rules::check_qualification(input.qualifies, row.evidence_kind.is_some(), policy)?;
    let now = now_ms();
    let to = apply(
        &mut tx,
        &row,
        Action::Accept,
        now,
        &StatusChange {
            accepted: true,
            qualified_by: input.qualifies.then_some(caller.account_id.as_str()),
            ..Default::default()
        },
    )
    .await?;
    identity::insert_care_relationship(
        &mut tx,
        &row.patient_id,
        &row.doctor_id,
        &row.org_id,
        "consultation",
        now,
        now + state.settings.care_relationship_days * DAY_MS,
    )
    .await?;
    notify(
        &mut tx,
        "consultation.accepted",
        patient_side_recipient(&row),
        &row,
        now,
    )
    .await?;
    finish(state, caller, tx, id, "consultation.accept", to).await
}

/// Doctor-side transitions with a reason or summary, and the patient's cancel.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    text: Option<String>,
) -> ApiResult<ConsultationView> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    let allowed = match action.actor() {
        rules::Actor::Doctor => side == Side::Doctor,
        rules::Actor::PatientSide => side == Side::Patient,
        rules::Actor::System => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "The {} side may not {} this consultation.",
            side.as_str(),
            action.as_str()
        )));
    }
    let from = Status::parse(&row.status)?;
    rules::transition(from, action).map_err(domain)?;
    let text = match (action, text) {
        (Action::Complete, Some(t)) => Some(parse_text(&t, "summary", 4000)?),
        (Action::Decline | Action::ReferOffline, Some(t)) => Some(parse_text(&t, "reason", 1000)?),
        (Action::Decline | Action::ReferOffline | Action::Complete, None) => {
            return Err(ApiError::from(
                DomainError::new(ErrorCode::InvalidField, "Give a reason (or summary).")
                    .on("reason"),
            ));
        }
        (_, t) => t,
    };
    let now = now_ms();
    let ending = matches!(
        action,
        Action::Decline | Action::Cancel | Action::Complete | Action::ReferOffline
    );
    let refunds = matches!(action, Action::Decline | Action::Cancel);
    let ch = StatusChange {
        started: action == Action::Start,
        ended: ending,
        refunded: refunds,
        end_reason: match action {
            Action::Decline | Action::ReferOffline => text.as_deref(),
            Action::Cancel => Some("cancelled by the patient"),
            _ => None,
        },
        summary: (action == Action::Complete)
            .then_some(text.as_deref())
            .flatten(),
        ..Default::default()
    };
    let to = apply(&mut tx, &row, action, now, &ch).await?;
    let pending_refund = if refunds {
        refund(state, &mut tx, &row, now).await?
    } else {
        None
    };
    let recipient = match side {
        Side::Doctor => patient_side_recipient(&row),
        Side::Patient => Some(row.doctor_id.as_str()),
    };
    notify(
        &mut tx,
        &format!("consultation.{}", to.as_str()),
        recipient,
        &row,
        now,
    )
    .await?;
    if action == Action::ReferOffline {
        ihos_store::outbox::put(
            &mut tx,
            "referral.offline_visit",
            patient_side_recipient(&row),
            &json!({"consultation_id": row.id, "reason": text, "org_id": row.org_id}),
            now,
        )
        .await?;
    }
    let audit_action = format!("consultation.{}", action.as_str());
    let view = finish(state, caller, tx, id, &audit_action, to).await?;
    if let Some(r) = pending_refund {
        crate::payment::service::finish_refund(state, r).await;
    }
    Ok(view)
}

/// The doctor hands the case to the next tier (GP → specialist → expert's
/// studio); the new consultation carries this one as its parent so the
/// history travels along.
pub async fn escalate(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: EscalateInput,
) -> ApiResult<ConsultationView> {
    let reason = parse_text(&input.reason, "reason", 1000)?;
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden("Only the treating doctor escalates."));
    }
    rules::transition(Status::parse(&row.status)?, Action::Escalate).map_err(domain)?;
    let target = eligible_doctor(&mut tx, &input.doctor_id).await?;
    if target.account_id == row.doctor_id {
        return Err(ApiError::from(
            DomainError::new(ErrorCode::InvalidField, "Escalate to another doctor.")
                .on("doctor_id"),
        ));
    }
    let title = Title::parse(&target.title)?;
    let tier = rules::escalation_target(Tier::parse(&row.tier)?, title)?;
    let affiliations = identity::affiliations_of(&mut tx, &target.account_id).await?;
    let aff = affiliations.first().ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidDepartment,
                "That doctor has no department.",
            )
            .on("doctor_id"),
        )
    })?;
    let now = now_ms();
    let end_reason = format!("escalated to {}: {reason}", tier.as_str());
    apply(
        &mut tx,
        &row,
        Action::Escalate,
        now,
        &StatusChange {
            ended: true,
            end_reason: Some(&end_reason),
            ..Default::default()
        },
    )
    .await?;
    let new = NewConsultation {
        patient_id: row.patient_id.clone(),
        requester_id: row.requester_id.clone(),
        guardian_present: row.guardian_present == 1,
        doctor_id: target.account_id.clone(),
        org_id: aff.org_id.clone(),
        department_id: aff.department_id.clone(),
        tier: tier.as_str().into(),
        parent_id: Some(row.id.clone()),
        status: Status::Requested.as_str().into(),
        complaint: row.complaint.clone(),
        suggested_specialty: row.suggested_specialty.clone(),
        // The escalating doctor's consultation is the platform visit on record.
        evidence_kind: Some(EvidenceKind::PlatformVisit.as_str().into()),
        evidence_ref: Some(row.id.clone()),
        evidence_note: Some(reason),
        first_visit_pilot: row.first_visit_pilot == 1,
        appointment_id: None,
        subscription_id: None,
        // Paid once: the escalated consultation carries no new fee.
        fee_fen: 0,
        created_at: now,
        expires_at: now + state.settings.consultation_answer_minutes * 60_000,
    };
    let new_id = cstore::insert_consultation(&mut tx, &new).await?;
    let new_row = cstore::consultation(&mut tx, &new_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    notify(
        &mut tx,
        "consultation.requested",
        Some(&new_row.doctor_id),
        &new_row,
        now,
    )
    .await?;
    notify(
        &mut tx,
        "consultation.escalated",
        patient_side_recipient(&row),
        &row,
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "consultation.escalate",
            "consultation",
            &row.id,
            "participant",
            Some(&row.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    publish_status(state, &row.id, Status::Completed);
    view(&new_row)
}

/// One consultation, for its participants (audited).
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ConsultationView> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    caller
        .audit(
            &mut conn,
            "consultation.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    view(&row)
}

/// The caller's consultations (as patient or guardian), newest first.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<ConsultationView>> {
    let mut conn = state.store.conn().await?;
    let rows = cstore::for_patient_side(&mut conn, &caller.account_id, 200).await?;
    rows.iter().map(view).collect()
}

/// The doctor's workbench: waiting and open consultations, oldest first.
pub async fn queue(state: &AppState, caller: &Caller) -> ApiResult<Vec<QueueEntry>> {
    caller.require(Role::Doctor)?;
    let mut conn = state.store.conn().await?;
    let rows = cstore::for_doctor(
        &mut conn,
        &caller.account_id,
        &["requested", "accepted", "in_progress"],
        500,
    )
    .await?;
    let now = now_ms();
    rows.iter()
        .map(|r| {
            Ok(QueueEntry {
                consultation: view(r)?,
                waiting_minutes: (now - r.created_at).max(0) / 60_000,
            })
        })
        .collect()
}

/// The patient's earlier consultations, for the doctor of this one: only
/// while a care relationship is active; every read is audited.
pub async fn patient_history(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<Vec<ConsultationView>> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    let rel = Relationship {
        is_self: side == Side::Patient
            && row.patient_account_id.as_deref() == Some(&caller.account_id),
        is_guardian: side == Side::Patient
            && row.guardian_account_id.as_deref() == Some(&caller.account_id),
        is_treating: side == Side::Doctor
            && identity::is_treating(&mut conn, &row.patient_id, &caller.account_id, now_ms())
                .await?,
    };
    let ground = match patient_read_ground(&caller.roles(), &rel) {
        Ok(g) => g,
        Err(_) => {
            caller
                .audit(
                    &mut conn,
                    "patient.history.read.denied",
                    "patient",
                    &row.patient_id,
                    "none",
                    Some(&row.org_id),
                )
                .await?;
            return Err(ApiError::not_found());
        }
    };
    let rows = cstore::for_patient(&mut conn, &row.patient_id, 200).await?;
    caller
        .audit(
            &mut conn,
            "patient.history.read",
            "patient",
            &row.patient_id,
            ground.as_str(),
            Some(&row.org_id),
        )
        .await?;
    rows.iter().map(view).collect()
}

/// Chat history after `after` (the resume point), for participants.
pub async fn messages(
    state: &AppState,
    caller: &Caller,
    id: &str,
    after: i64,
    limit: i64,
) -> ApiResult<Vec<MessageView>> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    let rows = cstore::messages_after(&mut conn, id, after.max(0), limit.clamp(1, 1000)).await?;
    caller
        .audit(
            &mut conn,
            "consultation.messages.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    Ok(rows.into_iter().map(message_view).collect())
}

/// The escalation chain ending in this consultation, oldest first, with its
/// chat: the history that travels to the next tier.
pub async fn thread(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Vec<ThreadEntry>> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    let mut chain = vec![row.clone()];
    let mut parent = row.parent_id.clone();
    while let Some(pid) = parent {
        let Some(p) = cstore::consultation(&mut conn, &pid).await? else {
            break;
        };
        parent = p.parent_id.clone();
        chain.push(p);
        if chain.len() > 10 {
            break;
        }
    }
    chain.reverse();
    let mut out = Vec::with_capacity(chain.len());
    for c in chain {
        let msgs = cstore::messages_after(&mut conn, &c.id, 0, 5000).await?;
        out.push(ThreadEntry {
            consultation: view(&c)?,
            messages: msgs.into_iter().map(message_view).collect(),
        });
    }
    caller
        .audit(
            &mut conn,
            "consultation.thread.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    Ok(out)
}

/// A message to store and fan out; answers (message, newly stored).
pub async fn send(
    state: &AppState,
    row: &ConsultationRow,
    side: Side,
    caller_id: &str,
    input: SendInput,
) -> ApiResult<(MessageRow, bool)> {
    let client_id = parse_client_id(input.client_id.trim())?;
    let (kind, body, attachment_id) = match input.kind.as_str() {
        "text" => {
            let text = input.text.as_deref().unwrap_or_default();
            (
                "text",
                Some(parse_text(text, "text", MAX_MESSAGE_CHARS)?),
                None,
            )
        }
        "picture" => {
            let aid = input.attachment_id.unwrap_or_default();
            let mut conn = state.store.conn().await?;
            let ok = cstore::attachment(&mut conn, &aid)
                .await?
                .is_some_and(|a| a.consultation_id.as_deref() == Some(&row.id));
            if !ok {
                return Err(ApiError::from(
                    DomainError::new(
                        ErrorCode::InvalidAttachment,
                        "Upload the picture to this consultation first and send its id.",
                    )
                    .on("attachment_id"),
                ));
            }
            ("picture", None, Some(aid))
        }
        _ => {
            return Err(ApiError::from(
                DomainError::new(ErrorCode::InvalidField, "kind is text or picture.").on("kind"),
            ));
        }
    };
    let msg = NewMessage {
        consultation_id: row.id.clone(),
        sender_id: caller_id.to_string(),
        sender_role: side.as_str().into(),
        client_id,
        kind: kind.into(),
        body,
        attachment_id,
        created_at: now_ms(),
    };
    match super::chat::hub(state).submit(msg).await? {
        Appended::New(m) => Ok((m, true)),
        Appended::Repeat(m) => Ok((m, false)),
        Appended::Closed => Err(ApiError::conflict(
            ErrorCode::ChatClosed,
            "Chat is open only while the doctor has accepted the consultation and it has not ended.",
        )),
    }
}

/// Store an uploaded picture or record after checking its size and type.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    consultation_id: Option<&str>,
    content_type: &str,
    bytes: &[u8],
) -> ApiResult<AttachmentView> {
    if let Some(id) = consultation_id {
        let mut conn = state.store.conn().await?;
        load_for(&mut conn, caller, id).await?;
    } else {
        caller.require(Role::Patient)?;
    }
    if bytes.len() > state.settings.picture_max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PictureTooLarge,
            format!(
                "A picture may be at most {} KB.",
                state.settings.picture_max_bytes / 1024
            ),
        ));
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::UnsupportedPicture,
            "The upload is empty.",
        ));
    }
    let mime = rules::sniff_picture(content_type, bytes)?;
    let id = new_id();
    let key = super::blob::put(&state.settings, &id, bytes).await?;
    let row = AttachmentRow {
        id: id.clone(),
        consultation_id: consultation_id.map(str::to_string),
        uploader_id: caller.account_id.clone(),
        mime: mime.into(),
        size_bytes: bytes.len() as i64,
        sha256: super::blob::sha256_hex(bytes),
        blob_key: key,
        created_at: now_ms(),
    };
    let mut conn = state.store.conn().await?;
    cstore::insert_attachment(&mut conn, &row).await?;
    Ok(AttachmentView {
        id,
        mime: mime.into(),
        size_bytes: row.size_bytes,
    })
}

/// An attachment's bytes, for participants of its consultation (audited).
pub async fn download(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
    attachment_id: &str,
) -> ApiResult<(String, Vec<u8>)> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, consultation_id).await?;
    let a = cstore::attachment(&mut conn, attachment_id)
        .await?
        .filter(|a| {
            a.consultation_id.as_deref() == Some(consultation_id)
                || row.evidence_ref.as_deref() == Some(&a.id)
        })
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut conn,
            "consultation.attachment.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    let bytes = super::blob::get(&state.settings, &a.blob_key).await?;
    Ok((a.mime, bytes))
}

/// The patient served (or their guardian) rates a finished consultation, once.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReviewInput,
) -> ApiResult<ReviewView> {
    let mut tx = state.store.begin().await?;
    let row = cstore::consultation(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let served = side_of(&row, caller) == Some(Side::Patient);
    rules::check_review(served, Status::parse(&row.status)?).map_err(|e| {
        let mut err = ApiError::from(e);
        if err.code == ErrorCode::ReviewNotOpen {
            err.status = StatusCode::CONFLICT;
        }
        err
    })?;
    let rating = rules::parse_rating(input.rating)?;
    let body = match input.text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Some(parse_text(t, "text", 1000)?),
        _ => None,
    };
    let r = ReviewRow {
        consultation_id: row.id.clone(),
        doctor_id: row.doctor_id.clone(),
        author_id: caller.account_id.clone(),
        rating,
        body,
        reply: None,
        replied_at: None,
        created_at: now_ms(),
    };
    cstore::insert_review(&mut tx, &r)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate { .. } => ApiError::conflict(
                ErrorCode::AlreadyReviewed,
                "You have already reviewed this consultation.",
            ),
            other => other.into(),
        })?;
    ihos_store::events::record(
        &mut tx,
        &ihos_store::events::NewEvent {
            kind: ihos_store::events::REVIEW,
            org_id: &row.org_id,
            department_id: row.department_id.as_deref(),
            practitioner_id: Some(&row.doctor_id),
            rating: Some(rating),
        },
    )
    .await?;
    ihos_store::outbox::put(
        &mut tx,
        "consultation.reviewed",
        Some(&row.doctor_id),
        &json!({"consultation_id": row.id, "rating": rating}),
        r.created_at,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(review_view(r))
}

/// The doctor answers a review once.
pub async fn reply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReplyInput,
) -> ApiResult<ReviewView> {
    let text = parse_text(&input.reply, "reply", 1000)?;
    let mut conn = state.store.conn().await?;
    let (_, side) = load_for(&mut conn, caller, id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden("Only the doctor reviewed replies."));
    }
    if !cstore::reply_review(&mut conn, id, &caller.account_id, &text, now_ms()).await? {
        return Err(ApiError::conflict(
            ErrorCode::ReplyNotPossible,
            "There is no review to answer yet, or you have answered it already.",
        ));
    }
    let r = cstore::review(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(review_view(r))
}

/// A doctor's public reviews (no patient names) and mean rating.
pub async fn doctor_reviews(state: &AppState, doctor_id: &str) -> ApiResult<DoctorReviews> {
    let mut conn = state.store.conn().await?;
    let rows = cstore::reviews_of_doctor(&mut conn, doctor_id, 200).await?;
    let count = rows.len();
    let average = (count > 0).then(|| {
        let sum: i64 = rows.iter().map(|r| r.rating).sum();
        ((sum as f64 / count as f64) * 10.0).round() / 10.0
    });
    Ok(DoctorReviews {
        doctor_id: doctor_id.to_string(),
        count,
        average,
        reviews: rows.into_iter().map(review_view).collect(),
    })
}

/// The org admin sets whether a department pilots online first visits.
pub async fn set_policy(
    state: &AppState,
    caller: &Caller,
    department_id: &str,
    input: PolicyInput,
) -> ApiResult<PolicyView> {
    let mut tx = state.store.begin().await?;
    let dep = org::department(&mut tx, department_id)
        .await?
        .filter(|d| caller.may_admin_org(&d.org_id))
        .ok_or_else(ApiError::not_found)?;
    cstore::set_dept_policy(
        &mut tx,
        &dep.id,
        input.allow_first_visit,
        &caller.account_id,
        now_ms(),
    )
    .await?;
    caller
        .audit(
            &mut tx,
            if input.allow_first_visit {
                "department.first_visit.pilot"
            } else {
                "department.first_visit.strict"
            },
            "department",
            &dep.id,
            "org_admin",
            Some(&dep.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(PolicyView {
        department_id: dep.id,
        allow_first_visit: input.allow_first_visit,
    })
}

pub async fn policy(state: &AppState, department_id: &str) -> ApiResult<PolicyView> {
    let mut conn = state.store.conn().await?;
    let dep = org::department(&mut conn, department_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(PolicyView {
        allow_first_visit: cstore::dept_allows_first_visit(&mut conn, &dep.id).await?,
        department_id: dep.id,
    })
}

/// A doctor offers a family-doctor service package.
pub async fn create_package(
    state: &AppState,
    caller: &Caller,
    input: NewPackageInput,
) -> ApiResult<PackageView> {
    caller.require(Role::Doctor)?;
    let name = parse_text(&input.name, "name", 60)?;
    let bad = |f: &'static str, m: &str| {
        ApiError::from(DomainError::new(ErrorCode::InvalidField, m).on(f))
    };
    if !(1..=366).contains(&input.period_days) {
        return Err(bad("period_days", "A package lasts 1 to 366 days."));
    }
    if !(1..=1000).contains(&input.consultations) {
        return Err(bad(
            "consultations",
            "A package holds 1 to 1000 consultations.",
        ));
    }
    if !(0..=100_000_000).contains(&input.price_fen) {
        return Err(bad(
            "price_fen",
            "The price is in fen, 0 to 1,000,000 yuan.",
        ));
    }
    let mut tx = state.store.begin().await?;
    let doc = eligible_doctor(&mut tx, &caller.account_id).await?;
    let aff = identity::affiliations_of(&mut tx, &doc.account_id).await?;
    let org_id = aff
        .first()
        .map(|a| a.org_id.clone())
        .ok_or_else(ApiError::not_found)?;
    let p = PackageRow {
        id: new_id(),
        doctor_id: doc.account_id,
        org_id,
        name,
        period_days: input.period_days,
        consultations: input.consultations,
        price_fen: input.price_fen,
        active: 1,
        created_at: now_ms(),
    };
    cstore::insert_package(&mut tx, &p).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(package_view(p))
}

pub async fn doctor_packages(state: &AppState, doctor_id: &str) -> ApiResult<Vec<PackageView>> {
    let mut conn = state.store.conn().await?;
    Ok(cstore::packages_of_doctor(&mut conn, doctor_id)
        .await?
        .into_iter()
        .map(package_view)
        .collect())
}

/// A patient (or guardian) subscribes to a package for its period.
pub async fn subscribe(
    state: &AppState,
    caller: &Caller,
    package_id: &str,
    input: SubscribeInput,
) -> ApiResult<SubscriptionView> {
    caller.require(Role::Patient)?;
    let mut tx = state.store.begin().await?;
    let p = cstore::package(&mut tx, package_id)
        .await?
        .filter(|p| p.active == 1)
        .ok_or_else(ApiError::not_found)?;
    let (patient, _) = patient_for(&mut tx, caller, input.patient_id.as_deref()).await?;
    let now = now_ms();
    let s = SubscriptionRow {
        id: new_id(),
        package_id: p.id.clone(),
        patient_id: patient.id.clone(),
        account_id: caller.account_id.clone(),
        doctor_id: p.doctor_id.clone(),
        starts_at: now,
        ends_at: now + p.period_days * DAY_MS,
        remaining: p.consultations,
        created_at: now,
    };
    cstore::insert_subscription(&mut tx, &s).await?;
    if p.price_fen > 0 {
        ihos_store::outbox::put(
            &mut tx,
            "payment.charge",
            Some(&caller.account_id),
            &json!({"subscription_id": s.id, "amount_fen": p.price_fen}),
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(subscription_view(s))
}

pub async fn subscription(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<SubscriptionView> {
    let mut conn = state.store.conn().await?;
    let s = cstore::subscription(&mut conn, id)
        .await?
        .filter(|s| s.account_id == caller.account_id || s.doctor_id == caller.account_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(subscription_view(s))
}
