//! Prescription use cases: the attending doctor prescribes inside an open
//! consultation (checked by the domain rules, signed), pharmacists of the
//! same hospital review, approval puts the drugs on the visit's order and
//! opens a fulfilment; payment makes it ready; the window or a pharmacy
//! dispenses exactly once, or the hospital ships it. Every read of a
//! prescription is authorised and audited.

use ihos_domain::ErrorCode;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::identity::age_on;
use ihos_domain::payment::{ItemKind, OrderStatus, VisitKind, split_item, yuan};
use ihos_domain::pharmacy::{
    self as rules, FulfilmentStatus, ItemInput, Method, PatientFacts, RxAction, RxKind, RxStatus,
};
use ihos_domain::{DomainError, OrgKind, Role, parse_date};
use ihos_store::consultation::{self as cstore, ConsultationRow};
use ihos_store::payment::{self as pstore, OrderRow};
use ihos_store::pharmacy::{self as rxstore, FulfilmentRow, ItemRow, NewItem, PrescriptionRow};
use ihos_store::{AnyConnection, identity, now_ms, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::consultation::service::{Side, load_for};
use crate::error::{ApiError, ApiResult};
use crate::identity::service::today_in_shanghai;
use crate::payment::service::{self as pay, OrderItemInput, OrderView, Visit};
use crate::state::AppState;

// ------------------------------------------------------------------ inputs and views

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ItemBody {
    /// A catalogue code, e.g. D0024.
    pub drug_code: String,
    /// Units dispensed (片, 粒, 支 ...).
    pub quantity: i64,
    /// Per-dose, e.g. 0.5g.
    pub dosage: String,
    /// e.g. 每日2次.
    pub frequency: String,
    /// Days of supply.
    pub days: u32,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PrescriptionInput {
    /// acute or chronic
    pub kind: String,
    pub diagnosis: String,
    /// Required for children under 6.
    pub weight_kg: Option<f64>,
    pub note: Option<String>,
    pub items: Vec<ItemBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub line: i64,
    pub drug_code: String,
    pub generic_name: String,
    pub form: String,
    pub strength: String,
    pub unit: String,
    pub quantity: i64,
    pub dosage: String,
    pub frequency: String,
    pub days: i64,
    pub unit_price_fen: i64,
    /// 甲, 乙 or 丙
    pub insurance: String,
    pub reimburse_permille: i64,
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
    pub amount: String,
    pub insured: String,
    pub self_paid: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingEvent {
    pub at: i64,
    pub status: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FulfilmentView {
    /// pickup, hospital_delivery, courier or pharmacy_transfer
    pub method: String,
    /// awaiting_payment, ready, dispensed, shipped, in_transit, delivered, cancelled
    pub status: String,
    pub order_id: String,
    /// Pickup code (window) or verification code (pharmacy); shown to the patient side only.
    pub code: Option<String>,
    pub address: Option<String>,
    pub courier: Option<String>,
    pub tracking_no: Option<String>,
    pub dispensed_org_id: Option<String>,
    pub dispensed_at: Option<i64>,
    pub events: Vec<TrackingEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrescriptionView {
    pub id: String,
    pub consultation_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub patient_age: u32,
    pub patient_sex: String,
    pub doctor_id: String,
    pub doctor_name: String,
    pub org_id: String,
    pub org_name: String,
    pub root_id: String,
    pub version: i64,
    pub previous_id: Option<String>,
    /// pending_review, approved, rejected, superseded, cancelled
    pub status: String,
    pub kind: String,
    pub diagnosis: String,
    pub weight_g: Option<i64>,
    pub note: Option<String>,
    pub signed_by: String,
    pub signed_at: i64,
    pub signature_method: String,
    pub signature: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_note: Option<String>,
    pub created_at: i64,
    pub items: Vec<ItemView>,
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
    pub amount: String,
    pub insured: String,
    pub self_paid: String,
    pub fulfilment: Option<FulfilmentView>,
}

fn item_view(i: ItemRow) -> ItemView {
    let s = split_item(i.unit_price_fen, i.quantity, i.reimburse_permille).unwrap_or_default();
    ItemView {
        line: i.line,
        drug_code: i.drug_code,
        generic_name: i.generic_name,
        form: i.form,
        strength: i.strength,
        unit: i.unit,
        quantity: i.quantity,
        dosage: i.dosage,
        frequency: i.frequency,
        days: i.days,
        unit_price_fen: i.unit_price_fen,
        insurance: i.insurance,
        reimburse_permille: i.reimburse_permille,
        amount_fen: s.amount_fen,
        insured_fen: s.insured_fen,
        self_fen: s.self_fen,
        amount: yuan(s.amount_fen),
        insured: yuan(s.insured_fen),
        self_paid: yuan(s.self_fen),
    }
}

/// Build the full view; `show_code` only for the patient side.
async fn view(
    conn: &mut AnyConnection,
    r: PrescriptionRow,
    show_code: bool,
) -> ApiResult<PrescriptionView> {
    let items: Vec<ItemView> = rxstore::items(conn, &r.id)
        .await?
        .into_iter()
        .map(item_view)
        .collect();
    let fulfilment = match rxstore::fulfilment(conn, &r.id).await? {
        Some(f) => Some(fulfilment_view(conn, f, show_code).await?),
        None => None,
    };
    let (amount, insured, selfp) = items.iter().fold((0, 0, 0), |a, i| {
        (a.0 + i.amount_fen, a.1 + i.insured_fen, a.2 + i.self_fen)
    });
    Ok(PrescriptionView {
        patient_age: age_on(
            parse_date(&r.patient_birth_date, "birth_date").map_err(ApiError::stored)?,
            today_in_shanghai(),
        ),
        id: r.id,
        consultation_id: r.consultation_id,
        patient_id: r.patient_id,
        patient_name: r.patient_name,
        patient_sex: r.patient_sex,
        doctor_id: r.doctor_id,
        doctor_name: r.doctor_name,
        org_id: r.org_id,
        org_name: r.org_name,
        root_id: r.root_id,
        version: r.version,
        previous_id: r.previous_id,
        status: r.status,
        kind: r.kind,
        diagnosis: r.diagnosis,
        weight_g: r.weight_g,
        note: r.note,
        signed_by: r.signed_by,
        signed_at: r.signed_at,
        signature_method: r.signature_method,
        signature: r.signature,
        reviewed_by: r.reviewed_by,
        reviewed_at: r.reviewed_at,
        review_note: r.review_note,
        created_at: r.created_at,
        items,
        amount_fen: amount,
        insured_fen: insured,
        self_fen: selfp,
        amount: yuan(amount),
        insured: yuan(insured),
        self_paid: yuan(selfp),
        fulfilment,
    })
}

async fn fulfilment_view(
    conn: &mut AnyConnection,
    f: FulfilmentRow,
    show_code: bool,
) -> ApiResult<FulfilmentView> {
    let events = rxstore::events(conn, &f.prescription_id)
        .await?
        .into_iter()
        .map(|e| TrackingEvent {
            at: e.at,
            status: e.status,
            note: e.note,
        })
        .collect();
    Ok(FulfilmentView {
        method: f.method,
        status: f.status,
        order_id: f.order_id,
        code: if show_code { f.code } else { None },
        address: f.address,
        courier: f.courier,
        tracking_no: f.tracking_no,
        dispensed_org_id: f.dispensed_org_id,
        dispensed_at: f.dispensed_at,
        events,
    })
}

// ------------------------------------------------------------------ helpers

/// The organisations (and their kinds) a pharmacist works at.
async fn pharmacist_orgs(
    conn: &mut AnyConnection,
    caller: &Caller,
) -> ApiResult<Vec<(String, OrgKind)>> {
    caller.require(Role::Pharmacist)?;
    let mut out = Vec::new();
    for a in identity::affiliations_of(conn, &caller.account_id).await? {
        if let Some(o) = org::org(conn, &a.org_id).await?
            && let Ok(kind) = OrgKind::parse(&o.kind)
        {
            out.push((o.id, kind));
        }
    }
    Ok(out)
}

async fn pharmacist_of(conn: &mut AnyConnection, caller: &Caller, org_id: &str) -> ApiResult<bool> {
    if !caller.has(Role::Pharmacist) {
        return Ok(false);
    }
    Ok(pharmacist_orgs(conn, caller)
        .await?
        .iter()
        .any(|(id, _)| id == org_id))
}

fn patient_side(p: &identity::PatientRow, caller: &Caller) -> Option<&'static str> {
    let me = Some(caller.account_id.as_str());
    if p.account_id.as_deref() == me {
        Some("self")
    } else if p.guardian_account_id.as_deref() == me {
        Some("guardian")
    } else {
        None
    }
}

fn patient_recipient(p: &identity::PatientRow) -> Option<String> {
    p.account_id.clone().or(p.guardian_account_id.clone())
}

fn visit_of(c: &ConsultationRow) -> Visit<'_> {
    Visit {
        kind: VisitKind::Consultation,
        id: &c.id,
        patient_id: &c.patient_id,
        org_id: &c.org_id,
    }
}

/// The consultation fee as an order item, when the visit is charged a fee.
fn fee_item(state: &AppState, c: &ConsultationRow) -> Option<OrderItemInput> {
    (c.fee_fen > 0 && c.subscription_id.is_none() && c.refunded_at.is_none()).then(|| {
        OrderItemInput {
            kind: ItemKind::ConsultationFee,
            ref_id: c.id.clone(),
            description: "在线复诊诊查费".into(),
            quantity: 1,
            unit_price_fen: c.fee_fen,
            reimburse_permille: state.settings.payment.consultation_fee_reimburse_permille,
        }
    })
}

fn parse_text(raw: &str, field: &'static str, min: usize, max: usize) -> ApiResult<String> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min || n > max || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RxInvalidField,
                format!("{field} must be {min}-{max} characters."),
            )
            .on(field),
        ));
    }
    Ok(s.to_string())
}

/// Everything about a new prescription version that the rules check and the
/// doctor signs.
struct Checked {
    kind: RxKind,
    diagnosis: String,
    weight_g: Option<i64>,
    note: Option<String>,
    items: Vec<NewItem>,
}

async fn check_input(
    conn: &mut AnyConnection,
    state: &AppState,
    patient: &identity::PatientRow,
    input: &PrescriptionInput,
) -> ApiResult<Checked> {
    let kind = RxKind::parse(input.kind.trim())?;
    let diagnosis = parse_text(&input.diagnosis, "diagnosis", 1, 200)?;
    let note = match input.note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(parse_text(n, "note", 1, 500)?),
        _ => None,
    };
    let weight_g = match input.weight_kg {
        Some(w) if w.is_finite() && (0.5..=300.0).contains(&w) => Some((w * 1000.0).round() as i64),
        Some(_) => {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RxInvalidWeight,
                    "Give the weight in kg (0.5-300).",
                )
                .on("weight_kg"),
            ));
        }
        None => None,
    };
    let allergies = rxstore::allergies(conn, &patient.id)
        .await?
        .into_iter()
        .map(|a| a.substance)
        .collect();
    let facts = PatientFacts {
        age_years: age_on(
            parse_date(&patient.birth_date, "birth_date").map_err(ApiError::stored)?,
            today_in_shanghai(),
        ),
        weight_g,
        allergies,
    };
    let items: Vec<ItemInput> = input
        .items
        .iter()
        .map(|i| ItemInput {
            drug_code: i.drug_code.trim().to_string(),
            quantity: i.quantity,
            dosage: i.dosage.trim().to_string(),
            frequency: i.frequency.trim().to_string(),
            days: i.days,
        })
        .collect();
    let drugs = rules::check_prescription(
        &state.drugs,
        kind,
        &items,
        &facts,
        &state.settings.pharmacy.limits,
    )?;
    let items = items
        .iter()
        .zip(drugs)
        .map(|(i, d)| NewItem {
            drug_code: d.code.clone(),
            generic_name: d.generic_name.clone(),
            form: d.form.clone(),
            strength: d.strength.clone(),
            unit: d.unit.clone(),
            quantity: i.quantity,
            dosage: i.dosage.clone(),
            frequency: i.frequency.clone(),
            days: i64::from(i.days),
            unit_price_fen: d.price_fen,
            insurance: d.insurance.as_str().into(),
            reimburse_permille: d.reimburse_permille,
        })
        .collect();
    Ok(Checked {
        kind,
        diagnosis,
        weight_g,
        note,
        items,
    })
}

/// The text the doctor signs: patient, diagnosis, every line.
fn canonical(c: &ConsultationRow, ch: &Checked, version: i64) -> String {
    let mut s = format!(
        "consultation={}\npatient={}\nversion={version}\nkind={}\ndiagnosis={}\nweight_g={}\n",
        c.id,
        c.patient_id,
        ch.kind.as_str(),
        ch.diagnosis,
        ch.weight_g.map(|w| w.to_string()).unwrap_or_default()
    );
    for i in &ch.items {
        s.push_str(&format!(
            "{}|{}|{}|{}|{}|{}|{}\n",
            i.drug_code,
            i.quantity,
            i.dosage,
            i.frequency,
            i.days,
            i.unit_price_fen,
            i.reimburse_permille
        ));
    }
    s
}

async fn insert_version(
    conn: &mut AnyConnection,
    state: &AppState,
    caller: &Caller,
    c: &ConsultationRow,
    ch: Checked,
    previous: Option<&PrescriptionRow>,
    now: i64,
) -> ApiResult<String> {
    let version = previous.map_or(1, |p| p.version + 1);
    let sig =
        super::signature::signer(state).sign(&caller.account_id, now, &canonical(c, &ch, version));
    let id = rxstore::insert_prescription(
        conn,
        &rxstore::NewPrescription {
            consultation_id: c.id.clone(),
            patient_id: c.patient_id.clone(),
            doctor_id: caller.account_id.clone(),
            org_id: c.org_id.clone(),
            root_id: previous.map(|p| p.root_id.clone()),
            version,
            previous_id: previous.map(|p| p.id.clone()),
            kind: ch.kind.as_str().into(),
            diagnosis: ch.diagnosis,
            weight_g: ch.weight_g,
            note: ch.note,
            signed_at: now,
            signature_method: sig.method,
            signature: sig.value,
            items: ch.items,
        },
    )
    .await?;
    ihos_store::outbox::put(
        conn,
        "rx.submitted",
        None,
        &json!({"prescription_id": id, "org_id": c.org_id}),
        now,
    )
    .await?;
    caller
        .audit(
            conn,
            "prescription.write",
            "patient",
            &c.patient_id,
            "treating_practitioner",
            Some(&c.org_id),
        )
        .await?;
    Ok(id)
}

/// A visit whose order is being paid or was paid takes no new prescription.
async fn check_visit_open_for_items(
    conn: &mut AnyConnection,
    c: &ConsultationRow,
) -> ApiResult<()> {
    if let Some(o) = pstore::order_of_visit(conn, VisitKind::Consultation.as_str(), &c.id).await?
        && !OrderStatus::parse(&o.status)?.accepts_items()
    {
        return Err(ApiError::conflict(
            ErrorCode::RxVisitSettled,
            "This visit's order is already paid or being paid (a visit is paid once); prescribe in a new consultation.",
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ doctor

/// The attending doctor writes and signs a prescription inside an accepted
/// or running consultation; it goes to the pharmacists' queue.
#[tracing::instrument(skip_all, fields(consultation = %consultation_id))]
pub async fn prescribe(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
    input: PrescriptionInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Doctor)?;
    let mut tx = state.store.begin().await?;
    let (c, side) = load_for(&mut tx, caller, consultation_id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden(
            "Only the attending doctor of this consultation prescribes.",
        ));
    }
    if !matches!(c.status.as_str(), "accepted" | "in_progress") {
        return Err(ApiError::conflict(
            ErrorCode::RxConsultationNotOpen,
            "Prescriptions are written inside an accepted or running consultation.",
        ));
    }
    check_visit_open_for_items(&mut tx, &c).await?;
    let patient = identity::patient(&mut tx, &c.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let checked = check_input(&mut tx, state, &patient, &input).await?;
    let now = now_ms();
    let id = insert_version(&mut tx, state, caller, &c, checked, None, now).await?;
    let row = rxstore::prescription(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

/// The doctor revises a prescription the pharmacist sent back: a new
/// signed version replaces it and goes to the queue again.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn revise(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: PrescriptionInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Doctor)?;
    let mut tx = state.store.begin().await?;
    let old = rxstore::prescription(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if old.doctor_id != caller.account_id {
        return Err(ApiError::not_found());
    }
    rules::rx_transition(RxStatus::parse(&old.status)?, RxAction::Revise)
        .map_err(ApiError::domain_conflict)?;
    let c = cstore::consultation(&mut tx, &old.consultation_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !matches!(c.status.as_str(), "accepted" | "in_progress" | "completed") {
        return Err(ApiError::conflict(
            ErrorCode::RxConsultationNotOpen,
            "This consultation has ended without completion; it takes no revisions.",
        ));
    }
    check_visit_open_for_items(&mut tx, &c).await?;
    let patient = identity::patient(&mut tx, &c.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let checked = check_input(&mut tx, state, &patient, &input).await?;
    let now = now_ms();
    if !rxstore::change_status(&mut tx, &old.id, "rejected", "superseded", None, None, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone changed this prescription at the same moment; reload it.",
        ));
    }
    let new_id = insert_version(&mut tx, state, caller, &c, checked, Some(&old), now).await?;
    let row = rxstore::prescription(&mut tx, &new_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

// ------------------------------------------------------------------ pharmacist

/// Pending prescriptions of the hospitals the pharmacist works at, oldest first.
pub async fn queue(state: &AppState, caller: &Caller) -> ApiResult<Vec<PrescriptionView>> {
    let mut conn = state.store.conn().await?;
    let orgs = pharmacist_orgs(&mut conn, caller).await?;
    let mut out = Vec::new();
    for (org_id, kind) in orgs {
        if !kind.has_departments() {
            continue;
        }
        for r in rxstore::queue(&mut conn, &org_id, 200).await? {
            caller
                .audit(
                    &mut conn,
                    "prescription.review.read",
                    "patient",
                    &r.patient_id,
                    "reviewing_pharmacist",
                    Some(&org_id),
                )
                .await?;
            out.push(view(&mut conn, r, false).await?);
        }
    }
    Ok(out)
}

async fn reviewable(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
) -> ApiResult<PrescriptionRow> {
    caller.require(Role::Pharmacist)?;
    let r = rxstore::prescription(conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !pharmacist_of(conn, caller, &r.org_id).await? {
        return Err(ApiError::not_found());
    }
    if r.doctor_id == caller.account_id {
        return Err(ApiError::forbidden(
            "A prescriber does not review their own prescription.",
        ));
    }
    Ok(r)
}

/// The pharmacist approves: the drugs go on the visit's order and a
/// fulfilment (pickup by default) awaits payment.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    id: &str,
    note: Option<String>,
) -> ApiResult<PrescriptionView> {
    let note = match note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(parse_text(n, "note", 1, 500)?),
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let r = reviewable(&mut tx, caller, id).await?;
    rules::rx_transition(RxStatus::parse(&r.status)?, RxAction::Approve)
        .map_err(ApiError::domain_conflict)?;
    let now = now_ms();
    if !rxstore::change_status(
        &mut tx,
        &r.id,
        "pending_review",
        "approved",
        Some(&caller.account_id),
        note.as_deref(),
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone reviewed this prescription at the same moment; reload the queue.",
        ));
    }
    let c = cstore::consultation(&mut tx, &r.consultation_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Drug items come into existence only here, from an approved prescription.
    let mut items: Vec<OrderItemInput> = fee_item(state, &c).into_iter().collect();
    for i in rxstore::items(&mut tx, &r.id).await? {
        items.push(OrderItemInput {
            kind: ItemKind::Drug,
            ref_id: format!("{}:{}", r.id, i.line),
            description: format!(
                "{} {} ×{}{}",
                i.generic_name, i.strength, i.quantity, i.unit
            ),
            quantity: i.quantity,
            unit_price_fen: i.unit_price_fen,
            reimburse_permille: i.reimburse_permille,
        });
    }
    let order =
        pay::open_or_extend_in(&mut tx, &state.settings.payment, visit_of(&c), &items, now).await?;
    rxstore::insert_fulfilment(&mut tx, &r.id, &order.id, &r.org_id, now).await?;
    let patient = identity::patient(&mut tx, &r.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    ihos_store::outbox::put(
        &mut tx,
        "rx.approved",
        patient_recipient(&patient).as_deref(),
        &json!({"prescription_id": r.id, "order_id": order.id}),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "prescription.approve",
            "prescription",
            &r.id,
            "reviewing_pharmacist",
            Some(&r.org_id),
        )
        .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

/// The pharmacist sends the prescription back to the doctor with a reason.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn reject(
    state: &AppState,
    caller: &Caller,
    id: &str,
    reason: &str,
) -> ApiResult<PrescriptionView> {
    let reason = rules::parse_reason(reason)?;
    let mut tx = state.store.begin().await?;
    let r = reviewable(&mut tx, caller, id).await?;
    rules::rx_transition(RxStatus::parse(&r.status)?, RxAction::Reject)
        .map_err(ApiError::domain_conflict)?;
    let now = now_ms();
    if !rxstore::change_status(
        &mut tx,
        &r.id,
        "pending_review",
        "rejected",
        Some(&caller.account_id),
        Some(&reason),
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone reviewed this prescription at the same moment; reload the queue.",
        ));
    }
    ihos_store::outbox::put(
        &mut tx,
        "rx.rejected",
        Some(&r.doctor_id),
        &json!({"prescription_id": r.id, "consultation_id": r.consultation_id}),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "prescription.reject",
            "prescription",
            &r.id,
            "reviewing_pharmacist",
            Some(&r.org_id),
        )
        .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

// ------------------------------------------------------------------ reads

/// The prescriptions of one consultation, for its participants (audited).
pub async fn of_consultation(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
) -> ApiResult<Vec<PrescriptionView>> {
    let mut conn = state.store.conn().await?;
    let (c, side) = load_for(&mut conn, caller, consultation_id).await?;
    let ground = match side {
        Side::Doctor => "treating_practitioner",
        Side::Patient if c.patient_account_id.as_deref() == Some(&caller.account_id) => "self",
        Side::Patient => "guardian",
    };
    caller
        .audit(
            &mut conn,
            "prescription.read",
            "patient",
            &c.patient_id,
            ground,
            Some(&c.org_id),
        )
        .await?;
    let mut out = Vec::new();
    for r in rxstore::for_consultation(&mut conn, &c.id).await? {
        out.push(view(&mut conn, r, side == Side::Patient).await?);
    }
    Ok(out)
}

/// One prescription: for its doctor, the patient side, or a pharmacist of
/// its hospital (audited).
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<PrescriptionView> {
    let mut conn = state.store.conn().await?;
    let r = rxstore::prescription(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let patient = identity::patient(&mut conn, &r.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (ground, show_code) = if let Some(g) = patient_side(&patient, caller) {
        (g, true)
    } else if r.doctor_id == caller.account_id {
        ("treating_practitioner", false)
    } else if pharmacist_of(&mut conn, caller, &r.org_id).await? {
        ("reviewing_pharmacist", false)
    } else {
        return Err(ApiError::not_found());
    };
    caller
        .audit(
            &mut conn,
            "prescription.read",
            "prescription",
            &r.id,
            ground,
            Some(&r.org_id),
        )
        .await?;
    view(&mut conn, r, show_code).await
}

/// A patient's prescriptions (their online record): self, guardian, a
/// treating practitioner or the regulator; every read audited, refusals too.
pub async fn of_patient(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<Vec<PrescriptionView>> {
    let mut conn = state.store.conn().await?;
    let patient = identity::patient(&mut conn, patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rel = Relationship {
        is_self: patient.account_id.as_deref() == Some(&caller.account_id),
        is_guardian: patient.guardian_account_id.as_deref() == Some(&caller.account_id),
        is_treating: identity::is_treating(&mut conn, patient_id, &caller.account_id, now_ms())
            .await?,
    };
    let ground = match patient_read_ground(&caller.roles(), &rel) {
        Ok(g) => g,
        Err(_) => {
            caller
                .audit(
                    &mut conn,
                    "prescription.history.read.denied",
                    "patient",
                    patient_id,
                    "none",
                    None,
                )
                .await?;
            return Err(ApiError::not_found());
        }
    };
    caller
        .audit(
            &mut conn,
            "prescription.history.read",
            "patient",
            patient_id,
            ground.as_str(),
            None,
        )
        .await?;
    let show = rel.is_self || rel.is_guardian;
    let mut out = Vec::new();
    for r in rxstore::for_patient(&mut conn, patient_id, 100).await? {
        out.push(view(&mut conn, r, show).await?);
    }
    Ok(out)
}

// ------------------------------------------------------------------ allergies

#[derive(Debug, Serialize, ToSchema)]
pub struct AllergyView {
    pub substance: String,
    pub created_at: i64,
}

/// Who may read or add to a patient's allergy list: the patient side or a
/// treating practitioner. Answers the audit ground.
async fn allergy_access(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<&'static str> {
    let patient = identity::patient(conn, patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Some(g) = patient_side(&patient, caller) {
        return Ok(g);
    }
    if caller.has(Role::Doctor)
        && identity::is_treating(conn, patient_id, &caller.account_id, now_ms()).await?
    {
        return Ok("treating_practitioner");
    }
    Err(ApiError::not_found())
}

pub async fn allergies(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<Vec<AllergyView>> {
    let mut conn = state.store.conn().await?;
    let ground = allergy_access(&mut conn, caller, patient_id).await?;
    caller
        .audit(
            &mut conn,
            "allergy.read",
            "patient",
            patient_id,
            ground,
            None,
        )
        .await?;
    Ok(rxstore::allergies(&mut conn, patient_id)
        .await?
        .into_iter()
        .map(|a| AllergyView {
            substance: a.substance,
            created_at: a.created_at,
        })
        .collect())
}

pub async fn add_allergy(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
    substance: &str,
) -> ApiResult<Vec<AllergyView>> {
    let substance = rules::parse_allergy(substance)?;
    let mut tx = state.store.begin().await?;
    let ground = allergy_access(&mut tx, caller, patient_id).await?;
    rxstore::add_allergy(
        &mut tx,
        patient_id,
        &substance,
        &caller.account_id,
        now_ms(),
    )
    .await?;
    caller
        .audit(&mut tx, "allergy.add", "patient", patient_id, ground, None)
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    allergies(state, caller, patient_id).await
}

// ------------------------------------------------------------------ patient: order and fulfilment

/// The visit's order for the patient side: opened with the consultation fee
/// if there is none yet.
pub async fn consultation_order(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let (c, side) = load_for(&mut tx, caller, consultation_id).await?;
    if side != Side::Patient {
        return Err(ApiError::forbidden("The patient side pays the visit."));
    }
    let existing = pstore::order_of_visit(&mut tx, VisitKind::Consultation.as_str(), &c.id).await?;
    let order = match existing {
        Some(o) => o,
        None => {
            if matches!(c.status.as_str(), "declined" | "cancelled" | "expired") {
                return Err(ApiError::conflict(
                    ErrorCode::PayOrderClosed,
                    "This consultation did not take place; there is nothing to pay.",
                ));
            }
            let items: Vec<OrderItemInput> = fee_item(state, &c).into_iter().collect();
            pay::open_or_extend_in(
                &mut tx,
                &state.settings.payment,
                visit_of(&c),
                &items,
                now_ms(),
            )
            .await?
        }
    };
    let v = pay::load_view(&mut tx, &order.id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FulfilmentInput {
    /// pickup, hospital_delivery, courier or pharmacy_transfer
    pub method: String,
    /// Delivery address (deliveries only).
    pub address: Option<String>,
}

/// The patient chooses how to get the drugs, before paying; a delivery adds
/// its fee to the visit's order.
pub async fn choose_fulfilment(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: FulfilmentInput,
) -> ApiResult<PrescriptionView> {
    let method = Method::parse(input.method.trim())?;
    let address = if method.is_delivery() {
        Some(parse_text(
            input.address.as_deref().unwrap_or_default(),
            "address",
            5,
            200,
        )?)
    } else {
        None
    };
    let mut tx = state.store.begin().await?;
    let r = rxstore::prescription(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let patient = identity::patient(&mut tx, &r.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if patient_side(&patient, caller).is_none() {
        return Err(ApiError::not_found());
    }
    rules::check_releasable(RxStatus::parse(&r.status)?).map_err(ApiError::domain_conflict)?;
    let f = rxstore::fulfilment(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    if !rxstore::choose_method(&mut tx, &r.id, method.as_str(), address.as_deref(), now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RxFulfilmentFixed,
            "The order is paid; the way to get the drugs can no longer change.",
        ));
    }
    let order = pstore::order(&mut tx, &f.order_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if method.is_delivery() {
        let fee = if method == Method::Courier {
            state.settings.payment.courier_fee_fen
        } else {
            state.settings.payment.hospital_delivery_fee_fen
        };
        let desc = if method == Method::Courier {
            "第三方快递配送费"
        } else {
            "医院配送费"
        };
        pay::open_or_extend_in(
            &mut tx,
            &state.settings.payment,
            Visit {
                kind: VisitKind::parse(&order.visit_kind)
                    .ok_or_else(|| ApiError::internal("an order of an unknown visit kind"))?,
                id: &order.visit_id,
                patient_id: &order.patient_id,
                org_id: &order.org_id,
            },
            &[OrderItemInput {
                kind: ItemKind::Delivery,
                ref_id: r.id.clone(),
                description: desc.into(),
                quantity: 1,
                unit_price_fen: fee,
                reimburse_permille: 0,
            }],
            now,
        )
        .await?;
    } else {
        pay::remove_item_in(&mut tx, &order.id, ItemKind::Delivery, &r.id).await?;
    }
    rxstore::event(
        &mut tx,
        &r.id,
        "method_chosen",
        Some(method.as_str()),
        Some(&caller.account_id),
        now,
    )
    .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, true).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

// ------------------------------------------------------------------ payment hooks

/// Refuses payment of a consultation visit while one of its prescriptions
/// waits for review: the visit is paid once, with everything on it.
pub async fn check_visit_payable(conn: &mut AnyConnection, order: &OrderRow) -> ApiResult<()> {
    if super::payment_hook::is_consultation(order)
        && rxstore::pending_in_consultation(conn, &order.visit_id).await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxReviewPending,
            "A prescription of this visit is waiting for the pharmacist's review; pay after the review so the visit is paid once.",
        ));
    }
    Ok(())
}

const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A pickup or verification code: 10 characters, no look-alikes.
fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// In the transaction that marks the order paid: its fulfilments become
/// ready (with a code for pickup and pharmacy transfer).
pub async fn on_order_paid(conn: &mut AnyConnection, order: &OrderRow, now: i64) -> ApiResult<()> {
    let patient = identity::patient(conn, &order.patient_id).await?;
    for f in rxstore::fulfilments_of_order(conn, &order.id).await? {
        if f.status != FulfilmentStatus::AwaitingPayment.as_str() {
            continue;
        }
        let method = Method::parse(&f.method)?;
        let code = (!method.is_delivery()).then(new_code);
        if rxstore::mark_ready(conn, &f.prescription_id, code.as_deref(), now).await? {
            ihos_store::outbox::put(
                conn,
                "rx.ready",
                patient.as_ref().and_then(patient_recipient).as_deref(),
                &json!({"prescription_id": f.prescription_id, "method": f.method}),
                now,
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn on_order_cancelled(
    conn: &mut AnyConnection,
    order: &OrderRow,
    now: i64,
) -> ApiResult<()> {
    rxstore::cancel_for_order(conn, &order.id, now).await?;
    Ok(())
}

/// Whether any drug of the order left the pharmacy.
pub async fn handed_over(conn: &mut AnyConnection, order_id: &str) -> ApiResult<bool> {
    Ok(rxstore::fulfilments_of_order(conn, order_id)
        .await?
        .iter()
        .any(|f| FulfilmentStatus::parse(&f.status).is_ok_and(|s| s.handed_over())))
}

// ------------------------------------------------------------------ dispensing

/// Where the caller may dispense this fulfilment: the hospital window for
/// pickups, any pharmacy for transfers.
async fn dispensing_org(
    conn: &mut AnyConnection,
    caller: &Caller,
    f: &FulfilmentRow,
) -> ApiResult<Option<String>> {
    let orgs = pharmacist_orgs(conn, caller).await?;
    let method = Method::parse(&f.method)?;
    Ok(match method {
        Method::PharmacyTransfer => orgs
            .into_iter()
            .find(|(_, k)| *k == OrgKind::Pharmacy)
            .map(|(id, _)| id),
        _ => orgs
            .into_iter()
            .find(|(id, _)| *id == f.org_id)
            .map(|(id, _)| id),
    })
}

/// A pharmacy (or the hospital window) sees the prescription behind a code.
pub async fn lookup(state: &AppState, caller: &Caller, code: &str) -> ApiResult<PrescriptionView> {
    let code = code.trim().to_ascii_uppercase();
    let mut conn = state.store.conn().await?;
    caller.require(Role::Pharmacist)?;
    let f = rxstore::fulfilment_by_code(&mut conn, &code)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(org_id) = dispensing_org(&mut conn, caller, &f).await? else {
        return Err(ApiError::not_found());
    };
    let r = rxstore::prescription(&mut conn, &f.prescription_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut conn,
            "prescription.dispense.read",
            "prescription",
            &r.id,
            "dispensing_pharmacist",
            Some(&org_id),
        )
        .await?;
    view(&mut conn, r, false).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DispenseInput {
    /// The pickup or verification code the patient shows.
    pub code: String,
}

/// Dispense exactly once: of concurrent attempts (even at two pharmacies)
/// one wins, the others get `rx_already_dispensed`.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn dispense(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: DispenseInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Pharmacist)?;
    let code = input.code.trim().to_ascii_uppercase();
    // Checks read outside the write transaction, so the write below is the
    // transaction's first statement (on SQLite it takes the write lock at
    // once instead of failing to upgrade a read lock under contention).
    let mut conn = state.store.conn().await?;
    let r = rxstore::prescription(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(f) = rxstore::fulfilment(&mut conn, &r.id).await? else {
        // No fulfilment exists before approval: nothing to dispense.
        rules::check_releasable(RxStatus::parse(&r.status)?).map_err(ApiError::domain_conflict)?;
        return Err(ApiError::not_found());
    };
    let Some(org_id) = dispensing_org(&mut conn, caller, &f).await? else {
        return Err(ApiError::not_found());
    };
    rules::check_dispensable(
        Method::parse(&f.method)?,
        FulfilmentStatus::parse(&f.status)?,
    )
    .map_err(ApiError::domain_conflict)?;
    if f.code.as_deref() != Some(code.as_str()) {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RxBadCode,
                "The code does not match this prescription.",
            )
            .on("code"),
        ));
    }
    let patient = identity::patient(&mut conn, &r.patient_id).await?;
    drop(conn);
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    // The one atomic conditional write that decides who dispenses.
    if !rxstore::dispense(&mut tx, &r.id, &org_id, &caller.account_id, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RxAlreadyDispensed,
            "These drugs were already dispensed (perhaps at another pharmacy just now).",
        ));
    }
    rxstore::event(
        &mut tx,
        &r.id,
        "dispensed",
        None,
        Some(&caller.account_id),
        now,
    )
    .await?;
    ihos_store::outbox::put(
        &mut tx,
        "rx.dispensed",
        patient.as_ref().and_then(patient_recipient).as_deref(),
        &json!({"prescription_id": r.id, "org_id": org_id}),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "prescription.dispense",
            "prescription",
            &r.id,
            "dispensing_pharmacist",
            Some(&org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    let mut conn = state.store.conn().await?;
    let row = rxstore::prescription(&mut conn, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    view(&mut conn, row, false).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TrackInput {
    /// shipped, in_transit or delivered
    pub status: String,
    pub courier: Option<String>,
    pub tracking_no: Option<String>,
}

/// The hospital pharmacy moves a delivery along its tracking states.
pub async fn track(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: TrackInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Pharmacist)?;
    let to = FulfilmentStatus::parse(input.status.trim())?;
    let courier = match input.courier.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(parse_text(c, "courier", 1, 40)?),
        _ => None,
    };
    let tracking_no = match input.tracking_no.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(parse_text(c, "tracking_no", 4, 40)?),
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let r = rxstore::prescription(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !pharmacist_of(&mut tx, caller, &r.org_id).await? {
        return Err(ApiError::not_found());
    }
    let Some(f) = rxstore::fulfilment(&mut tx, &r.id).await? else {
        rules::check_releasable(RxStatus::parse(&r.status)?).map_err(ApiError::domain_conflict)?;
        return Err(ApiError::not_found());
    };
    let method = Method::parse(&f.method)?;
    let from = FulfilmentStatus::parse(&f.status)?;
    rules::delivery_step(method, from, to).map_err(ApiError::domain_conflict)?;
    if to == FulfilmentStatus::Shipped && method == Method::Courier && tracking_no.is_none() {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RxTrackingRequired,
                "A courier shipment needs its tracking number.",
            )
            .on("tracking_no"),
        ));
    }
    let now = now_ms();
    if !rxstore::track(
        &mut tx,
        &r.id,
        from.as_str(),
        to.as_str(),
        courier.as_deref(),
        tracking_no.as_deref(),
        &caller.account_id,
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone changed this delivery at the same moment; reload it.",
        ));
    }
    let note = [courier.as_deref(), tracking_no.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    rxstore::event(
        &mut tx,
        &r.id,
        to.as_str(),
        (!note.is_empty()).then_some(note.as_str()),
        Some(&caller.account_id),
        now,
    )
    .await?;
    let patient = identity::patient(&mut tx, &r.patient_id).await?;
    ihos_store::outbox::put(
        &mut tx,
        "rx.tracking",
        patient.as_ref().and_then(patient_recipient).as_deref(),
        &json!({"prescription_id": r.id, "status": to.as_str()}),
        now,
    )
    .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

/// The catalogue for prescribing screens.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrugView {
    pub code: String,
    pub generic_name: String,
    pub form: String,
    pub strength: String,
    pub unit: String,
    pub price_fen: i64,
    pub price: String,
    pub insurance: String,
    pub reimburse_permille: i64,
    pub control: String,
    /// false for narcotic, psychotropic and other specially controlled drugs
    pub online_allowed: bool,
}

pub fn drugs(state: &AppState, q: Option<&str>) -> Vec<DrugView> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    state
        .drugs
        .all()
        .iter()
        .filter(|d| q.is_none_or(|q| d.generic_name.contains(q) || d.code.eq_ignore_ascii_case(q)))
        .map(|d| DrugView {
            code: d.code.clone(),
            generic_name: d.generic_name.clone(),
            form: d.form.clone(),
            strength: d.strength.clone(),
            unit: d.unit.clone(),
            price_fen: d.price_fen,
            price: yuan(d.price_fen),
            insurance: d.insurance.as_str().into(),
            reimburse_permille: d.reimburse_permille,
            control: d.control.as_str().into(),
            online_allowed: d.control.allowed_online(),
        })
        .collect()
}
