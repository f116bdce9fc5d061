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
use crate::clock::today_in_shanghai;
use crate::consultation::service::{Side, load_for};
use crate::error::{ApiError, ApiResult};
use crate::payment::service::{self as pay, OrderItemInput, OrderView, Visit};
use crate::state::AppState;

mod allergies;
mod dispense;
mod fulfilment;
mod payable;
mod prescribe;
mod reads;
mod review;
pub use allergies::*;
pub use dispense::*;
pub use fulfilment::*;
pub use payable::*;
pub use prescribe::*;
pub use reads::*;
pub use review::*;

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
