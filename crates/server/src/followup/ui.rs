//! Web pages for follow-up plans: the patient's plans and open tasks
//! (`/followup`) and the doctor's desk (`/followup/doctor`): assign a plan,
//! alerts, plans and adherence / control-rate figures.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ihos_domain::Role;
use ihos_domain::followup::DAY_MS;
use ihos_store::now_ms;

use super::service::{self, AlertView, FigureView, PlanView, TaskView, TemplateView};
use crate::error::ApiResult;
use crate::i18n::Tr;
use crate::state::AppState;
use crate::web::{Frame, SignedIn, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/followup", get(patient_page))
        .route("/followup/doctor", get(doctor_page))
}

pub struct TaskLine {
    pub t: TaskView,
    pub due: String,
    pub kind: &'static str,
    pub open: bool,
    pub result: String,
    /// "", "ok" or "warn"
    pub flag: &'static str,
}

fn result_text(lang: &Tr, t: &TaskView) -> String {
    let Some(r) = &t.result else {
        return String::new();
    };
    let v = |k: &str| r.get(k).map(|x| x.to_string()).unwrap_or_default();
    match t.kind.as_str() {
        "bp_reading" => format!("{}/{} mmHg", v("systolic"), v("diastolic")),
        "glucose_reading" => format!("{} mmol/L", v("glucose")),
        "medication_adherence" => {
            if r.get("taken_as_prescribed").and_then(|x| x.as_bool()) == Some(true) {
                lang.t("fu_taken").into()
            } else {
                format!("{} {}", lang.t("fu_missed_doses"), v("missed_doses"))
            }
        }
        "revisit_reminder" => {
            if r.get("confirmed").and_then(|x| x.as_bool()) == Some(true) {
                lang.t("fu_yes").into()
            } else {
                lang.t("fu_no").into()
            }
        }
        _ => r
            .get("answers")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("；")
            })
            .unwrap_or_default(),
    }
}

fn task_line(lang: &Tr, t: TaskView, now: i64) -> TaskLine {
    TaskLine {
        due: shanghai_time(t.due_at),
        kind: lang.t(&format!("fu_kind_{}", t.kind)),
        open: t.status == "missed" || (t.status == "due" && t.due_at - DAY_MS <= now),
        result: result_text(lang, &t),
        flag: match t.in_range {
            Some(true) => "ok",
            Some(false) => "warn",
            None => "",
        },
        t,
    }
}

pub struct PlanBlock {
    pub p: PlanView,
    pub open: Vec<TaskLine>,
    pub upcoming: Vec<TaskLine>,
    pub done: Vec<TaskLine>,
    pub period: String,
}

#[derive(Template)]
#[template(path = "followup.html")]
struct PatientPage {
    f: Frame,
    plans: Vec<PlanBlock>,
}

async fn patient_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    if !caller.has(Role::Patient) {
        return Ok(Redirect::to("/followup/doctor").into_response());
    }
    let now = now_ms();
    let l = &lang.tr;
    let plans = service::mine(&state, &caller)
        .await?
        .into_iter()
        .map(|mut p| {
            let tasks: Vec<TaskLine> = p.tasks.drain(..).map(|t| task_line(l, t, now)).collect();
            let (open, rest): (Vec<_>, Vec<_>) = tasks.into_iter().partition(|t| t.open);
            let (done, due): (Vec<_>, Vec<_>) =
                rest.into_iter().partition(|t| t.t.status == "done");
            PlanBlock {
                period: format!(
                    "{} – {}",
                    shanghai_time(p.starts_at)
                        .split(' ')
                        .next()
                        .unwrap_or_default(),
                    shanghai_time(p.ends_at)
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                ),
                p,
                open,
                upcoming: due.into_iter().take(3).collect(),
                done,
            }
        })
        .collect();
    render(
        &PatientPage {
            f: Frame::new(l, Some(&caller)),
            plans,
        },
        &lang,
    )
}

pub struct PlanLine {
    pub p: PlanView,
    pub done: usize,
    pub missed: usize,
    pub total: usize,
}

pub struct AlertLine {
    pub a: AlertView,
    pub at: String,
    pub kind: &'static str,
}

pub struct FigureLine {
    pub who: String,
    pub f: FigureView,
    pub adherence: String,
    pub control: String,
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |p| format!("{p:.1}%"))
}

#[derive(Template)]
#[template(path = "followup_doctor.html")]
struct DoctorPage {
    f: Frame,
    patients: Vec<(String, String)>,
    templates: Vec<TemplateView>,
    alerts: Vec<AlertLine>,
    plans: Vec<PlanLine>,
    figures: Vec<FigureLine>,
}

async fn doctor_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    if !caller.has(Role::Doctor) {
        return Ok(Redirect::to("/followup").into_response());
    }
    let l = &lang.tr;
    let patients = {
        let mut c = state.store.conn().await?;
        ihos_store::followup::patients_in_care(&mut c, &caller.account_id, now_ms()).await?
    };
    let alerts = service::alerts(&state, &caller)
        .await?
        .into_iter()
        .map(|a| AlertLine {
            at: shanghai_time(a.created_at),
            kind: l.t(&format!("fu_alert_{}", a.kind)),
            a,
        })
        .collect();
    let plans = service::doctor_plans(&state, &caller)
        .await?
        .into_iter()
        .map(|p| PlanLine {
            done: p.tasks.iter().filter(|t| t.status == "done").count(),
            missed: p.tasks.iter().filter(|t| t.status == "missed").count(),
            total: p.tasks.len(),
            p,
        })
        .collect();
    let figures = match service::figures(&state, &caller, None).await {
        Ok(fig) => fig
            .by_doctor
            .into_iter()
            .map(|f| FigureLine {
                who: format!(
                    "{} · {}",
                    f.doctor_name.clone().unwrap_or_default(),
                    f.department_name.clone().unwrap_or_default()
                ),
                adherence: pct(f.adherence_percent),
                control: pct(f.control_rate_percent),
                f,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    render(
        &DoctorPage {
            f: Frame::new(l, Some(&caller)),
            patients,
            templates: service::list_templates()?,
            alerts,
            plans,
            figures,
        },
        &lang,
    )
}

pub const TEXT: &[(&str, &str, &str)] = &[
    ("fu_title", "随访管理", "Follow-up"),
    ("fu_my_plans", "我的随访计划", "My follow-up plans"),
    ("fu_none", "暂无随访计划", "No follow-up plans"),
    ("fu_doctor", "随访医生", "Doctor"),
    ("fu_period", "周期", "Period"),
    ("fu_open", "待完成任务", "Tasks to do"),
    ("fu_upcoming", "即将到来", "Coming up"),
    ("fu_done", "已完成", "Done"),
    ("fu_due", "截止", "Due"),
    ("fu_submit", "提交", "Submit"),
    ("fu_missed", "已逾期", "Missed"),
    ("fu_in_range", "正常", "In range"),
    (
        "fu_out_of_range",
        "超出范围，已提醒医生",
        "Out of range; your doctor was alerted",
    ),
    ("fu_systolic", "收缩压（mmHg）", "Systolic (mmHg)"),
    ("fu_diastolic", "舒张压（mmHg）", "Diastolic (mmHg)"),
    ("fu_glucose", "血糖（mmol/L）", "Glucose (mmol/L)"),
    ("fu_normal_range", "正常范围", "Normal range"),
    ("fu_taken_q", "是否按医嘱服药", "Taken as prescribed?"),
    ("fu_taken", "按医嘱服药", "Taken as prescribed"),
    ("fu_missed_doses", "漏服次数", "Missed doses"),
    (
        "fu_confirmed_q",
        "是否已预约/完成复诊",
        "Revisit booked or done?",
    ),
    ("fu_yes", "是", "Yes"),
    ("fu_no", "否", "No"),
    ("fu_kind_questionnaire", "问卷", "Questionnaire"),
    ("fu_kind_bp_reading", "血压", "Blood pressure"),
    ("fu_kind_glucose_reading", "血糖", "Blood glucose"),
    (
        "fu_kind_medication_adherence",
        "用药依从性",
        "Medication adherence",
    ),
    ("fu_kind_revisit_reminder", "复诊提醒", "Revisit reminder"),
    ("fu_desk", "随访工作台", "Follow-up desk"),
    ("fu_assign", "制定随访计划", "Assign a plan"),
    ("fu_patient", "患者", "Patient"),
    ("fu_template", "随访模板", "Template"),
    ("fu_occasion", "时机", "Occasion"),
    ("fu_occasion_discharge", "出院随访", "At discharge"),
    ("fu_occasion_visit", "诊后随访", "After a visit"),
    ("fu_assign_send", "下达计划", "Assign"),
    (
        "fu_no_patients",
        "暂无在管患者（需有问诊、转诊或随访关系）",
        "No patients in your care",
    ),
    ("fu_alerts", "预警", "Alerts"),
    ("fu_no_alerts", "暂无预警", "No alerts"),
    ("fu_ack", "已处理", "Acknowledge"),
    ("fu_acked", "已处理", "Acknowledged"),
    ("fu_alert_abnormal_reading", "指标异常", "Abnormal reading"),
    ("fu_alert_missed_task", "任务逾期", "Missed task"),
    ("fu_plans", "我下达的随访计划", "Plans I assigned"),
    ("fu_progress", "完成/逾期/总数", "Done / missed / total"),
    ("fu_figures", "随访质量", "Follow-up quality"),
    ("fu_adherence", "依从率", "Adherence"),
    ("fu_control", "控制率", "Control rate"),
    ("fu_readings", "测量次数", "Readings"),
];
