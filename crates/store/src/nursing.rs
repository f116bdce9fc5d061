//! Home nursing: the catalogue, nurse qualifications, assessments, orders
//! with their event timeline, safety alerts and reviews.
//!
//! Status changes are conditional updates (`... WHERE id = $1 AND status = $2`)
//! so two actors racing on one order cannot both win.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreResult, classify, new_id};

#[derive(Debug, Clone)]
pub struct NewService {
    pub org_id: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub fee_fen: i64,
    pub duration_minutes: i64,
    pub min_years: i64,
    pub required_qualification: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ServiceRow {
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
    pub active: i64,
}

const SERVICE_COLUMNS: &str = "s.id, s.org_id, o.name AS org_name, s.code, s.name, s.description, \
     s.fee_fen, s.duration_minutes, s.min_years, s.required_qualification, s.active";

pub async fn insert_service(
    conn: &mut AnyConnection,
    new: &NewService,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO nursing_services (id, org_id, code, name, description, fee_fen, duration_minutes, \
         min_years, required_qualification, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10)",
    )
    .bind(&id)
    .bind(&new.org_id)
    .bind(&new.code)
    .bind(&new.name)
    .bind(&new.description)
    .bind(new.fee_fen)
    .bind(new.duration_minutes)
    .bind(new.min_years)
    .bind(new.required_qualification.as_deref())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["code"]))?;
    Ok(id)
}

pub async fn service(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<ServiceRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SERVICE_COLUMNS} FROM nursing_services s JOIN organisations o ON o.id = s.org_id WHERE s.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Active services, of one hospital or all, by hospital and name.
pub async fn services(
    conn: &mut AnyConnection,
    org_id: Option<&str>,
) -> StoreResult<Vec<ServiceRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SERVICE_COLUMNS} FROM nursing_services s JOIN organisations o ON o.id = s.org_id \
         WHERE s.active = 1 AND ($1 = '' OR s.org_id = $1) ORDER BY o.name, s.fee_fen, s.code"
    )))
    .bind(org_id.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?)
}

/// Replace a nurse's qualifications at one hospital.
pub async fn set_qualifications(
    conn: &mut AnyConnection,
    nurse_id: &str,
    org_id: &str,
    qualifications: &[&str],
    granted_by: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM nurse_qualifications WHERE nurse_id = $1 AND org_id = $2")
        .bind(nurse_id)
        .bind(org_id)
        .execute(&mut *conn)
        .await?;
    for q in qualifications {
        sqlx::query(
            "INSERT INTO nurse_qualifications (nurse_id, org_id, qualification, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(nurse_id)
        .bind(org_id)
        .bind(*q)
        .bind(granted_by)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn qualifications(
    conn: &mut AnyConnection,
    nurse_id: &str,
    org_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT qualification FROM nurse_qualifications WHERE nurse_id = $1 AND org_id = $2 ORDER BY qualification",
    )
    .bind(nurse_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_assessment(
    conn: &mut AnyConnection,
    patient_id: &str,
    org_id: &str,
    assessor_id: &str,
    note: &str,
    now: i64,
    valid_until: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO nursing_assessments (id, patient_id, org_id, assessor_id, note, created_at, valid_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(patient_id)
    .bind(org_id)
    .bind(assessor_id)
    .bind(note)
    .bind(now)
    .bind(valid_until)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The most recent ground for a home-nursing order at `org_id`: an explicit
/// assessment still valid, a consultation completed since `since`, or an
/// appointment attended since `since`. Answers (kind, id).
pub async fn find_assessment(
    conn: &mut AnyConnection,
    patient_id: &str,
    org_id: &str,
    since: i64,
    now: i64,
) -> StoreResult<Option<(String, String)>> {
    let a: Option<String> = sqlx::query_scalar(
        "SELECT id FROM nursing_assessments WHERE patient_id = $1 AND org_id = $2 AND valid_until > $3 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(patient_id)
    .bind(org_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = a {
        return Ok(Some(("assessment".into(), id)));
    }
    let c: Option<String> = sqlx::query_scalar(
        "SELECT id FROM consultations WHERE patient_id = $1 AND org_id = $2 AND status = 'completed' \
         AND ended_at >= $3 ORDER BY ended_at DESC LIMIT 1",
    )
    .bind(patient_id)
    .bind(org_id)
    .bind(since)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = c {
        return Ok(Some(("consultation".into(), id)));
    }
    let ap: Option<String> = sqlx::query_scalar(
        "SELECT id FROM appointments WHERE patient_id = $1 AND org_id = $2 AND status = 'attended' \
         AND starts_at >= $3 AND starts_at <= $4 ORDER BY starts_at DESC LIMIT 1",
    )
    .bind(patient_id)
    .bind(org_id)
    .bind(since)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(ap.map(|id| ("appointment".into(), id)))
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub service_id: String,
    pub org_id: String,
    pub patient_id: String,
    pub ordered_by: String,
    pub status: String,
    pub fee_fen: i64,
    pub address_enc: String,
    pub address_masked: String,
    pub window_start: i64,
    pub window_end: i64,
    pub patient_note: Option<String>,
    pub assessment_kind: String,
    pub assessment_ref: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: String,
    pub service_id: String,
    pub org_id: String,
    pub patient_id: String,
    pub ordered_by: String,
    pub status: String,
    pub fee_fen: i64,
    pub address_enc: String,
    pub address_masked: String,
    pub window_start: i64,
    pub window_end: i64,
    pub patient_note: Option<String>,
    pub assessment_kind: String,
    pub assessment_ref: String,
    pub nurse_id: Option<String>,
    pub assigned_by: Option<String>,
    pub paid_at: Option<i64>,
    pub assigned_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub checked_in_at: Option<i64>,
    pub check_in_lat_e6: Option<i64>,
    pub check_in_lng_e6: Option<i64>,
    pub checked_out_at: Option<i64>,
    pub check_out_lat_e6: Option<i64>,
    pub check_out_lng_e6: Option<i64>,
    pub record_text: Option<String>,
    pub record_vitals: Option<String>,
    pub cancelled_at: Option<i64>,
    pub cancel_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    // joined
    pub service_name: String,
    pub service_code: String,
    pub min_years: i64,
    pub required_qualification: Option<String>,
    pub org_name: String,
    pub patient_name: String,
    pub patient_account_id: Option<String>,
    pub guardian_account_id: Option<String>,
    pub nurse_name: Option<String>,
}

const ORDER_COLUMNS: &str = "n.id, n.service_id, n.org_id, n.patient_id, n.ordered_by, n.status, n.fee_fen, \
     n.address_enc, n.address_masked, n.window_start, n.window_end, n.patient_note, n.assessment_kind, \
     n.assessment_ref, n.nurse_id, n.assigned_by, n.paid_at, n.assigned_at, n.accepted_at, n.checked_in_at, \
     n.check_in_lat_e6, n.check_in_lng_e6, n.checked_out_at, n.check_out_lat_e6, n.check_out_lng_e6, \
     n.record_text, n.record_vitals, n.cancelled_at, n.cancel_reason, n.created_at, n.updated_at, \
     s.name AS service_name, s.code AS service_code, s.min_years, s.required_qualification, \
     o.name AS org_name, p.name AS patient_name, p.account_id AS patient_account_id, \
     p.guardian_account_id, pr.name AS nurse_name";
const ORDER_FROM: &str = "FROM nursing_orders n JOIN nursing_services s ON s.id = n.service_id \
     JOIN organisations o ON o.id = n.org_id JOIN patients p ON p.id = n.patient_id \
     LEFT JOIN practitioners pr ON pr.account_id = n.nurse_id";

pub async fn insert_order(
    conn: &mut AnyConnection,
    new: &NewOrder,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO nursing_orders (id, service_id, org_id, patient_id, ordered_by, status, fee_fen, \
         address_enc, address_masked, window_start, window_end, patient_note, assessment_kind, assessment_ref, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
    )
    .bind(&id)
    .bind(&new.service_id)
    .bind(&new.org_id)
    .bind(&new.patient_id)
    .bind(&new.ordered_by)
    .bind(&new.status)
    .bind(new.fee_fen)
    .bind(&new.address_enc)
    .bind(&new.address_masked)
    .bind(new.window_start)
    .bind(new.window_end)
    .bind(new.patient_note.as_deref())
    .bind(&new.assessment_kind)
    .bind(&new.assessment_ref)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn order(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<OrderRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE n.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Orders where `column` (patient account, guardian, nurse, org) equals `value`, newest first.
pub async fn orders_where(
    conn: &mut AnyConnection,
    filter: OrderFilter<'_>,
) -> StoreResult<Vec<OrderRow>> {
    let (cond, value) = match filter {
        OrderFilter::Account(a) => ("(p.account_id = $1 OR p.guardian_account_id = $1)", a),
        OrderFilter::Nurse(a) => ("n.nurse_id = $1", a),
        OrderFilter::Org(o) => ("n.org_id = $1", o),
    };
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE {cond} ORDER BY n.created_at DESC LIMIT 200"
    )))
    .bind(value)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, Copy)]
pub enum OrderFilter<'a> {
    /// The patient's own orders and those of children in their care.
    Account(&'a str),
    Nurse(&'a str),
    Org(&'a str),
}

/// The fields a transition writes.
#[derive(Debug, Clone, Default)]
pub struct OrderChange<'a> {
    pub paid: bool,
    /// Some(Some(id)) assigns, Some(None) clears the nurse.
    pub nurse: Option<Option<&'a str>>,
    pub assigned_by: Option<&'a str>,
    pub accepted: bool,
    pub check_in: Option<(i64, i64)>,
    pub check_out: Option<(i64, i64)>,
    pub record_text: Option<&'a str>,
    pub record_vitals: Option<&'a str>,
    pub cancel_reason: Option<&'a str>,
    /// Only if the order is (still) assigned to this nurse.
    pub require_nurse: Option<&'a str>,
}

/// Move `id` from `from` to `to`; false when someone else changed it first.
pub async fn change_status(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    ch: &OrderChange<'_>,
) -> StoreResult<bool> {
    // Only the parameters the statement uses are bound (PostgreSQL refuses extras).
    enum Val<'v> {
        S(Option<&'v str>),
        I(Option<i64>),
    }
    fn push<'v>(vals: &mut Vec<Val<'v>>, sets: &mut Vec<String>, col: &str, v: Val<'v>) {
        vals.push(v);
        sets.push(format!("{col} = ${}", vals.len()));
    }
    let mut vals: Vec<Val<'_>> = vec![
        Val::S(Some(id)),
        Val::S(Some(from)),
        Val::S(Some(to)),
        Val::I(Some(now)),
    ];
    let mut sets = vec!["status = $3".to_string(), "updated_at = $4".to_string()];
    if ch.paid {
        push(&mut vals, &mut sets, "paid_at", Val::I(Some(now)));
    }
    match ch.nurse {
        Some(Some(n)) => {
            push(&mut vals, &mut sets, "nurse_id", Val::S(Some(n)));
            push(&mut vals, &mut sets, "assigned_by", Val::S(ch.assigned_by));
            push(&mut vals, &mut sets, "assigned_at", Val::I(Some(now)));
            push(&mut vals, &mut sets, "accepted_at", Val::I(None));
        }
        Some(None) => {
            push(&mut vals, &mut sets, "nurse_id", Val::S(None));
        }
        None => {}
    }
    if ch.accepted {
        push(&mut vals, &mut sets, "accepted_at", Val::I(Some(now)));
    }
    if let Some((lat, lng)) = ch.check_in {
        push(&mut vals, &mut sets, "checked_in_at", Val::I(Some(now)));
        push(&mut vals, &mut sets, "check_in_lat_e6", Val::I(Some(lat)));
        push(&mut vals, &mut sets, "check_in_lng_e6", Val::I(Some(lng)));
    }
    if let Some((lat, lng)) = ch.check_out {
        push(&mut vals, &mut sets, "checked_out_at", Val::I(Some(now)));
        push(&mut vals, &mut sets, "check_out_lat_e6", Val::I(Some(lat)));
        push(&mut vals, &mut sets, "check_out_lng_e6", Val::I(Some(lng)));
        push(&mut vals, &mut sets, "record_text", Val::S(ch.record_text));
        push(
            &mut vals,
            &mut sets,
            "record_vitals",
            Val::S(ch.record_vitals),
        );
    }
    if let Some(reason) = ch.cancel_reason {
        push(&mut vals, &mut sets, "cancelled_at", Val::I(Some(now)));
        push(&mut vals, &mut sets, "cancel_reason", Val::S(Some(reason)));
    }
    let mut sql = format!(
        "UPDATE nursing_orders SET {} WHERE id = $1 AND status = $2",
        sets.join(", ")
    );
    if let Some(n) = ch.require_nurse {
        vals.push(Val::S(Some(n)));
        sql.push_str(&format!(" AND nurse_id = ${}", vals.len()));
    }
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for v in vals {
        q = match v {
            Val::S(s) => q.bind(s),
            Val::I(i) => q.bind(i),
        };
    }
    let done = q.execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add_event(
    conn: &mut AnyConnection,
    order_id: &str,
    actor_id: Option<&str>,
    action: &str,
    detail: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO nursing_order_events (id, order_id, at, actor_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(order_id)
    .bind(now)
    .bind(actor_id)
    .bind(action)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub detail: Option<String>,
}

pub async fn events(conn: &mut AnyConnection, order_id: &str) -> StoreResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT e.at, e.actor_id, a.display_name AS actor_name, e.action, e.detail \
         FROM nursing_order_events e LEFT JOIN accounts a ON a.id = e.actor_id \
         WHERE e.order_id = $1 ORDER BY e.at, e.id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_safety_alert(
    conn: &mut AnyConnection,
    order_id: &str,
    nurse_id: &str,
    kind: &str,
    note: &str,
    loc: Option<(i64, i64)>,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO nursing_safety_alerts (id, order_id, nurse_id, kind, note, lat_e6, lng_e6, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(order_id)
    .bind(nurse_id)
    .bind(kind)
    .bind(note)
    .bind(loc.map(|l| l.0))
    .bind(loc.map(|l| l.1))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, FromRow)]
pub struct SafetyAlertRow {
    pub id: String,
    pub order_id: String,
    pub nurse_id: String,
    pub kind: String,
    pub note: String,
    pub created_at: i64,
}

pub async fn safety_alerts(
    conn: &mut AnyConnection,
    order_id: &str,
) -> StoreResult<Vec<SafetyAlertRow>> {
    Ok(sqlx::query_as(
        "SELECT id, order_id, nurse_id, kind, note, created_at FROM nursing_safety_alerts \
         WHERE order_id = $1 ORDER BY created_at, id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The accounts that administer `org_id` (safety alerts go to them).
pub async fn org_admins(conn: &mut AnyConnection, org_id: &str) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT account_id FROM role_grants WHERE role = 'org_admin' AND scope_id = $1 ORDER BY account_id",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// One review per order: a second is a duplicate.
pub async fn insert_review(
    conn: &mut AnyConnection,
    order_id: &str,
    nurse_id: &str,
    author_id: &str,
    rating: i64,
    body: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO nursing_reviews (order_id, nurse_id, author_id, rating, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id)
    .bind(nurse_id)
    .bind(author_id)
    .bind(rating)
    .bind(body)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["order_id", "nursing_reviews"]))?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct ReviewRow {
    pub order_id: String,
    pub nurse_id: String,
    pub rating: i64,
    pub body: Option<String>,
    pub created_at: i64,
}

pub async fn review(conn: &mut AnyConnection, order_id: &str) -> StoreResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(
        "SELECT order_id, nurse_id, rating, body, created_at FROM nursing_reviews WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?)
}
