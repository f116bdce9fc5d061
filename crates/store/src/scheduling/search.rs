//! Doctor search and the rush invariants check.

use super::*;

#[derive(Debug, Clone, FromRow)]
pub struct DoctorCard {
    pub doctor_id: String,
    pub name: String,
    pub title: String,
    pub org_id: String,
    pub org_name: String,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub specialty: Option<String>,
}

/// Doctors with open slots on `service_date`, narrowed by department,
/// specialty and title (any may be None).
pub async fn search_doctors(
    conn: &mut AnyConnection,
    service_date: &str,
    department_id: Option<&str>,
    specialty: Option<&str>,
    title: Option<&str>,
) -> StoreResult<Vec<DoctorCard>> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT s.doctor_id, d.name, d.title, s.org_id, o.name AS org_name, s.department_id, \
           dep.name AS department_name, dep.specialty \
         FROM slots s JOIN practitioners d ON d.account_id = s.doctor_id \
         JOIN organisations o ON o.id = s.org_id LEFT JOIN departments dep ON dep.id = s.department_id \
         WHERE s.service_date = $1 AND s.status = 'open' \
           AND ($2 IS NULL OR s.department_id = $2) AND ($3 IS NULL OR dep.specialty = $3) \
           AND ($4 IS NULL OR d.title = $4) \
         ORDER BY o.name, dep.name, d.name LIMIT 200",
    )
    .bind(service_date)
    .bind(department_id)
    .bind(specialty)
    .bind(title)
    .fetch_all(&mut *conn)
    .await?)
}

/// Invariants after a registration rush, for benchmarks and tests:
/// (confirmed bookings, slots whose bookings exceed capacity, patients holding
/// two active bookings at one time, slots whose `remaining` disagrees with their bookings).
pub async fn rush_invariants(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<(i64, i64, i64, i64)> {
    let confirmed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE doctor_id = $1 AND status = 'booked'",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    let oversold: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT s.id FROM slots s JOIN appointments a ON a.slot_id = s.id \
         WHERE s.doctor_id = $1 AND a.status = 'booked' GROUP BY s.id, s.capacity \
         HAVING COUNT(*) > s.capacity) x",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    let duplicates: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT patient_id, starts_at FROM appointments \
         WHERE doctor_id = $1 AND status = 'booked' GROUP BY patient_id, starts_at HAVING COUNT(*) > 1) x",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM slots s WHERE s.doctor_id = $1 AND s.status = 'open' AND s.capacity - s.remaining <> \
         (SELECT COUNT(*) FROM appointments a WHERE a.slot_id = s.id AND a.status = 'booked')",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((confirmed, oversold, duplicates, mismatched))
}
