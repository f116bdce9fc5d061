//! Follow-up plans, their scheduled tasks, alerts to the doctor and the
//! adherence / control-rate figures.
//!
//! A task is completed or missed by a conditional update (`... AND status =
//! 'due'`), and an alert is unique per (task, kind) and inserted with
//! `ON CONFLICT DO NOTHING`: retries and races make exactly one.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreResult, new_id};

#[derive(Debug, Clone)]
pub struct NewPlan {
    pub patient_id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub template_code: String,
    pub occasion: String,
    pub consultation_id: Option<String>,
    pub template_json: String,
    pub starts_at: i64,
    pub ends_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct PlanRow {
    pub id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub template_code: String,
    pub occasion: String,
    pub consultation_id: Option<String>,
    pub template_json: String,
    pub status: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub created_at: i64,
    // joined
    pub patient_name: String,
    pub patient_account_id: Option<String>,
    pub guardian_account_id: Option<String>,
    pub doctor_name: String,
}

const PLAN_COLUMNS: &str = "f.id, f.patient_id, f.doctor_id, f.org_id, f.department_id, f.template_code, \
     f.occasion, f.consultation_id, f.template_json, f.status, f.starts_at, f.ends_at, f.created_at, \
     p.name AS patient_name, p.account_id AS patient_account_id, p.guardian_account_id, d.name AS doctor_name";
const PLAN_FROM: &str = "FROM followup_plans f JOIN patients p ON p.id = f.patient_id \
     JOIN practitioners d ON d.account_id = f.doctor_id";

pub async fn insert_plan(conn: &mut AnyConnection, new: &NewPlan, now: i64) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO followup_plans (id, patient_id, doctor_id, org_id, department_id, template_code, occasion, \
         consultation_id, template_json, status, starts_at, ends_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11, $12)",
    )
    .bind(&id)
    .bind(&new.patient_id)
    .bind(&new.doctor_id)
    .bind(&new.org_id)
    .bind(new.department_id.as_deref())
    .bind(&new.template_code)
    .bind(&new.occasion)
    .bind(new.consultation_id.as_deref())
    .bind(&new.template_json)
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn insert_task(
    conn: &mut AnyConnection,
    plan_id: &str,
    seq: i64,
    kind: &str,
    title: &str,
    due_at: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO followup_tasks (id, plan_id, seq, kind, title, due_at, status) VALUES ($1, $2, $3, $4, $5, $6, 'due')",
    )
    .bind(new_id())
    .bind(plan_id)
    .bind(seq)
    .bind(kind)
    .bind(title)
    .bind(due_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn plan(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<PlanRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PLAN_COLUMNS} {PLAN_FROM} WHERE f.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, Copy)]
pub enum PlanFilter<'a> {
    /// The patient's own plans and those of children in their care.
    Account(&'a str),
    Doctor(&'a str),
}

pub async fn plans(conn: &mut AnyConnection, filter: PlanFilter<'_>) -> StoreResult<Vec<PlanRow>> {
    let (cond, v) = match filter {
        PlanFilter::Account(a) => ("(p.account_id = $1 OR p.guardian_account_id = $1)", a),
        PlanFilter::Doctor(d) => ("f.doctor_id = $1", d),
    };
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PLAN_COLUMNS} {PLAN_FROM} WHERE {cond} ORDER BY f.created_at DESC LIMIT 200"
    )))
    .bind(v)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct TaskRow {
    pub id: String,
    pub plan_id: String,
    pub seq: i64,
    pub kind: String,
    pub title: String,
    pub due_at: i64,
    pub status: String,
    pub result_json: Option<String>,
    pub in_range: Option<i64>,
    pub done_at: Option<i64>,
    pub missed_at: Option<i64>,
}

const TASK_COLUMNS: &str =
    "id, plan_id, seq, kind, title, due_at, status, result_json, in_range, done_at, missed_at";

pub async fn tasks(conn: &mut AnyConnection, plan_id: &str) -> StoreResult<Vec<TaskRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TASK_COLUMNS} FROM followup_tasks WHERE plan_id = $1 ORDER BY seq"
    )))
    .bind(plan_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn task(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<TaskRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TASK_COLUMNS} FROM followup_tasks WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Record the result of a due (or missed, done late) task; false when it was already done.
pub async fn complete_task(
    conn: &mut AnyConnection,
    id: &str,
    result_json: &str,
    in_range: Option<bool>,
    done_by: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE followup_tasks SET status = 'done', result_json = $2, in_range = $3, done_at = $4, done_by = $5 \
         WHERE id = $1 AND status IN ('due', 'missed')",
    )
    .bind(id)
    .bind(result_json)
    .bind(in_range.map(i64::from))
    .bind(now)
    .bind(done_by)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Tasks still due at `before` (their due time plus the grace period has passed).
pub async fn overdue(conn: &mut AnyConnection, before: i64) -> StoreResult<Vec<TaskRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TASK_COLUMNS} FROM followup_tasks WHERE status = 'due' AND due_at < $1 ORDER BY due_at LIMIT 500"
    )))
    .bind(before)
    .fetch_all(&mut *conn)
    .await?)
}

/// Mark a task missed exactly once.
pub async fn mark_missed(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE followup_tasks SET status = 'missed', missed_at = $2 WHERE id = $1 AND status = 'due'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An alert to the doctor; false when this task already has one of this kind.
#[allow(clippy::too_many_arguments)]
pub async fn insert_alert(
    conn: &mut AnyConnection,
    plan: &PlanRow,
    task_id: &str,
    kind: &str,
    detail: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO followup_alerts (id, plan_id, task_id, doctor_id, patient_id, kind, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (task_id, kind) DO NOTHING",
    )
    .bind(new_id())
    .bind(&plan.id)
    .bind(task_id)
    .bind(&plan.doctor_id)
    .bind(&plan.patient_id)
    .bind(kind)
    .bind(detail)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct AlertRow {
    pub id: String,
    pub plan_id: String,
    pub task_id: String,
    pub doctor_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
    pub acknowledged_at: Option<i64>,
}

pub async fn alerts_for_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<Vec<AlertRow>> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.plan_id, a.task_id, a.doctor_id, a.patient_id, p.name AS patient_name, a.kind, \
         a.detail, a.created_at, a.acknowledged_at FROM followup_alerts a JOIN patients p ON p.id = a.patient_id \
         WHERE a.doctor_id = $1 ORDER BY a.acknowledged_at IS NOT NULL, a.created_at DESC LIMIT 200",
    )
    .bind(doctor_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Alerts about one task (tests, and the plan view).
pub async fn alerts_for_task(conn: &mut AnyConnection, task_id: &str) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM followup_alerts WHERE task_id = $1")
            .bind(task_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

pub async fn acknowledge(
    conn: &mut AnyConnection,
    id: &str,
    doctor_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE followup_alerts SET acknowledged_at = $3 WHERE id = $1 AND doctor_id = $2 AND acknowledged_at IS NULL",
    )
    .bind(id)
    .bind(doctor_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Figures per doctor (and their department) over plans of `org_id`:
/// tasks done, missed, readings, readings in range.
#[derive(Debug, Clone, FromRow)]
pub struct FigureRow {
    pub doctor_id: String,
    pub doctor_name: String,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub plans: i64,
    pub done: i64,
    pub missed: i64,
    pub readings: i64,
    pub readings_in_range: i64,
}

pub async fn figures(
    conn: &mut AnyConnection,
    org_id: &str,
    doctor_id: Option<&str>,
) -> StoreResult<Vec<FigureRow>> {
    Ok(sqlx::query_as(
        "SELECT f.doctor_id, d.name AS doctor_name, f.department_id, dep.name AS department_name, \
         COUNT(DISTINCT f.id) AS plans, \
         COALESCE(SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END), 0) AS done, \
         COALESCE(SUM(CASE WHEN t.status = 'missed' THEN 1 ELSE 0 END), 0) AS missed, \
         COALESCE(SUM(CASE WHEN t.in_range IS NOT NULL THEN 1 ELSE 0 END), 0) AS readings, \
         COALESCE(SUM(CASE WHEN t.in_range = 1 THEN 1 ELSE 0 END), 0) AS readings_in_range \
         FROM followup_plans f JOIN practitioners d ON d.account_id = f.doctor_id \
         LEFT JOIN departments dep ON dep.id = f.department_id \
         LEFT JOIN followup_tasks t ON t.plan_id = f.id \
         WHERE f.org_id = $1 AND ($2 = '' OR f.doctor_id = $2) \
         GROUP BY f.doctor_id, d.name, f.department_id, dep.name ORDER BY dep.name, d.name",
    )
    .bind(org_id)
    .bind(doctor_id.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?)
}

/// Patients in `doctor_id`'s care at `at` (for assigning a plan).
pub async fn patients_in_care(
    conn: &mut AnyConnection,
    doctor_id: &str,
    at: i64,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT p.id, p.name FROM care_relationships c JOIN patients p ON p.id = c.patient_id \
         WHERE c.practitioner_id = $1 AND c.starts_at <= $2 AND c.ends_at > $2 ORDER BY p.name, p.id",
    )
    .bind(doctor_id)
    .bind(at)
    .fetch_all(&mut *conn)
    .await?)
}
