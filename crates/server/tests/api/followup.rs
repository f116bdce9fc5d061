//! Follow-up plans: only a doctor with a care relationship assigns one; an
//! abnormal reading creates exactly one alert (also under retries and
//! concurrency); missed tasks escalate through the job, once; adherence and
//! control rate per doctor and department.

use ihos_store::now_ms;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const PDF: &[u8] = b"%PDF-1.4\n% discharge record\n";

struct Ward {
    org_admin: Session,
    org_id: String,
    doctor_id: String,
    doctor: Session,
}

async fn ward(app: &TestApp) -> Ward {
    let admin = app.platform_admin().await;
    let org_id = app.hospital(&admin, "杭州慢病管理医院").await;
    let org_admin = app.org_admin(&admin, &org_id).await;
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/departments"),
            Some(&org_admin),
            &json!({"name": "心内科", "specialty": "cardiology"}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let department_id = s(&resp.json::<Value>().await.unwrap()["id"]);
    let phone = phone();
    let licence = format!("51077{:06}{:04}", std::process::id() % 1_000_000, 1);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/practitioners"),
            Some(&org_admin),
            &json!({"name": "林医生", "phone": phone, "password": PASSWORD, "title": "chief_physician",
                    "licence_no": licence, "practising_since": "2008-07-01", "department_id": department_id}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let doctor_id = s(&resp.json::<Value>().await.unwrap()["id"]);
    Ward {
        org_admin,
        org_id,
        doctor_id,
        doctor: app.login_ok(&phone).await,
    }
}

/// A follow-up consultation the doctor accepted: the care relationship a plan needs.
async fn consultation(app: &TestApp, w: &Ward, patient: &Session) -> String {
    let resp = app
        .client
        .post(app.url("/api/v1/consultation-evidence"))
        .bearer_auth(&patient.token)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let record = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(patient),
            &json!({"doctor_id": w.doctor_id, "complaint": "高血压复诊，最近头晕",
                    "evidence": {"kind": "discharge_record", "reference": record, "note": "原发性高血压2级"}}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app
        .post(
            &format!("/api/v1/consultations/{id}/accept"),
            Some(&w.doctor),
            &json!({"qualifies": true}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    id
}

async fn assign(app: &TestApp, w: &Ward, patient_id: &str, cid: Option<&str>) -> reqwest::Response {
    app.post(
        "/api/v1/followup/plans",
        Some(&w.doctor),
        &json!({"patient_id": patient_id, "template": "hypertension", "occasion": "visit", "consultation_id": cid}),
    )
    .await
}

fn first_of(plan: &Value, kind: &str) -> String {
    s(&plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap()["id"])
}

#[tokio::test]
async fn only_a_doctor_with_a_care_relationship_assigns_a_plan() {
    let app = spawn_app().await;
    let w = ward(&app).await;
    let patient = app.sign_up_patient("宋建国").await;
    let templates: Value = app
        .get("/api/v1/followup/templates", None)
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = templates
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["hypertension", "diabetes", "post_surgery"]);

    assert_error(
        assign(&app, &w, &patient.patient_id, None).await,
        StatusCode::NOT_FOUND,
        "no_care_relationship",
    )
    .await;
    // Patients do not assign plans to themselves.
    assert_error(
        app.post(
            "/api/v1/followup/plans",
            Some(&patient.session),
            &json!({"patient_id": patient.patient_id, "template": "hypertension", "occasion": "visit"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let cid = consultation(&app, &w, &patient.session).await;
    assert_error(
        app.post(
            "/api/v1/followup/plans",
            Some(&w.doctor),
            &json!({"patient_id": patient.patient_id, "template": "astrology", "occasion": "visit"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_template",
    )
    .await;
    let resp = assign(&app, &w, &patient.patient_id, Some(&cid)).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let plan: Value = resp.json().await.unwrap();
    assert_eq!(plan["template"], "hypertension");
    let tasks = plan["tasks"].as_array().unwrap();
    assert_eq!(
        tasks.len(),
        30,
        "13 readings, 12 adherence checks, 3 questionnaires, 2 revisits"
    );
    assert_eq!(tasks[0]["kind"], "bp_reading");
    assert!(tasks.iter().all(|t| t["status"] == "due"));
    // The patient sees it; another patient does not.
    let mine: Value = app
        .get("/api/v1/followup/plans", Some(&patient.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let other = app.sign_up_patient("旁人").await;
    assert_error(
        app.get(
            &format!("/api/v1/followup/plans/{}", s(&plan["id"])),
            Some(&other.session),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_abnormal_reading_creates_exactly_one_alert_under_retries_and_races() {
    let app = spawn_app().await;
    let w = ward(&app).await;
    let patient = app.sign_up_patient("宋建国").await;
    let cid = consultation(&app, &w, &patient.session).await;
    let plan: Value = assign(&app, &w, &patient.patient_id, Some(&cid))
        .await
        .json()
        .await
        .unwrap();
    let task = first_of(&plan, "bp_reading");
    let path = format!("/api/v1/followup/tasks/{task}/complete");

    // Invalid readings are refused and change nothing.
    assert_error(
        app.post(
            &path,
            Some(&patient.session),
            &json!({"systolic": 80, "diastolic": 120}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_result",
    )
    .await;
    // Only the patient (or guardian) completes the task.
    assert_error(
        app.post(
            &path,
            Some(&w.doctor),
            &json!({"systolic": 168, "diastolic": 98}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Eight submissions of the same high reading at once (a flaky network retrying).
    let high = json!({"systolic": 168, "diastolic": 98});
    let sends = (0..8).map(|_| app.post(&path, Some(&patient.session), &high));
    let answers = futures_util::future::join_all(sends).await;
    let mut first = 0;
    for r in answers {
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["alerted"], true);
        assert_eq!(v["task"]["in_range"], false);
        if v["already_done"] == false {
            first += 1;
        }
    }
    assert_eq!(
        first, 1,
        "one submission recorded the reading; the others were safe retries"
    );
    // And once more, later.
    let again: Value = app
        .post(
            &path,
            Some(&patient.session),
            &json!({"systolic": 168, "diastolic": 98}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["already_done"], true);

    let alerts: Value = app
        .get("/api/v1/followup/alerts", Some(&w.doctor))
        .await
        .json()
        .await
        .unwrap();
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "abnormal_reading");
    assert_eq!(alerts[0]["patient_name"], "宋建国");
    assert!(
        alerts[0]["detail"]
            .as_str()
            .unwrap()
            .contains("systolic 168")
    );
    let mut c = app.state.store.conn().await.unwrap();
    assert_eq!(
        ihos_store::followup::alerts_for_task(&mut c, &task)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ihos_store::outbox::count_matching(&mut c, "followup.alert", &task)
            .await
            .unwrap(),
        1,
        "one notification to the doctor"
    );
    // The doctor acknowledges it, once.
    let ack = format!(
        "/api/v1/followup/alerts/{}/acknowledge",
        s(&alerts[0]["id"])
    );
    assert_eq!(
        app.post(&ack, Some(&w.doctor), &json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&ack, Some(&w.doctor), &json!({})).await.status(),
        StatusCode::NOT_FOUND
    );

    // A reading in range alerts nobody (the next reading is not due yet).
    let later = first_of(&plan, "medication_adherence");
    assert_error(
        app.post(
            &format!("/api/v1/followup/tasks/{later}/complete"),
            Some(&patient.session),
            &json!({"taken_as_prescribed": true}),
        )
        .await,
        StatusCode::CONFLICT,
        "task_not_yet_due",
    )
    .await;
}

#[tokio::test]
async fn missed_tasks_escalate_once_and_the_figures_add_up() {
    let app = spawn_app().await;
    let w = ward(&app).await;
    let patient = app.sign_up_patient("宋建国").await;
    let cid = consultation(&app, &w, &patient.session).await;
    let plan: Value = assign(&app, &w, &patient.patient_id, Some(&cid))
        .await
        .json()
        .await
        .unwrap();
    let task = first_of(&plan, "bp_reading");
    let r = app
        .post(
            &format!("/api/v1/followup/tasks/{task}/complete"),
            Some(&patient.session),
            &json!({"systolic": 126, "diastolic": 78}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["alerted"], false);
    assert_eq!(v["task"]["in_range"], true);

    // Nothing is missed yet.
    let now = now_ms();
    let r = ihos_server::followup::jobs::run_at(&app.state, now)
        .await
        .unwrap();
    assert_eq!(r.missed, 0);
    // Ten days on (grace 48 h): the tasks due on days 7 and 8 are missed and escalated.
    let day = 86_400_000;
    let r = ihos_server::followup::jobs::run_at(&app.state, now + 10 * day + 1)
        .await
        .unwrap();
    assert_eq!((r.missed, r.escalated), (2, 2));
    // Running again (or on another node) escalates nothing twice.
    let r = ihos_server::followup::jobs::run_at(&app.state, now + 10 * day + 2)
        .await
        .unwrap();
    assert_eq!(r.missed, 0);
    let alerts: Value = app
        .get("/api/v1/followup/alerts", Some(&w.doctor))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 2);
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] == "missed_task")
    );
    let inbox: Value = app
        .get("/api/v1/me/notifications", Some(&patient.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["topic"] == "followup.reminder")
            .count(),
        2
    );

    // A missed reading done late still counts, and is judged against the range.
    let plan_now: Value = app
        .get(
            &format!("/api/v1/followup/plans/{}", s(&plan["id"])),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    let missed_bp = plan_now["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "bp_reading" && t["status"] == "missed")
        .map(|t| s(&t["id"]))
        .unwrap();
    let v: Value = app
        .post(
            &format!("/api/v1/followup/tasks/{missed_bp}/complete"),
            Some(&patient.session),
            &json!({"systolic": 150, "diastolic": 92}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["alerted"], true);

    // Figures: 2 done, 1 missed; 2 readings, 1 in range.
    let mine: Value = app
        .get("/api/v1/followup/figures", Some(&w.doctor))
        .await
        .json()
        .await
        .unwrap();
    let d = &mine["by_doctor"][0];
    assert_eq!(
        (d["tasks_done"].as_i64(), d["tasks_missed"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["adherence_percent"], 66.7);
    assert_eq!(d["control_rate_percent"], 50.0);
    let org: Value = app
        .get(
            &format!("/api/v1/followup/figures?org_id={}", w.org_id),
            Some(&w.org_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(org["by_department"][0]["department_name"], "心内科");
    assert_eq!(org["by_department"][0]["plans"], 1);
    // Another patient sees no figures.
    assert_error(
        app.get("/api/v1/followup/figures", Some(&patient.session))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
