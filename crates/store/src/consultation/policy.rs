//! Department first-visit policy.

use super::*;

// ---------------------------------------------------------------- policy

/// Whether the department pilots online first visits; `None` = strict default.
pub async fn dept_allows_first_visit(
    conn: &mut AnyConnection,
    department_id: &str,
) -> StoreResult<bool> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT allow_first_visit FROM consultation_dept_policies WHERE department_id = $1",
    )
    .bind(department_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(v == Some(1))
}

pub async fn set_dept_policy(
    conn: &mut AnyConnection,
    department_id: &str,
    allow_first_visit: bool,
    by: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consultation_dept_policies (department_id, allow_first_visit, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (department_id) DO UPDATE SET \
         allow_first_visit = excluded.allow_first_visit, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )
    .bind(department_id)
    .bind(i64::from(allow_first_visit))
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
