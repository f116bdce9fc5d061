//! Follow-up plan use cases: templates (kept in `followup_templates/`), a
//! doctor with a care relationship assigns a plan, the patient completes
//! tasks, a reading outside the range alerts the doctor exactly once,
//! alerts are acknowledged, and adherence / control-rate figures per doctor
//! and department. Every read of patient data is authorised and audited.

use axum::http::StatusCode;
use ihos_domain::ErrorCode;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::followup::{self as rules, PlanTemplate, ResultInput, TaskKind, TaskSpec};
use ihos_domain::{DomainError, Role};
use ihos_store::followup::{self as store, NewPlan, PlanFilter, PlanRow, TaskRow};
use ihos_store::{AnyConnection, identity, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const TEMPLATE_FILES: [&str; 3] = [
    include_str!("../../followup_templates/hypertension.toml"),
    include_str!("../../followup_templates/diabetes.toml"),
    include_str!("../../followup_templates/post_surgery.toml"),
];

/// The plan templates kept in the repository, checked.
pub fn templates() -> Result<Vec<PlanTemplate>, String> {
    TEMPLATE_FILES
        .iter()
        .map(|text| {
            let t: PlanTemplate = toml::from_str(text).map_err(|e| e.to_string())?;
            t.validate().map_err(|e| e.message)?;
            Ok(t)
        })
        .collect()
}

fn template(code: &str) -> ApiResult<PlanTemplate> {
    templates()
        .map_err(ApiError::internal)?
        .into_iter()
        .find(|t| t.code == code.trim())
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownTemplate,
                    "There is no such follow-up template; see GET /api/v1/followup/templates.",
                )
                .on("template"),
            )
        })
}

// ------------------------------------------------------------------ inputs and views

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub description: String,
    pub duration_days: i64,
    pub tasks: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignPlanInput {
    pub patient_id: String,
    /// hypertension, diabetes or post_surgery
    pub template: String,
    /// discharge or visit
    pub occasion: String,
    /// The consultation the plan follows, if any (its hospital and department are used).
    pub consultation_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    pub seq: i64,
    pub kind: String,
    pub title: String,
    pub due_at: i64,
    /// due, done or missed
    pub status: String,
    #[schema(value_type = Object)]
    pub result: Option<serde_json::Value>,
    pub in_range: Option<bool>,
    pub done_at: Option<i64>,
    /// Questions of a questionnaire.
    pub questions: Vec<String>,
    /// Normal ranges of a reading, e.g. "systolic 90-139".
    pub ranges: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub doctor_id: String,
    pub doctor_name: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub template: String,
    pub name: String,
    pub occasion: String,
    pub status: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub tasks: Vec<TaskView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOutcome {
    pub task: TaskView,
    /// The reading was outside the range and the doctor was alerted (now or before).
    pub alerted: bool,
    /// The task had been completed already: nothing changed (a safe retry).
    pub already_done: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    pub plan_id: String,
    pub task_id: String,
    pub patient_id: String,
    pub patient_name: String,
    /// abnormal_reading or missed_task
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
    pub acknowledged: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FigureView {
    pub doctor_id: Option<String>,
    pub doctor_name: Option<String>,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub plans: i64,
    pub tasks_done: i64,
    pub tasks_missed: i64,
    /// done / (done + missed), percent; null before any task was due.
    pub adherence_percent: Option<f64>,
    pub readings: i64,
    pub readings_in_range: i64,
    /// readings in range / readings, percent.
    pub control_rate_percent: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresView {
    pub org_id: String,
    pub by_doctor: Vec<FigureView>,
    pub by_department: Vec<FigureView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FiguresQuery {
    /// The hospital (org admins); doctors may omit it for their primary hospital.
    pub org_id: Option<String>,
}

// ------------------------------------------------------------------ helpers

fn spec_of<'a>(t: &'a PlanTemplate, task: &TaskRow) -> Option<&'a TaskSpec> {
    t.tasks
        .iter()
        .find(|s| s.kind.as_str() == task.kind && s.title == task.title)
        .or_else(|| t.tasks.iter().find(|s| s.kind.as_str() == task.kind))
}

fn task_view(t: TaskRow, tpl: Option<&PlanTemplate>) -> TaskView {
    let spec = tpl.and_then(|p| spec_of(p, &t));
    TaskView {
        questions: spec.map(|s| s.questions.clone()).unwrap_or_default(),
        ranges: spec
            .map(|s| {
                s.ranges
                    .iter()
                    .map(|r| format!("{} {}-{}", r.metric, r.min, r.max))
                    .collect()
            })
            .unwrap_or_default(),
        id: t.id,
        seq: t.seq,
        kind: t.kind,
        title: t.title,
        due_at: t.due_at,
        status: t.status,
        result: t.result_json.and_then(|r| serde_json::from_str(&r).ok()),
        in_range: t.in_range.map(|v| v == 1),
        done_at: t.done_at,
    }
}

fn parsed_template(p: &PlanRow) -> Option<PlanTemplate> {
    serde_json::from_str(&p.template_json).ok()
}

fn plan_view(p: &PlanRow, tasks: Vec<TaskRow>) -> PlanView {
    let tpl = parsed_template(p);
    PlanView {
        id: p.id.clone(),
        patient_id: p.patient_id.clone(),
        patient_name: p.patient_name.clone(),
        doctor_id: p.doctor_id.clone(),
        doctor_name: p.doctor_name.clone(),
        org_id: p.org_id.clone(),
        department_id: p.department_id.clone(),
        template: p.template_code.clone(),
        name: tpl.as_ref().map(|t| t.name_zh.clone()).unwrap_or_default(),
        occasion: p.occasion.clone(),
        status: p.status.clone(),
        starts_at: p.starts_at,
        ends_at: p.ends_at,
        tasks: tasks
            .into_iter()
            .map(|t| task_view(t, tpl.as_ref()))
            .collect(),
    }
}

/// Who the caller is to a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Patient,
    Doctor,
}

fn side_of(p: &PlanRow, caller: &Caller) -> Option<Side> {
    let me = Some(caller.account_id.as_str());
    if p.patient_account_id.as_deref() == me || p.guardian_account_id.as_deref() == me {
        Some(Side::Patient)
    } else if p.doctor_id == caller.account_id {
        Some(Side::Doctor)
    } else {
        None
    }
}

async fn audit_entry(
    conn: &mut AnyConnection,
    caller: &Caller,
    action: &str,
    subject_id: &str,
    ground: &str,
    org_id: Option<&str>,
) -> ApiResult<()> {
    caller
        .audit(conn, action, "patient", subject_id, ground, org_id)
        .await
}

/// The ground on which the caller reads this plan's patient data, or "not found".
async fn ground(conn: &mut AnyConnection, p: &PlanRow, caller: &Caller) -> ApiResult<&'static str> {
    let me = Some(caller.account_id.as_str());
    let rel = Relationship {
        is_self: p.patient_account_id.as_deref() == me,
        is_guardian: p.guardian_account_id.as_deref() == me,
        is_treating: p.doctor_id == caller.account_id
            && identity::is_treating(conn, &p.patient_id, &caller.account_id, now_ms()).await?,
    };
    if !(rel.is_self || rel.is_guardian || rel.is_treating) {
        // Regulators supervise through their own views, not plan by plan.
        return Err(ApiError::not_found());
    }
    Ok(patient_read_ground(&caller.roles(), &rel)?.as_str())
}

// ------------------------------------------------------------------ use cases

pub fn list_templates() -> ApiResult<Vec<TemplateView>> {
    Ok(templates()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|t| TemplateView {
            tasks: t.schedule(0).len(),
            code: t.code,
            name_zh: t.name_zh,
            name_en: t.name_en,
            description: t.description,
            duration_days: t.duration_days,
        })
        .collect())
}

/// A doctor with a care relationship assigns a plan at discharge or after a visit.
#[tracing::instrument(skip_all)]
pub async fn assign(
    state: &AppState,
    caller: &Caller,
    input: AssignPlanInput,
) -> ApiResult<PlanView> {
    caller.require(Role::Doctor)?;
    let occasion = rules::parse_occasion(&input.occasion)?;
    let tpl = template(&input.template)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let patient = identity::patient(&mut tx, &input.patient_id).await?;
    let treating = match &patient {
        Some(p) => identity::is_treating(&mut tx, &p.id, &caller.account_id, now).await?,
        None => false,
    };
    let Some(patient) = patient.filter(|_| treating) else {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoCareRelationship,
            "You can assign a follow-up plan only to a patient in your care (an accepted consultation, a referral or a follow-up).",
        );
        e.field = Some("patient_id");
        return Err(e);
    };
    let (org_id, department_id) = match input.consultation_id.as_deref() {
        Some(cid) => {
            let c = ihos_store::consultation::consultation(&mut tx, cid)
                .await?
                .filter(|c| c.doctor_id == caller.account_id && c.patient_id == patient.id)
                .ok_or_else(|| {
                    ApiError::from(
                        DomainError::new(
                            ErrorCode::InvalidConsultation,
                            "That is not one of your consultations with this patient.",
                        )
                        .on("consultation_id"),
                    )
                })?;
            (c.org_id, c.department_id)
        }
        None => {
            let a = identity::affiliations_of(&mut tx, &caller.account_id)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::forbidden("You have no hospital to assign plans for."))?;
            (a.org_id, a.department_id)
        }
    };
    let ends_at = now + tpl.duration_days * rules::DAY_MS;
    let plan_id = store::insert_plan(
        &mut tx,
        &NewPlan {
            patient_id: patient.id.clone(),
            doctor_id: caller.account_id.clone(),
            org_id: org_id.clone(),
            department_id,
            template_code: tpl.code.clone(),
            occasion: occasion.into(),
            consultation_id: input.consultation_id.clone(),
            template_json: serde_json::to_string(&tpl).map_err(ApiError::internal)?,
            starts_at: now,
            ends_at,
        },
        now,
    )
    .await?;
    for (seq, i, due) in tpl.schedule(now) {
        let spec = &tpl.tasks[i];
        store::insert_task(&mut tx, &plan_id, seq, spec.kind.as_str(), &spec.title, due).await?;
    }
    // The plan is a care relationship for its whole length (and a week after).
    identity::insert_care_relationship(
        &mut tx,
        &patient.id,
        &caller.account_id,
        &org_id,
        "followup",
        now,
        ends_at + 7 * rules::DAY_MS,
    )
    .await?;
    let recipient = patient
        .account_id
        .as_deref()
        .or(patient.guardian_account_id.as_deref());
    ihos_store::outbox::put(
        &mut tx,
        "followup.assigned",
        recipient,
        &json!({"plan_id": plan_id, "template": tpl.code}),
        now,
    )
    .await?;
    audit_entry(
        &mut tx,
        caller,
        "followup.assign",
        &patient.id,
        "treating_practitioner",
        Some(&org_id),
    )
    .await?;
    let plan = store::plan(&mut tx, &plan_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let tasks = store::tasks(&mut tx, &plan_id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(plan_view(&plan, tasks))
}

/// One plan with its tasks, for the patient side or the treating doctor. Audited.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<PlanView> {
    let mut tx = state.store.begin().await?;
    let plan = store::plan(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let g = ground(&mut tx, &plan, caller).await?;
    let tasks = store::tasks(&mut tx, id).await?;
    audit_entry(
        &mut tx,
        caller,
        "followup.read",
        &plan.patient_id,
        g,
        Some(&plan.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(plan_view(&plan, tasks))
}

async fn list(
    state: &AppState,
    caller: &Caller,
    filter: PlanFilter<'_>,
) -> ApiResult<Vec<PlanView>> {
    let mut tx = state.store.begin().await?;
    let mut out = Vec::new();
    for plan in store::plans(&mut tx, filter).await? {
        let Ok(g) = ground(&mut tx, &plan, caller).await else {
            continue;
        };
        if matches!(filter, PlanFilter::Doctor(_)) {
            audit_entry(
                &mut tx,
                caller,
                "followup.list",
                &plan.patient_id,
                g,
                Some(&plan.org_id),
            )
            .await?;
        }
        let tasks = store::tasks(&mut tx, &plan.id).await?;
        out.push(plan_view(&plan, tasks));
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(out)
}

/// The caller's plans as patient or guardian.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<PlanView>> {
    list(state, caller, PlanFilter::Account(&caller.account_id)).await
}

/// The plans the calling doctor assigned (patients still in their care).
pub async fn doctor_plans(state: &AppState, caller: &Caller) -> ApiResult<Vec<PlanView>> {
    caller.require(Role::Doctor)?;
    list(state, caller, PlanFilter::Doctor(&caller.account_id)).await
}

/// The patient (or guardian) completes a task. A reading outside the range
/// alerts the doctor exactly once, whatever the retries or races.
#[tracing::instrument(skip_all, fields(id = %task_id))]
pub async fn complete_task(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    input: ResultInput,
) -> ApiResult<TaskOutcome> {
    // Read and check first on a plain connection, so the transaction below
    // starts with its write (SQLite takes the write lock at once).
    let (task, plan, checked) = {
        let mut c = state.store.conn().await?;
        let task = store::task(&mut c, task_id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        let plan = store::plan(&mut c, &task.plan_id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if side_of(&plan, caller) != Some(Side::Patient) {
            return Err(ApiError::not_found());
        }
        let tpl = parsed_template(&plan).ok_or_else(|| ApiError::internal("plan template"))?;
        let spec = spec_of(&tpl, &task)
            .ok_or_else(|| ApiError::internal("task without a template entry"))?
            .clone();
        let now = now_ms();
        if task.status == "due" && task.due_at - rules::DAY_MS > now {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::TaskNotYetDue,
                "This task is not due yet; it opens a day before its date.",
            ));
        }
        let _ = TaskKind::parse(&task.kind)?;
        let checked = rules::check_result(&spec, &input)?;
        (task, plan, checked)
    };
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let done = store::complete_task(
        &mut tx,
        task_id,
        &checked.stored.to_string(),
        checked.in_range,
        &caller.account_id,
        now,
    )
    .await?;
    let mut alerted = false;
    if done && checked.in_range == Some(false) {
        let detail = format!("{}: {}", task.title, checked.outside.join("; "));
        if store::insert_alert(&mut tx, &plan, task_id, "abnormal_reading", &detail, now).await? {
            ihos_store::outbox::put(
                &mut tx,
                "followup.alert",
                Some(&plan.doctor_id),
                &json!({"plan_id": plan.id, "task_id": task_id, "kind": "abnormal_reading"}),
                now,
            )
            .await?;
        }
    }
    if done {
        let g = if plan.patient_account_id.as_deref() == Some(caller.account_id.as_str()) {
            "self"
        } else {
            "guardian"
        };
        audit_entry(
            &mut tx,
            caller,
            "followup.task.complete",
            &plan.patient_id,
            g,
            Some(&plan.org_id),
        )
        .await?;
    }
    let row = store::task(&mut tx, task_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if row.in_range == Some(0) {
        alerted = store::alerts_for_task(&mut tx, task_id).await? > 0;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(TaskOutcome {
        task: task_view(row, parsed_template(&plan).as_ref()),
        alerted,
        already_done: !done,
    })
}

/// The calling doctor's alerts, open ones first.
pub async fn alerts(state: &AppState, caller: &Caller) -> ApiResult<Vec<AlertView>> {
    caller.require(Role::Doctor)?;
    let mut c = state.store.conn().await?;
    Ok(store::alerts_for_doctor(&mut c, &caller.account_id)
        .await?
        .into_iter()
        .map(|a| AlertView {
            id: a.id,
            plan_id: a.plan_id,
            task_id: a.task_id,
            patient_id: a.patient_id,
            patient_name: a.patient_name,
            kind: a.kind,
            detail: a.detail,
            created_at: a.created_at,
            acknowledged: a.acknowledged_at.is_some(),
        })
        .collect())
}

pub async fn acknowledge(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    caller.require(Role::Doctor)?;
    let mut c = state.store.conn().await?;
    if !store::acknowledge(&mut c, id, &caller.account_id, now_ms()).await? {
        return Err(ApiError::not_found());
    }
    Ok(())
}

fn figure(
    doctor: Option<(&str, &str)>,
    dept: (Option<&str>, Option<&str>),
    n: [i64; 5],
) -> FigureView {
    let [plans, done, missed, readings, in_range] = n;
    FigureView {
        doctor_id: doctor.map(|d| d.0.to_string()),
        doctor_name: doctor.map(|d| d.1.to_string()),
        department_id: dept.0.map(str::to_string),
        department_name: dept.1.map(str::to_string),
        plans,
        tasks_done: done,
        tasks_missed: missed,
        adherence_percent: rules::percent(done, done + missed),
        readings,
        readings_in_range: in_range,
        control_rate_percent: rules::percent(in_range, readings),
    }
}

/// Adherence and control-rate figures: a doctor sees their own, an org
/// admin every doctor and department of the hospital.
pub async fn figures(
    state: &AppState,
    caller: &Caller,
    org_id: Option<&str>,
) -> ApiResult<FiguresView> {
    let mut c = state.store.conn().await?;
    let (org_id, only) = match org_id {
        Some(o) if caller.may_admin_org(o) => (o.to_string(), None),
        _ if caller.has(Role::Doctor) => {
            let own = identity::affiliations_of(&mut c, &caller.account_id).await?;
            let org = match org_id {
                Some(o) => own.into_iter().find(|a| a.org_id == o),
                None => own.into_iter().next(),
            }
            .ok_or_else(ApiError::not_found)?;
            (org.org_id, Some(caller.account_id.as_str()))
        }
        _ => return Err(ApiError::not_found()),
    };
    let rows = store::figures(&mut c, &org_id, only).await?;
    let by_doctor: Vec<FigureView> = rows
        .iter()
        .map(|r| {
            figure(
                Some((&r.doctor_id, &r.doctor_name)),
                (r.department_id.as_deref(), r.department_name.as_deref()),
                [r.plans, r.done, r.missed, r.readings, r.readings_in_range],
            )
        })
        .collect();
    let mut by_department: Vec<FigureView> = Vec::new();
    for r in &rows {
        match by_department
            .iter_mut()
            .find(|d| d.department_id == r.department_id)
        {
            Some(d) => {
                *d = figure(
                    None,
                    (d.department_id.as_deref(), d.department_name.as_deref()),
                    [
                        d.plans + r.plans,
                        d.tasks_done + r.done,
                        d.tasks_missed + r.missed,
                        d.readings + r.readings,
                        d.readings_in_range + r.readings_in_range,
                    ],
                );
            }
            None => by_department.push(figure(
                None,
                (r.department_id.as_deref(), r.department_name.as_deref()),
                [r.plans, r.done, r.missed, r.readings, r.readings_in_range],
            )),
        }
    }
    Ok(FiguresView {
        org_id,
        by_doctor,
        by_department,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_templates_in_the_repository_are_valid() {
        let all = super::templates().unwrap();
        let codes: Vec<&str> = all.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(codes, vec!["hypertension", "diabetes", "post_surgery"]);
        assert!(all.iter().all(|t| !t.schedule(0).is_empty()));
    }
}
