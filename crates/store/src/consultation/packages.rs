//! Service packages, subscriptions and the batched message writer.

use super::*;

// ---------------------------------------------------------------- packages

#[derive(Debug, Clone, FromRow)]
pub struct PackageRow {
    pub id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub name: String,
    pub period_days: i64,
    pub consultations: i64,
    pub price_fen: i64,
    pub active: i64,
    pub created_at: i64,
}

pub(super) const PACKAGE_COLUMNS: &str =
    "id, doctor_id, org_id, name, period_days, consultations, price_fen, active, created_at";

pub async fn insert_package(conn: &mut AnyConnection, p: &PackageRow) -> StoreResult<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO service_packages ({PACKAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(&p.id)
    .bind(&p.doctor_id)
    .bind(&p.org_id)
    .bind(&p.name)
    .bind(p.period_days)
    .bind(p.consultations)
    .bind(p.price_fen)
    .bind(p.active)
    .bind(p.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn package(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<PackageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PACKAGE_COLUMNS} FROM service_packages WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn packages_of_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<Vec<PackageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PACKAGE_COLUMNS} FROM service_packages WHERE doctor_id = $1 AND active = 1 ORDER BY created_at"
    )))
    .bind(doctor_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub package_id: String,
    pub patient_id: String,
    pub account_id: String,
    pub doctor_id: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub remaining: i64,
    pub created_at: i64,
}

pub(super) const SUBSCRIPTION_COLUMNS: &str =
    "id, package_id, patient_id, account_id, doctor_id, starts_at, ends_at, remaining, created_at";

pub async fn insert_subscription(conn: &mut AnyConnection, s: &SubscriptionRow) -> StoreResult<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO package_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(&s.id)
    .bind(&s.package_id)
    .bind(&s.patient_id)
    .bind(&s.account_id)
    .bind(&s.doctor_id)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(s.remaining)
    .bind(s.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn subscription(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<SubscriptionRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM package_subscriptions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn subscriptions_of_patient(
    conn: &mut AnyConnection,
    patient_id: &str,
) -> StoreResult<Vec<SubscriptionRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM package_subscriptions WHERE patient_id = $1 ORDER BY created_at DESC"
    )))
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Take one consultation from a subscription: atomic, never below zero,
/// only within its period and for its patient and doctor.
pub async fn use_subscription(
    conn: &mut AnyConnection,
    id: &str,
    patient_id: &str,
    doctor_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE package_subscriptions SET remaining = remaining - 1 WHERE id = $1 AND patient_id = $2 \
         AND doctor_id = $3 AND remaining > 0 AND starts_at <= $4 AND ends_at > $4",
    )
    .bind(id)
    .bind(patient_id)
    .bind(doctor_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Give back a consultation taken from a subscription (declined, cancelled, expired).
pub async fn restore_subscription(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE package_subscriptions SET remaining = remaining + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
