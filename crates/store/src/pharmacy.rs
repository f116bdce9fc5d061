//! Prescriptions (versions, items, signature, review), patient allergies,
//! and fulfilment of approved prescriptions (pickup, delivery tracking,
//! pharmacy transfer). Every state change is a conditional update on the
//! expected state, so two actors racing cannot both win; dispensing in
//! particular is `UPDATE ... WHERE status = 'ready'` and only one of two
//! concurrent pharmacies sees a changed row.

use sqlx::{AnyConnection, FromRow};

use crate::{StoreResult, classify, new_id};

// ---------------------------------------------------------------- allergies

#[derive(Debug, Clone, FromRow)]
pub struct AllergyRow {
    pub substance: String,
    pub noted_by: String,
    pub created_at: i64,
}

pub async fn allergies(conn: &mut AnyConnection, patient_id: &str) -> StoreResult<Vec<AllergyRow>> {
    Ok(sqlx::query_as(
        "SELECT substance, noted_by, created_at FROM patient_allergies WHERE patient_id = $1 ORDER BY created_at, substance",
    )
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Record an allergy; answers false when it was already on record.
pub async fn add_allergy(
    conn: &mut AnyConnection,
    patient_id: &str,
    substance: &str,
    by: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO patient_allergies (patient_id, substance, noted_by, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (patient_id, substance) DO NOTHING",
    )
    .bind(patient_id)
    .bind(substance)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------- prescriptions

#[derive(Debug, Clone)]
pub struct NewPrescription {
    pub consultation_id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub org_id: String,
    /// The first version's id, or None for a first version.
    pub root_id: Option<String>,
    pub version: i64,
    pub previous_id: Option<String>,
    pub kind: String,
    pub diagnosis: String,
    pub weight_g: Option<i64>,
    pub note: Option<String>,
    pub signed_at: i64,
    pub signature_method: String,
    pub signature: String,
    pub items: Vec<NewItem>,
}

#[derive(Debug, Clone)]
pub struct NewItem {
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
    pub insurance: String,
    pub reimburse_permille: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct PrescriptionRow {
    pub id: String,
    pub consultation_id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub root_id: String,
    pub version: i64,
    pub previous_id: Option<String>,
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
    pub updated_at: i64,
    // joined
    pub patient_name: String,
    pub patient_birth_date: String,
    pub patient_sex: String,
    pub doctor_name: String,
    pub org_name: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
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
    pub insurance: String,
    pub reimburse_permille: i64,
}

const COLUMNS: &str = "r.id, r.consultation_id, r.patient_id, r.doctor_id, r.org_id, r.root_id, r.version, \
     r.previous_id, r.status, r.kind, r.diagnosis, r.weight_g, r.note, r.signed_by, r.signed_at, \
     r.signature_method, r.signature, r.reviewed_by, r.reviewed_at, r.review_note, r.created_at, r.updated_at, \
     p.name AS patient_name, p.birth_date AS patient_birth_date, p.sex AS patient_sex, \
     d.name AS doctor_name, o.name AS org_name \
     FROM prescriptions r JOIN patients p ON p.id = r.patient_id \
     JOIN practitioners d ON d.account_id = r.doctor_id JOIN organisations o ON o.id = r.org_id";

/// Insert a signed prescription and its items (status pending_review).
pub async fn insert_prescription(
    conn: &mut AnyConnection,
    new: &NewPrescription,
) -> StoreResult<String> {
    let id = new_id();
    let root = new.root_id.clone().unwrap_or_else(|| id.clone());
    sqlx::query(
        "INSERT INTO prescriptions (id, consultation_id, patient_id, doctor_id, org_id, root_id, version, \
         previous_id, status, kind, diagnosis, weight_g, note, signed_by, signed_at, signature_method, \
         signature, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending_review', $9, \
         $10, $11, $12, $4, $13, $14, $15, $13, $13)",
    )
    .bind(&id)
    .bind(&new.consultation_id)
    .bind(&new.patient_id)
    .bind(&new.doctor_id)
    .bind(&new.org_id)
    .bind(&root)
    .bind(new.version)
    .bind(new.previous_id.as_deref())
    .bind(&new.kind)
    .bind(&new.diagnosis)
    .bind(new.weight_g)
    .bind(new.note.as_deref())
    .bind(new.signed_at)
    .bind(&new.signature_method)
    .bind(&new.signature)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["version"]))?;
    for (i, it) in new.items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO prescription_items (prescription_id, line, drug_code, generic_name, form, strength, \
             unit, quantity, dosage, frequency, days, unit_price_fen, insurance, reimburse_permille) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(i as i64 + 1)
        .bind(&it.drug_code)
        .bind(&it.generic_name)
        .bind(&it.form)
        .bind(&it.strength)
        .bind(&it.unit)
        .bind(it.quantity)
        .bind(&it.dosage)
        .bind(&it.frequency)
        .bind(it.days)
        .bind(it.unit_price_fen)
        .bind(&it.insurance)
        .bind(it.reimburse_permille)
        .execute(&mut *conn)
        .await
        .map_err(|e| classify(e, &["drug_code"]))?;
    }
    Ok(id)
}

pub async fn prescription(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<PrescriptionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn items(conn: &mut AnyConnection, prescription_id: &str) -> StoreResult<Vec<ItemRow>> {
    Ok(sqlx::query_as(
        "SELECT line, drug_code, generic_name, form, strength, unit, quantity, dosage, frequency, days, \
         unit_price_fen, insurance, reimburse_permille FROM prescription_items \
         WHERE prescription_id = $1 ORDER BY line",
    )
    .bind(prescription_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn for_consultation(
    conn: &mut AnyConnection,
    consultation_id: &str,
) -> StoreResult<Vec<PrescriptionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE r.consultation_id = $1 ORDER BY r.created_at, r.id"
    )))
    .bind(consultation_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn for_patient(
    conn: &mut AnyConnection,
    patient_id: &str,
    limit: i64,
) -> StoreResult<Vec<PrescriptionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE r.patient_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2"
    )))
    .bind(patient_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// The review queue of one hospital: pending prescriptions, oldest first.
pub async fn queue(
    conn: &mut AnyConnection,
    org_id: &str,
    limit: i64,
) -> StoreResult<Vec<PrescriptionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE r.org_id = $1 AND r.status = 'pending_review' \
         ORDER BY r.created_at, r.id LIMIT $2"
    )))
    .bind(org_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Whether the consultation has a prescription waiting for review.
pub async fn pending_in_consultation(
    conn: &mut AnyConnection,
    consultation_id: &str,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM prescriptions WHERE consultation_id = $1 AND status = 'pending_review'",
    )
    .bind(consultation_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Move `id` from `from` to `to`; answers false when it was not in `from`.
pub async fn change_status(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    reviewer: Option<&str>,
    note: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE prescriptions SET status = $3, updated_at = $4, \
         reviewed_by = COALESCE($5, reviewed_by), reviewed_at = CASE WHEN $5 IS NULL THEN reviewed_at ELSE $4 END, \
         review_note = COALESCE($6, review_note) WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(reviewer)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------- fulfilment

#[derive(Debug, Clone, FromRow)]
pub struct FulfilmentRow {
    pub prescription_id: String,
    pub order_id: String,
    pub org_id: String,
    pub method: String,
    pub status: String,
    pub code: Option<String>,
    pub address: Option<String>,
    pub courier: Option<String>,
    pub tracking_no: Option<String>,
    pub dispensed_org_id: Option<String>,
    pub dispensed_by: Option<String>,
    pub dispensed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const F_COLUMNS: &str = "prescription_id, order_id, org_id, method, status, code, address, courier, \
     tracking_no, dispensed_org_id, dispensed_by, dispensed_at, created_at, updated_at";

/// Created when a prescription is approved: awaiting payment, pickup by default.
pub async fn insert_fulfilment(
    conn: &mut AnyConnection,
    prescription_id: &str,
    order_id: &str,
    org_id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO rx_fulfilments (prescription_id, order_id, org_id, method, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pickup', 'awaiting_payment', $4, $4)",
    )
    .bind(prescription_id)
    .bind(order_id)
    .bind(org_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    event(conn, prescription_id, "awaiting_payment", None, None, now).await
}

pub async fn fulfilment(
    conn: &mut AnyConnection,
    prescription_id: &str,
) -> StoreResult<Option<FulfilmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {F_COLUMNS} FROM rx_fulfilments WHERE prescription_id = $1"
    )))
    .bind(prescription_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn fulfilment_by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> StoreResult<Option<FulfilmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {F_COLUMNS} FROM rx_fulfilments WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn fulfilments_of_order(
    conn: &mut AnyConnection,
    order_id: &str,
) -> StoreResult<Vec<FulfilmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {F_COLUMNS} FROM rx_fulfilments WHERE order_id = $1 ORDER BY created_at"
    )))
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The patient's choice, only while awaiting payment.
pub async fn choose_method(
    conn: &mut AnyConnection,
    prescription_id: &str,
    method: &str,
    address: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE rx_fulfilments SET method = $2, address = $3, updated_at = $4 \
         WHERE prescription_id = $1 AND status = 'awaiting_payment'",
    )
    .bind(prescription_id)
    .bind(method)
    .bind(address)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Payment arrived: the fulfilment becomes ready with its code (pickup or
/// verification code; None for deliveries). Unique code collisions are
/// reported as `Duplicate` so the caller retries with another code.
pub async fn mark_ready(
    conn: &mut AnyConnection,
    prescription_id: &str,
    code: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE rx_fulfilments SET status = 'ready', code = $2, updated_at = $3 \
         WHERE prescription_id = $1 AND status = 'awaiting_payment'",
    )
    .bind(prescription_id)
    .bind(code)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["code"]))?;
    if done.rows_affected() == 1 {
        event(conn, prescription_id, "ready", None, None, now).await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Dispense exactly once: only the first of concurrent attempts changes the row.
pub async fn dispense(
    conn: &mut AnyConnection,
    prescription_id: &str,
    org_id: &str,
    by: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE rx_fulfilments SET status = 'dispensed', dispensed_org_id = $2, dispensed_by = $3, \
         dispensed_at = $4, updated_at = $4 WHERE prescription_id = $1 AND status = 'ready' \
         AND method IN ('pickup', 'pharmacy_transfer')",
    )
    .bind(prescription_id)
    .bind(org_id)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One delivery tracking step from `from` to `to`.
#[allow(clippy::too_many_arguments)]
pub async fn track(
    conn: &mut AnyConnection,
    prescription_id: &str,
    from: &str,
    to: &str,
    courier: Option<&str>,
    tracking_no: Option<&str>,
    by: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE rx_fulfilments SET status = $3, courier = COALESCE($4, courier), \
         tracking_no = COALESCE($5, tracking_no), updated_at = $6, \
         dispensed_by = CASE WHEN $3 = 'shipped' THEN $7 ELSE dispensed_by END, \
         dispensed_at = CASE WHEN $3 = 'shipped' THEN $6 ELSE dispensed_at END \
         WHERE prescription_id = $1 AND status = $2",
    )
    .bind(prescription_id)
    .bind(from)
    .bind(to)
    .bind(courier)
    .bind(tracking_no)
    .bind(now)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancel fulfilments of an order that were not handed over (refund).
pub async fn cancel_for_order(
    conn: &mut AnyConnection,
    order_id: &str,
    now: i64,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE rx_fulfilments SET status = 'cancelled', updated_at = $2 \
         WHERE order_id = $1 AND status IN ('awaiting_payment', 'ready')",
    )
    .bind(order_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub at: i64,
    pub status: String,
    pub note: Option<String>,
}

pub async fn event(
    conn: &mut AnyConnection,
    prescription_id: &str,
    status: &str,
    note: Option<&str>,
    actor: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO rx_fulfilment_events (id, prescription_id, at, status, note, actor_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(prescription_id)
    .bind(now)
    .bind(status)
    .bind(note)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn events(conn: &mut AnyConnection, prescription_id: &str) -> StoreResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT at, status, note FROM rx_fulfilment_events WHERE prescription_id = $1 ORDER BY at, id",
    )
    .bind(prescription_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Count dispensed fulfilments of one prescription (tests check "exactly once").
pub async fn dispensed_count(conn: &mut AnyConnection, prescription_id: &str) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM rx_fulfilment_events WHERE prescription_id = $1 AND status = 'dispensed'",
    )
    .bind(prescription_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// All prescriptions stored (tests check nothing half-written stays behind).
pub async fn count(conn: &mut AnyConnection) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM prescriptions")
        .fetch_one(&mut *conn)
        .await?)
}
