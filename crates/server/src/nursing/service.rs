//! Home nursing use cases: the catalogue, nurse qualifications,
//! assessments, ordering (assessment required), payment (`mark_paid`, the
//! seam the payment module calls), assignment of a qualified nurse, the
//! visit (accept, check in, check out with a record), safety alerts and the
//! patient's review. One transaction per use case; every step is written to
//! the order's timeline and the audit log; every read of patient data is
//! authorised by role and relationship and audited.

use axum::http::StatusCode;
use ihos_domain::ErrorCode;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::nursing::{self as rules, Action, Location, ServiceSpec, Status};
use ihos_domain::payment::VisitKind;
use ihos_domain::{DomainError, Role, Title, parse_date};
use ihos_store::nursing::{
    self as store, NewOrder, NewService, OrderChange, OrderFilter, OrderRow,
};
use ihos_store::outbox::put as outbox;
use ihos_store::{AnyConnection, StoreError, identity, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::identity::service::today_in_shanghai;
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;

// ------------------------------------------------------------------ inputs and views

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewServiceInput {
    /// Stable code, e.g. picc_maintenance
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub fee_fen: i64,
    pub duration_minutes: i64,
    /// Least years of practice of the nurse (at least the hospital setting).
    pub min_years: Option<i64>,
    /// wound_care, picc, catheter, maternal_newborn, geriatric, injection
    pub required_qualification: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub fee_fen: i64,
    pub duration_minutes: i64,
    pub min_years: i64,
    pub required_qualification: Option<String>,
}

fn service_view(s: store::ServiceRow) -> ServiceView {
    ServiceView {
        id: s.id,
        org_id: s.org_id,
        org_name: s.org_name,
        code: s.code,
        name: s.name,
        description: s.description,
        fee_fen: s.fee_fen,
        duration_minutes: s.duration_minutes,
        min_years: s.min_years,
        required_qualification: s.required_qualification,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct QualificationsInput {
    pub qualifications: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NurseView {
    pub id: String,
    pub name: String,
    pub title: String,
    pub years: i64,
    pub qualifications: Vec<String>,
    /// For a given order: may this nurse be assigned to it.
    pub eligible: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssessmentInput {
    pub patient_id: String,
    /// The hospital the assessor works for.
    pub org_id: String,
    /// What was assessed (condition, suitability for care at home).
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentView {
    pub id: String,
    pub patient_id: String,
    pub org_id: String,
    pub valid_until: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrderInput {
    /// Omit for yourself, or a child in your care.
    pub patient_id: Option<String>,
    pub service_id: String,
    /// Where the nurse comes; encrypted at rest, shown masked to others than the nurse.
    pub address: String,
    /// Beijing time, YYYY-MM-DDTHH:MM
    pub window_start: String,
    pub window_end: String,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignInput {
    pub nurse_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonInput {
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LocationInput {
    pub lat: f64,
    pub lng: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckOutInput {
    pub lat: f64,
    pub lng: f64,
    /// What was done at the visit (required).
    #[serde(default)]
    pub record: String,
    /// Vital signs and observations, free text (optional).
    pub vitals: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SafetyInput {
    /// patient_deterioration, violence_or_threat, unsafe_environment, other
    pub kind: String,
    #[serde(default)]
    pub note: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewInput {
    pub rating: i64,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaceView {
    pub lat: f64,
    pub lng: f64,
}

fn place(lat: Option<i64>, lng: Option<i64>) -> Option<PlaceView> {
    Some(PlaceView {
        lat: lat? as f64 / 1e6,
        lng: lng? as f64 / 1e6,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    pub service_id: String,
    pub service_name: String,
    pub org_id: String,
    pub org_name: String,
    pub patient_id: String,
    /// Masked (张*) for hospital staff who are not the nurse.
    pub patient_name: String,
    /// awaiting_payment, paid, assigned, accepted, in_visit, completed, cancelled
    pub status: String,
    pub fee_fen: i64,
    pub address: String,
    pub address_masked: bool,
    pub window_start: i64,
    pub window_end: i64,
    pub note: Option<String>,
    /// consultation, appointment or assessment
    pub assessment_kind: String,
    pub nurse_id: Option<String>,
    pub nurse_name: Option<String>,
    pub paid_at: Option<i64>,
    pub assigned_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub checked_in_at: Option<i64>,
    pub check_in: Option<PlaceView>,
    pub checked_out_at: Option<i64>,
    pub check_out: Option<PlaceView>,
    /// What was done (patient side and nurse only).
    pub record: Option<String>,
    pub vitals: Option<String>,
    pub cancelled_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyAlertView {
    pub id: String,
    pub kind: String,
    pub note: String,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NursingReviewView {
    pub rating: i64,
    pub text: Option<String>,
    pub created_at: i64,
}

/// The complete record of one visit.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderRecord {
    pub order: OrderView,
    pub events: Vec<EventView>,
    pub safety_alerts: Vec<SafetyAlertView>,
    pub review: Option<NursingReviewView>,
    /// Who the caller is to this order: patient, nurse or hospital.
    pub viewer: String,
}

// ------------------------------------------------------------------ helpers

/// Who the caller is to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The patient, or the guardian of a child patient.
    Patient,
    /// The nurse the order is assigned to.
    Nurse,
    /// An admin of the hospital (dispatch).
    Hospital,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Patient => "patient",
            Side::Nurse => "nurse",
            Side::Hospital => "hospital",
        }
    }
}

pub fn side_of(row: &OrderRow, caller: &Caller) -> Option<Side> {
    let me = Some(caller.account_id.as_str());
    if row.patient_account_id.as_deref() == me || row.guardian_account_id.as_deref() == me {
        Some(Side::Patient)
    } else if row.nurse_id.as_deref() == me {
        Some(Side::Nurse)
    } else if caller.may_admin_org(&row.org_id) {
        Some(Side::Hospital)
    } else {
        None
    }
}

fn transition(from: &str, action: Action) -> ApiResult<(Status, Status)> {
    let from = Status::parse(from)?;
    let to = rules::next(from, action).map_err(ApiError::domain_conflict)?;
    Ok((from, to))
}

fn raced() -> ApiError {
    ApiError::conflict(
        ErrorCode::OrderChanged,
        "Someone changed this order at the same moment; reload and try again.",
    )
}

fn mask_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => format!("{first}{}", "*".repeat(c.count().max(1))),
        None => String::new(),
    }
}

/// One step of the visit: on the timeline and in the audit log, in the caller's transaction.
async fn record_step(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    row: &OrderRow,
    action: &str,
    detail: Option<&str>,
    ground: &str,
    now: i64,
) -> ApiResult<()> {
    store::add_event(
        conn,
        &row.id,
        caller.map(|c| c.account_id.as_str()),
        action,
        detail,
        now,
    )
    .await?;
    crate::audit::record(
        conn,
        caller,
        &format!("nursing.{action}"),
        "nursing_order",
        &row.id,
        ground,
        Some(&row.org_id),
    )
    .await
}

async fn notify(
    conn: &mut AnyConnection,
    topic: &str,
    recipient: Option<&str>,
    row: &OrderRow,
    now: i64,
) -> ApiResult<()> {
    outbox(
        conn,
        topic,
        recipient,
        &json!({"nursing_order_id": row.id, "service": row.service_name, "window_start": row.window_start}),
        now,
    )
    .await?;
    Ok(())
}

fn patient_recipient(row: &OrderRow) -> Option<&str> {
    row.patient_account_id
        .as_deref()
        .or(row.guardian_account_id.as_deref())
}

async fn notify_admins(
    conn: &mut AnyConnection,
    topic: &str,
    row: &OrderRow,
    extra: serde_json::Value,
    now: i64,
) -> ApiResult<()> {
    for admin in store::org_admins(conn, &row.org_id).await? {
        let mut payload = json!({"nursing_order_id": row.id, "service": row.service_name});
        if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        outbox(conn, topic, Some(&admin), &payload, now).await?;
    }
    Ok(())
}

async fn load(conn: &mut AnyConnection, id: &str) -> ApiResult<OrderRow> {
    store::order(conn, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Load an order the caller may act on; anyone else gets "not found".
async fn load_for(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
) -> ApiResult<(OrderRow, Side)> {
    let row = load(conn, id).await?;
    let side = side_of(&row, caller).ok_or_else(ApiError::not_found)?;
    Ok((row, side))
}

/// The view for `side`. The full address goes to the patient side and to
/// the nurse once they accepted (a care relationship); others see it masked.
async fn view_for(
    state: &AppState,
    conn: &mut AnyConnection,
    row: &OrderRow,
    side: Side,
    caller: &Caller,
) -> ApiResult<OrderView> {
    let nurse_sees = side == Side::Nurse
        && identity::is_treating(conn, &row.patient_id, &caller.account_id, now_ms()).await?;
    let full = side == Side::Patient || nurse_sees;
    let address = if full {
        state
            .vault
            .decrypt(&row.address_enc)
            .unwrap_or_else(|| row.address_masked.clone())
    } else {
        row.address_masked.clone()
    };
    let clinical = side == Side::Patient || side == Side::Nurse;
    Ok(OrderView {
        id: row.id.clone(),
        service_id: row.service_id.clone(),
        service_name: row.service_name.clone(),
        org_id: row.org_id.clone(),
        org_name: row.org_name.clone(),
        patient_id: row.patient_id.clone(),
        patient_name: if side == Side::Hospital {
            mask_name(&row.patient_name)
        } else {
            row.patient_name.clone()
        },
        status: row.status.clone(),
        fee_fen: row.fee_fen,
        address,
        address_masked: !full,
        window_start: row.window_start,
        window_end: row.window_end,
        note: if clinical {
            row.patient_note.clone()
        } else {
            None
        },
        assessment_kind: row.assessment_kind.clone(),
        nurse_id: row.nurse_id.clone(),
        nurse_name: row.nurse_name.clone(),
        paid_at: row.paid_at,
        assigned_at: row.assigned_at,
        accepted_at: row.accepted_at,
        checked_in_at: row.checked_in_at,
        check_in: place(row.check_in_lat_e6, row.check_in_lng_e6),
        checked_out_at: row.checked_out_at,
        check_out: place(row.check_out_lat_e6, row.check_out_lng_e6),
        record: if clinical {
            row.record_text.clone()
        } else {
            None
        },
        vitals: if clinical {
            row.record_vitals.clone()
        } else {
            None
        },
        cancelled_at: row.cancelled_at,
        created_at: row.created_at,
    })
}

/// The ground on which `side` reads the patient's data in an order.
async fn read_ground(
    conn: &mut AnyConnection,
    row: &OrderRow,
    side: Side,
    caller: &Caller,
) -> ApiResult<&'static str> {
    Ok(match side {
        Side::Patient => {
            if row.patient_account_id.as_deref() == Some(caller.account_id.as_str()) {
                "self"
            } else {
                "guardian"
            }
        }
        Side::Nurse => {
            let rel = Relationship {
                is_treating: identity::is_treating(
                    conn,
                    &row.patient_id,
                    &caller.account_id,
                    now_ms(),
                )
                .await?,
                ..Default::default()
            };
            match patient_read_ground(&caller.roles(), &rel) {
                Ok(g) => g.as_str(),
                // Assigned, not yet accepted: the dispatch view only.
                Err(_) => "assigned_nurse_dispatch",
            }
        }
        Side::Hospital => "hospital_dispatch",
    })
}

/// The patient the caller acts for: themself, or a child in their care.
async fn patient_for(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: Option<&str>,
) -> ApiResult<(identity::PatientRow, &'static str)> {
    let row = match patient_id {
        Some(id) => identity::patient(conn, id).await?,
        None => identity::patient_of_account(conn, &caller.account_id).await?,
    }
    .ok_or_else(ApiError::not_found)?;
    let me = Some(caller.account_id.as_str());
    if row.account_id.as_deref() == me {
        Ok((row, "self"))
    } else if row.guardian_account_id.as_deref() == me {
        Ok((row, "guardian"))
    } else {
        Err(ApiError::not_found())
    }
}

fn optional_text(
    s: Option<&str>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match s.map(str::trim) {
        Some(t) if t.chars().count() > max => Err(DomainError::new(
            ErrorCode::TextTooLong,
            format!("At most {max} characters."),
        )
        .on(field)),
        Some(t) if !t.is_empty() => Ok(Some(t.to_string())),
        _ => Ok(None),
    }
}

// ------------------------------------------------------------------ catalogue and staff

/// The catalogue of one hospital, or of all.
pub async fn catalogue(state: &AppState, org_id: Option<&str>) -> ApiResult<Vec<ServiceView>> {
    let mut c = state.store.conn().await?;
    Ok(store::services(&mut c, org_id)
        .await?
        .into_iter()
        .map(service_view)
        .collect())
}

/// An org admin adds a service to their hospital's catalogue.
#[tracing::instrument(skip_all, fields(org = %org_id))]
pub async fn add_service(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: NewServiceInput,
) -> ApiResult<ServiceView> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let policy = &state.settings.nursing;
    let spec = ServiceSpec::parse(
        &input.code,
        &input.name,
        input.fee_fen,
        input.duration_minutes,
        input.min_years.unwrap_or(policy.min_nurse_years),
        input.required_qualification.as_deref(),
        policy,
    )?;
    let description = optional_text(Some(&input.description), "description", 500)?;
    let mut tx = state.store.begin().await?;
    let org = ihos_store::org::org(&mut tx, org_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if org.kind != "hospital" && org.kind != "community_health_centre" {
        return Err(ApiError::from(DomainError::new(
            ErrorCode::NotACareProvider,
            "Only hospitals and community health centres offer home nursing.",
        )));
    }
    let id = store::insert_service(
        &mut tx,
        &NewService {
            org_id: org_id.into(),
            code: spec.code,
            name: spec.name,
            description: description.unwrap_or_default(),
            fee_fen: spec.fee_fen,
            duration_minutes: spec.duration_minutes,
            min_years: spec.min_years,
            required_qualification: spec.required_qualification.map(str::to_string),
        },
        now_ms(),
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate { .. } => ApiError::conflict(
            ErrorCode::ServiceCodeTaken,
            "This hospital already has a service with that code.",
        ),
        other => other.into(),
    })?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.service.create",
        "nursing_service",
        &id,
        "org_admin",
        Some(org_id),
    )
    .await?;
    let row = store::service(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(service_view(row))
}

async fn nurse_at(
    conn: &mut AnyConnection,
    nurse_id: &str,
    org_id: &str,
) -> ApiResult<identity::PractitionerRow> {
    let no_such = || {
        ApiError::from(
            DomainError::new(
                ErrorCode::NoSuchNurse,
                "There is no such nurse at this hospital.",
            )
            .on("nurse_id"),
        )
    };
    let p = identity::practitioner(conn, nurse_id)
        .await?
        .ok_or_else(no_such)?;
    let works_here = identity::affiliations_of(conn, nurse_id)
        .await?
        .iter()
        .any(|a| a.org_id == org_id);
    if !works_here {
        return Err(no_such());
    }
    Ok(p)
}

/// An org admin records the qualifications the hospital verified for a nurse.
#[tracing::instrument(skip_all, fields(nurse = %nurse_id))]
pub async fn set_qualifications(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    nurse_id: &str,
    input: QualificationsInput,
) -> ApiResult<NurseView> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let mut quals = Vec::new();
    for q in &input.qualifications {
        let q = rules::parse_qualification(q)?;
        if !quals.contains(&q) {
            quals.push(q);
        }
    }
    let mut tx = state.store.begin().await?;
    let p = nurse_at(&mut tx, nurse_id, org_id).await?;
    if p.role != Role::Nurse.as_str() {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::NotANurse,
                "Qualifications are recorded for nurses.",
            )
            .on("nurse_id"),
        ));
    }
    store::set_qualifications(
        &mut tx,
        nurse_id,
        org_id,
        &quals,
        &caller.account_id,
        now_ms(),
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.qualifications.set",
        "practitioner",
        nurse_id,
        "org_admin",
        Some(org_id),
    )
    .await?;
    let view = nurse_view(&mut tx, &p, org_id, None).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

async fn nurse_view(
    conn: &mut AnyConnection,
    p: &identity::PractitionerRow,
    org_id: &str,
    for_order: Option<(&OrderRow, i64)>,
) -> ApiResult<NurseView> {
    let quals = store::qualifications(conn, &p.account_id, org_id).await?;
    let today = today_in_shanghai();
    let since = parse_date(&p.practising_since, "practising_since").map_err(ApiError::stored)?;
    let eligible = for_order.map(|(o, min_years)| {
        rules::check_nurse(
            Role::parse(&p.role).unwrap_or(Role::Doctor),
            since,
            today,
            &quals,
            min_years,
            o.required_qualification.as_deref(),
        )
        .is_ok()
    });
    Ok(NurseView {
        id: p.account_id.clone(),
        name: p.name.clone(),
        title: Title::parse(&p.title)
            .map(|t| t.label_zh())
            .unwrap_or_default()
            .into(),
        years: rules::years_of_practice(since, today),
        qualifications: quals,
        eligible,
    })
}

/// The hospital's nurses (org admin), with whether each may take `order_id`.
pub async fn nurses(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    order_id: Option<&str>,
) -> ApiResult<Vec<NurseView>> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let mut c = state.store.conn().await?;
    let order = match order_id {
        Some(id) => Some(load(&mut c, id).await?).filter(|o| o.org_id == org_id),
        None => None,
    };
    let min = |o: &OrderRow| o.min_years.max(state.settings.nursing.min_nurse_years);
    let mut out = Vec::new();
    for p in identity::practitioners_of_org(&mut c, org_id).await? {
        if p.role != Role::Nurse.as_str() {
            continue;
        }
        let v = nurse_view(&mut c, &p, org_id, order.as_ref().map(|o| (o, min(o)))).await?;
        out.push(v);
    }
    Ok(out)
}

/// A doctor or nurse of the hospital records that the patient may be nursed at home.
#[tracing::instrument(skip_all)]
pub async fn assess(
    state: &AppState,
    caller: &Caller,
    input: AssessmentInput,
) -> ApiResult<AssessmentView> {
    if !(caller.has(Role::Doctor) || caller.has(Role::Nurse)) {
        return Err(ApiError::forbidden(
            "Assessments for home nursing are made by the hospital's doctors and nurses.",
        ));
    }
    let note = optional_text(Some(&input.note), "note", 1000)?.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidNote,
                "Write what you assessed (1-1000 characters).",
            )
            .on("note"),
        )
    })?;
    let mut tx = state.store.begin().await?;
    let works_here = identity::affiliations_of(&mut tx, &caller.account_id)
        .await?
        .iter()
        .any(|a| a.org_id == input.org_id);
    if !works_here {
        return Err(ApiError::forbidden(
            "You can assess patients only for a hospital you work at.",
        ));
    }
    let patient = identity::patient(&mut tx, &input.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    let valid_until = now + state.settings.nursing.assessment_valid_days * DAY_MS;
    let id = store::insert_assessment(
        &mut tx,
        &patient.id,
        &input.org_id,
        &caller.account_id,
        &note,
        now,
        valid_until,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.assessment.create",
        "patient",
        &patient.id,
        "nursing_assessment",
        Some(&input.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(AssessmentView {
        id,
        patient_id: patient.id,
        org_id: input.org_id,
        valid_until,
    })
}

// ------------------------------------------------------------------ orders

/// A patient (or guardian) orders a home visit. Refused without an assessment by the hospital.
#[tracing::instrument(skip_all)]
pub async fn order(
    state: &AppState,
    caller: &Caller,
    input: NewOrderInput,
) -> ApiResult<OrderView> {
    caller.require(Role::Patient)?;
    let policy = &state.settings.nursing;
    let address = rules::parse_address(&input.address)?;
    let start = rules::parse_local_time(&input.window_start, "window_start")?;
    let end = rules::parse_local_time(&input.window_end, "window_end")?;
    let now = now_ms();
    rules::check_window(start, end, now, policy)?;
    let note = optional_text(input.note.as_deref(), "note", 500)?;
    let mut tx = state.store.begin().await?;
    let (patient, ground) = patient_for(&mut tx, caller, input.patient_id.as_deref()).await?;
    let service = store::service(&mut tx, &input.service_id)
        .await?
        .filter(|s| s.active == 1)
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::NoSuchService,
                    "There is no such nursing service.",
                )
                .on("service_id"),
            )
        })?;
    let found = store::find_assessment(
        &mut tx,
        &patient.id,
        &service.org_id,
        now - policy.assessment_days * DAY_MS,
        now,
    )
    .await?;
    let (kind, reference) = rules::require_assessment(found, policy)?;
    let id = store::insert_order(
        &mut tx,
        &NewOrder {
            service_id: service.id.clone(),
            org_id: service.org_id.clone(),
            patient_id: patient.id.clone(),
            ordered_by: caller.account_id.clone(),
            status: Status::AwaitingPayment.as_str().into(),
            fee_fen: service.fee_fen,
            address_enc: state.vault.encrypt(&address),
            address_masked: rules::mask_address(&address),
            window_start: start,
            window_end: end,
            patient_note: note,
            assessment_kind: kind,
            assessment_ref: reference,
        },
        now,
    )
    .await?;
    let row = load(&mut tx, &id).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "ordered",
        Some(&format!(
            "{} · ¥{:.2}",
            row.service_name,
            row.fee_fen as f64 / 100.0
        )),
        ground,
        now,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.order",
        "patient",
        &patient.id,
        ground,
        Some(&row.org_id),
    )
    .await?;
    // One payment order per visit: the fee goes on the visit's order, which
    // the patient pays once; the payment module calls `mark_paid_in`.
    if row.fee_fen > 0 {
        crate::payment::service::open_or_extend_in(
            &mut tx,
            &state.settings.payment,
            crate::payment::service::Visit {
                kind: VisitKind::Nursing,
                id: &id,
                patient_id: &row.patient_id,
                org_id: &row.org_id,
            },
            &[crate::payment::service::OrderItemInput {
                kind: ihos_domain::payment::ItemKind::NursingService,
                ref_id: row.service_id.clone(),
                description: row.service_name.clone(),
                quantity: 1,
                unit_price_fen: row.fee_fen,
                // Home nursing is self-paid unless a region's insurance covers it.
                reimburse_permille: 0,
            }],
            now,
        )
        .await?;
    }
    let row = if row.fee_fen == 0 {
        paid_in(&mut tx, &row, now).await?;
        load(&mut tx, &id).await?
    } else {
        row
    };
    let view = view_for(state, &mut tx, &row, Side::Patient, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

/// What `mark_paid` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paid {
    /// The order moved from awaiting payment to paid now.
    Now,
    /// It was paid before (a repeated notification): nothing changed.
    Already,
}

async fn paid_in(conn: &mut AnyConnection, row: &OrderRow, now: i64) -> ApiResult<()> {
    let (from, to) = transition(&row.status, Action::Pay)?;
    let ch = OrderChange {
        paid: true,
        ..Default::default()
    };
    if !store::change_status(conn, &row.id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    record_step(conn, None, row, "paid", None, "payment", now).await?;
    notify_admins(conn, "nursing.paid", row, json!({}), now).await
}

/// THE PAYMENT SEAM. The payment module calls this, inside its own
/// transaction, when the order for (visit_kind 'nursing', visit_id =
/// `order_id`) is paid. Idempotent: a repeated call answers `Paid::Already`.
/// A cancelled order answers `order_cancelled` (the payment is to be refunded).
pub async fn mark_paid_in(conn: &mut AnyConnection, order_id: &str, now: i64) -> ApiResult<Paid> {
    let row = load(conn, order_id).await?;
    if row.status != Status::AwaitingPayment.as_str() {
        if row.paid_at.is_some() {
            return Ok(Paid::Already);
        }
        return Err(ApiError::conflict(
            ErrorCode::OrderCancelled,
            "This nursing order was cancelled before it was paid; refund the payment.",
        ));
    }
    paid_in(conn, &row, now).await?;
    Ok(Paid::Now)
}

/// `mark_paid_in` in a transaction of its own.
pub async fn mark_paid(state: &AppState, order_id: &str) -> ApiResult<Paid> {
    let mut tx = state.store.begin().await?;
    let out = mark_paid_in(&mut tx, order_id, now_ms()).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(out)
}

/// The hospital assigns a qualified nurse (or a qualified nurse takes the order).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn assign(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: AssignInput,
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let row = load(&mut tx, id).await?;
    let self_claim = input.nurse_id == caller.account_id && caller.has(Role::Nurse);
    if !caller.may_admin_org(&row.org_id) && !self_claim {
        return Err(ApiError::not_found());
    }
    let (from, to) = transition(&row.status, Action::Assign)?;
    let nurse = nurse_at(&mut tx, &input.nurse_id, &row.org_id).await?;
    let quals = store::qualifications(&mut tx, &nurse.account_id, &row.org_id).await?;
    let min_years = row.min_years.max(state.settings.nursing.min_nurse_years);
    rules::check_nurse(
        Role::parse(&nurse.role)?,
        parse_date(&nurse.practising_since, "practising_since").map_err(ApiError::stored)?,
        today_in_shanghai(),
        &quals,
        min_years,
        row.required_qualification.as_deref(),
    )?;
    let now = now_ms();
    let ch = OrderChange {
        nurse: Some(Some(&nurse.account_id)),
        assigned_by: Some(&caller.account_id),
        ..Default::default()
    };
    if !store::change_status(&mut tx, id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    let ground = if self_claim {
        "nurse_claim"
    } else {
        "org_admin"
    };
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "assigned",
        Some(&nurse.name),
        ground,
        now,
    )
    .await?;
    notify(
        &mut tx,
        "nursing.assigned",
        Some(&nurse.account_id),
        &row,
        now,
    )
    .await?;
    let row = load(&mut tx, id).await?;
    let side = side_of(&row, caller).unwrap_or(Side::Hospital);
    let view = view_for(state, &mut tx, &row, side, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

/// A step the assigned nurse takes.
async fn nurse_step(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    ch: OrderChange<'_>,
    detail: Option<String>,
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Nurse {
        return Err(ApiError::not_found());
    }
    let (from, to) = transition(&row.status, action)?;
    let now = now_ms();
    let ch = OrderChange {
        require_nurse: Some(&caller.account_id),
        ..ch
    };
    if !store::change_status(&mut tx, id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    let (name, topic) = match action {
        Action::Accept => ("accepted", "nursing.accepted"),
        Action::Decline => ("declined", "nursing.declined"),
        Action::CheckIn => ("checked_in", "nursing.checked_in"),
        _ => ("checked_out", "nursing.completed"),
    };
    if action == Action::Accept {
        // The nurse may read what they need of the patient's record until a week after the visit.
        identity::insert_care_relationship(
            &mut tx,
            &row.patient_id,
            &caller.account_id,
            &row.org_id,
            "nursing",
            now,
            row.window_end + 7 * DAY_MS,
        )
        .await?;
    }
    record_step(
        &mut tx,
        Some(caller),
        &row,
        name,
        detail.as_deref(),
        "assigned_nurse",
        now,
    )
    .await?;
    if action == Action::Decline {
        notify_admins(&mut tx, topic, &row, json!({}), now).await?;
    } else {
        notify(&mut tx, topic, patient_recipient(&row), &row, now).await?;
    }
    let row = load(&mut tx, id).await?;
    let side = side_of(&row, caller).unwrap_or(Side::Hospital);
    let view = view_for(state, &mut tx, &row, side, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

pub async fn accept(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderView> {
    let ch = OrderChange {
        accepted: true,
        ..Default::default()
    };
    nurse_step(state, caller, id, Action::Accept, ch, None).await
}

pub async fn decline(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReasonInput,
) -> ApiResult<OrderView> {
    let reason = optional_text(input.reason.as_deref(), "reason", 500)?;
    let ch = OrderChange {
        nurse: Some(None),
        ..Default::default()
    };
    nurse_step(state, caller, id, Action::Decline, ch, reason).await
}

pub async fn check_in(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: LocationInput,
) -> ApiResult<OrderView> {
    let loc = Location::parse(input.lat, input.lng)?;
    let ch = OrderChange {
        check_in: Some((loc.lat_e6, loc.lng_e6)),
        ..Default::default()
    };
    let detail = format!("{:.6},{:.6}", input.lat, input.lng);
    nurse_step(state, caller, id, Action::CheckIn, ch, Some(detail)).await
}

pub async fn check_out(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: CheckOutInput,
) -> ApiResult<OrderView> {
    let loc = Location::parse(input.lat, input.lng)?;
    let record = rules::parse_record(&input.record)?;
    let vitals = optional_text(input.vitals.as_deref(), "vitals", 500)?;
    let ch = OrderChange {
        check_out: Some((loc.lat_e6, loc.lng_e6)),
        record_text: Some(&record),
        record_vitals: vitals.as_deref(),
        ..Default::default()
    };
    let detail = format!("{:.6},{:.6}", input.lat, input.lng);
    nurse_step(state, caller, id, Action::CheckOut, ch, Some(detail)).await
}

/// The patient side cancels before the visit starts; a paid order is refunded.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReasonInput,
) -> ApiResult<OrderView> {
    let reason = optional_text(input.reason.as_deref(), "reason", 500)?
        .unwrap_or_else(|| "patient_cancelled".into());
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Patient {
        return Err(ApiError::not_found());
    }
    let (from, to) = transition(&row.status, Action::Cancel)?;
    let now = now_ms();
    let ch = OrderChange {
        cancel_reason: Some(&reason),
        ..Default::default()
    };
    if !store::change_status(&mut tx, id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    let ground = read_ground(&mut tx, &row, side, caller).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "cancelled",
        Some(&reason),
        ground,
        now,
    )
    .await?;
    let refund = crate::payment::service::withdraw_visit_in(
        state,
        &mut tx,
        VisitKind::Nursing,
        id,
        &reason,
        now,
    )
    .await?;
    if let Some(r) = &refund {
        ihos_store::outbox::put(
            &mut tx,
            "payment.refund",
            patient_recipient(&row),
            &json!({"visit_kind": "nursing", "visit_id": id, "amount_fen": r.amount_fen}),
            now,
        )
        .await?;
    }
    if let Some(n) = &row.nurse_id {
        notify(&mut tx, "nursing.cancelled", Some(n), &row, now).await?;
    }
    let row = load(&mut tx, id).await?;
    let view = view_for(state, &mut tx, &row, side, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    if let Some(r) = refund {
        crate::payment::service::finish_refund(state, r).await;
    }
    Ok(view)
}

/// The nurse raises a safety alert during the visit; the hospital's admins are notified.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn safety_alert(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: SafetyInput,
) -> ApiResult<SafetyAlertView> {
    let kind = rules::parse_safety_kind(&input.kind)?;
    let note = optional_text(Some(&input.note), "note", 1000)?.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidNote,
                "Say what is happening (1-1000 characters).",
            )
            .on("note"),
        )
    })?;
    let loc = match (input.lat, input.lng) {
        (Some(lat), Some(lng)) => {
            let l = Location::parse(lat, lng)?;
            Some((l.lat_e6, l.lng_e6))
        }
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Nurse {
        return Err(ApiError::not_found());
    }
    if !matches!(row.status.as_str(), "accepted" | "in_visit") {
        return Err(ApiError::conflict(
            ErrorCode::NotInVisit,
            "Safety alerts are raised for a visit you accepted or are at.",
        ));
    }
    let now = now_ms();
    let alert_id =
        store::insert_safety_alert(&mut tx, id, &caller.account_id, kind, &note, loc, now).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "safety_alert",
        Some(kind),
        "assigned_nurse",
        now,
    )
    .await?;
    notify_admins(
        &mut tx,
        "nursing.safety_alert",
        &row,
        json!({"alert_id": alert_id, "kind": kind, "nurse_id": caller.account_id}),
        now,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(SafetyAlertView {
        id: alert_id,
        kind: kind.into(),
        note,
        created_at: now,
    })
}

/// The patient served (or their guardian) reviews a completed visit, once.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReviewInput,
) -> ApiResult<NursingReviewView> {
    let text = optional_text(input.text.as_deref(), "text", 500)?;
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Patient {
        return Err(ApiError::not_found());
    }
    rules::check_review(Status::parse(&row.status)?, input.rating).map_err(|e| {
        let mut err = ApiError::from(e);
        if err.code == ErrorCode::NotReviewable {
            err.status = StatusCode::CONFLICT;
        }
        err
    })?;
    let nurse = row.nurse_id.clone().ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    store::insert_review(
        &mut tx,
        id,
        &nurse,
        &caller.account_id,
        input.rating,
        text.as_deref(),
        now,
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate { .. } => ApiError::conflict(
            ErrorCode::NursingAlreadyReviewed,
            "This visit has already been reviewed.",
        ),
        other => other.into(),
    })?;
    let ground = read_ground(&mut tx, &row, side, caller).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "reviewed",
        Some(&format!("{}★", input.rating)),
        ground,
        now,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(NursingReviewView {
        rating: input.rating,
        text,
        created_at: now,
    })
}

// ------------------------------------------------------------------ reads

/// The complete record of one visit, for the patient side, the nurse or the hospital. Audited.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderRecord> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    let ground = read_ground(&mut tx, &row, side, caller).await?;
    let order = view_for(state, &mut tx, &row, side, caller).await?;
    let events = store::events(&mut tx, id)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: e.at,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            action: e.action,
            detail: e.detail,
        })
        .collect();
    let safety_alerts = store::safety_alerts(&mut tx, id)
        .await?
        .into_iter()
        .map(|a| SafetyAlertView {
            id: a.id,
            kind: a.kind,
            note: a.note,
            created_at: a.created_at,
        })
        .collect();
    let review = store::review(&mut tx, id)
        .await?
        .map(|r| NursingReviewView {
            rating: r.rating,
            text: r.body,
            created_at: r.created_at,
        });
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.read",
        "nursing_order",
        id,
        ground,
        Some(&row.org_id),
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.read",
        "patient",
        &row.patient_id,
        ground,
        Some(&row.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(OrderRecord {
        order,
        events,
        safety_alerts,
        review,
        viewer: side.as_str().into(),
    })
}

async fn list(
    state: &AppState,
    caller: &Caller,
    filter: OrderFilter<'_>,
) -> ApiResult<Vec<OrderView>> {
    let mut c = state.store.conn().await?;
    let mut out = Vec::new();
    for row in store::orders_where(&mut c, filter).await? {
        if let Some(side) = side_of(&row, caller) {
            if side != Side::Patient {
                // Staff lists show patient data (masked for dispatch): audited.
                let ground = read_ground(&mut c, &row, side, caller).await?;
                crate::audit::record(
                    &mut c,
                    Some(caller),
                    "nursing.list",
                    "patient",
                    &row.patient_id,
                    ground,
                    Some(&row.org_id),
                )
                .await?;
            }
            out.push(view_for(state, &mut c, &row, side, caller).await?);
        }
    }
    Ok(out)
}

/// The caller's orders as patient or guardian.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<OrderView>> {
    list(state, caller, OrderFilter::Account(&caller.account_id)).await
}

/// The orders assigned to the calling nurse.
pub async fn nurse_orders(state: &AppState, caller: &Caller) -> ApiResult<Vec<OrderView>> {
    caller.require(Role::Nurse)?;
    list(state, caller, OrderFilter::Nurse(&caller.account_id)).await
}

/// A hospital's orders for dispatch (org admin): masked names and addresses, no clinical text.
pub async fn org_orders(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
) -> ApiResult<Vec<OrderView>> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    list(state, caller, OrderFilter::Org(org_id)).await
}
