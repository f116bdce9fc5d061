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
use crate::clock::today_in_shanghai;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

mod catalogue;
mod orders;
mod reads;
pub use catalogue::*;
pub use orders::*;
pub use reads::*;

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
