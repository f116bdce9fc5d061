//! Regional consortium: the two-way referral loop (state machine, timeline,
//! audit, notifications to exactly the right parties), exam ordering through
//! referral with privileges and exam slots, the duplicate-exam reminder,
//! bed reservation under concurrency, remote consultation, overdue referrals
//! and the dashboard.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A 三甲 hospital leading a consortium with one community centre, plus a
/// community centre outside it; doctors on both sides and a patient.
struct World {
    admin: Session,
    hospital: String,
    hospital_admin: Session,
    chc: String,
    cardiology: String,
    community_doctor: Person,
    cardiologist: Person,
    radiologist: Person,
    internist: Person,
    outsider_doctor: Person,
    patient: SignedUpPatient,
    other_patient: SignedUpPatient,
    consortium: String,
    consortium_admin: Session,
}

struct Person {
    id: String,
    session: Session,
}

static LICENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

async fn org(app: &TestApp, admin: &Session, name: &str, kind: &str) -> String {
    let mut body = json!({"name": name, "kind": kind, "province": "浙江省", "city": "杭州市"});
    if kind == "hospital" {
        body["level"] = json!("三级甲等");
    }
    let resp = app.post("/api/v1/organisations", Some(admin), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    s(&resp.json::<Value>().await.unwrap()["id"])
}

async fn department(
    app: &TestApp,
    org_admin: &Session,
    org_id: &str,
    name: &str,
    specialty: &str,
) -> String {
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/departments"),
            Some(org_admin),
            &json!({"name": name, "specialty": specialty}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    s(&resp.json::<Value>().await.unwrap()["id"])
}

async fn person(
    app: &TestApp,
    org_admin: &Session,
    org_id: &str,
    name: &str,
    dept: Option<&str>,
) -> Person {
    let phone = phone();
    let n = LICENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let licence = format!("31055{:06}{:04}", std::process::id() % 1_000_000, n);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/practitioners"),
            Some(org_admin),
            &json!({"name": name, "phone": phone, "password": PASSWORD, "title": "主治医师",
                    "licence_no": licence, "practising_since": "2012-07-01", "department_id": dept}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    Person {
        id,
        session: app.login_ok(&phone).await,
    }
}

async fn world(app: &TestApp) -> World {
    let admin = app.platform_admin().await;
    let hospital = org(app, &admin, "城东人民医院", "hospital").await;
    let chc = org(
        app,
        &admin,
        "湖滨社区卫生服务中心",
        "community_health_centre",
    )
    .await;
    let far = org(
        app,
        &admin,
        "远郊社区卫生服务中心",
        "community_health_centre",
    )
    .await;
    let resp = app
        .post(
            "/api/v1/consortia",
            Some(&admin),
            &json!({"name": "城东医联体", "lead_org_id": hospital}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let consortium = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app
        .post(
            &format!("/api/v1/consortia/{consortium}/members"),
            Some(&admin),
            &json!({"org_id": chc}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let hospital_admin = app.org_admin(&admin, &hospital).await;
    let chc_admin = app.org_admin(&admin, &chc).await;
    let far_admin = app.org_admin(&admin, &far).await;
    let cardiology = department(app, &hospital_admin, &hospital, "心血管内科", "cardiology").await;
    let radiology = department(app, &hospital_admin, &hospital, "放射科", "radiology").await;
    let gp = department(app, &chc_admin, &chc, "全科", "geriatrics").await;
    let community_doctor = person(app, &chc_admin, &chc, "张卫民", Some(&gp)).await;
    let cardiologist = person(app, &hospital_admin, &hospital, "王建国", Some(&cardiology)).await;
    let radiologist = person(app, &hospital_admin, &hospital, "黄丽华", Some(&radiology)).await;
    let internist = person(app, &hospital_admin, &hospital, "陈晓东", Some(&cardiology)).await;
    let outsider_doctor = person(app, &far_admin, &far, "吴静", None).await;
    let phone = phone();
    let resp = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            &json!({"name": "孙悦", "phone": phone, "password": PASSWORD, "role": "consortium_admin", "scope_id": consortium}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let consortium_admin = app.login_ok(&phone).await;
    World {
        patient: app.sign_up_patient("林秀英").await,
        other_patient: app.sign_up_patient("孙婷").await,
        admin,
        hospital,
        hospital_admin,
        chc,
        cardiology,
        community_doctor,
        cardiologist,
        radiologist,
        internist,
        outsider_doctor,
        consortium,
        consortium_admin,
    }
}

async fn refer(app: &TestApp, who: &Session, body: Value) -> reqwest::Response {
    app.post("/api/v1/referrals", Some(who), &body).await
}

async fn visit_referral(app: &TestApp, w: &World) -> Value {
    let resp = refer(
        app,
        &w.community_doctor.session,
        json!({"patient_id": w.patient.patient_id, "to_org_id": w.hospital, "to_doctor_id": w.cardiologist.id,
               "reason": "血压控制不佳，需专科评估", "summary": "高血压10年，近一月收缩压160-180mmHg，已服氨氯地平。"}),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    resp.json().await.unwrap()
}

async fn step(
    app: &TestApp,
    who: &Session,
    id: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/api/v1/referrals/{id}/{action}"),
        Some(who),
        &body,
    )
    .await
}

async fn step_ok(app: &TestApp, who: &Session, id: &str, action: &str, body: Value) -> Value {
    let resp = step(app, who, id, action, body).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{action}: {}",
        resp.text().await.unwrap()
    );
    resp.json().await.unwrap()
}

/// Notifications on `topic` about referral `id`, per account: (account, part) pairs.
async fn notified(
    app: &TestApp,
    accounts: &[&str],
    topic: &str,
    id: &str,
) -> Vec<(String, String)> {
    let mut c = app.state.store.conn().await.unwrap();
    let mut out = Vec::new();
    for a in accounts {
        for n in ihos_store::scheduling::inbox(&mut c, a, 500).await.unwrap() {
            let p: Value = serde_json::from_str(&n.payload).unwrap();
            if n.topic == topic && p["referral_id"] == id {
                out.push(((*a).to_string(), s(&p["as"])));
            }
        }
    }
    out.sort();
    out
}

fn everyone(w: &World) -> Vec<&str> {
    vec![
        w.community_doctor.id.as_str(),
        w.cardiologist.id.as_str(),
        w.radiologist.id.as_str(),
        w.internist.id.as_str(),
        w.outsider_doctor.id.as_str(),
        w.patient.session.account_id.as_str(),
        w.other_patient.session.account_id.as_str(),
    ]
}

fn expect(mut v: Vec<(&str, &str)>) -> Vec<(String, String)> {
    v.sort();
    v.into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn the_loop_goes_up_and_back_down_notifying_exactly_the_parties_with_a_complete_audited_timeline()
 {
    let app = spawn_app().await;
    let w = world(&app).await;
    let r = visit_referral(&app, &w).await;
    let id = s(&r["id"]);
    assert_eq!(r["status"], "requested");
    assert_eq!(r["direction"], "up");
    let parties = expect(vec![
        (&w.community_doctor.id, "referring_doctor"),
        (&w.cardiologist.id, "receiving_doctor"),
        (&w.patient.session.account_id, "patient"),
    ]);
    assert_eq!(
        notified(&app, &everyone(&w), "referral.created", &id).await,
        parties
    );

    // The receiving doctor sees it in their list and accepts it, booking a visit slot.
    let list: Value = app
        .get("/api/v1/referrals", Some(&w.cardiologist.session))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == id.as_str() && x["my_actions"] == json!(["accept", "decline"]))
    );
    let r = step_ok(&app, &w.cardiologist.session, &id, "accept", json!({})).await;
    assert_eq!(r["status"], "accepted");
    assert_eq!(
        notified(&app, &everyone(&w), "referral.accept", &id).await,
        parties
    );
    step_ok(
        &app,
        &w.cardiologist.session,
        &id,
        "seen",
        json!({"note": "门诊已就诊"}),
    )
    .await;
    assert_eq!(
        notified(&app, &everyone(&w), "referral.mark_seen", &id).await,
        parties
    );
    let r = step_ok(
        &app,
        &w.cardiologist.session,
        &id,
        "results",
        json!({"results": "动态血压均值158/96，调整为氨氯地平+缬沙坦。"}),
    )
    .await;
    assert_eq!(r["results"], "动态血压均值158/96，调整为氨氯地平+缬沙坦。");
    assert_eq!(
        notified(&app, &everyone(&w), "referral.return_results", &id).await,
        parties
    );
    let r = step_ok(
        &app,
        &w.cardiologist.session,
        &id,
        "refer-down",
        json!({"follow_up_plan": "社区每周测血压，4周后复诊。"}),
    )
    .await;
    assert_eq!(r["status"], "referred_down");
    assert_eq!(
        notified(&app, &everyone(&w), "referral.refer_down", &id).await,
        parties
    );
    let r = step_ok(&app, &w.community_doctor.session, &id, "close", json!({})).await;
    assert_eq!(r["status"], "closed");
    assert!(r["closed_at"].as_i64().is_some());
    assert_eq!(
        notified(&app, &everyone(&w), "referral.close", &id).await,
        parties
    );

    // The timeline is complete, in order, with who did each step.
    let actions: Vec<&str> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "accept",
            "mark_seen",
            "return_results",
            "refer_down",
            "close"
        ]
    );
    let seqs: Vec<i64> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(r["timeline"][1]["actor_name"], "王建国");
    assert_eq!(r["timeline"][5]["actor_name"], "张卫民");

    // Every step is in the audit log, by its actor.
    let mut c = app.state.store.conn().await.unwrap();
    let trail = ihos_store::audit::trail(&mut c, "referral", &id, 50)
        .await
        .unwrap();
    let mut audited: Vec<(String, String)> = trail
        .iter()
        .map(|a| (a.action.clone(), a.actor_id.clone().unwrap()))
        .collect();
    audited.reverse();
    assert_eq!(
        audited,
        [
            ("referral.create".to_string(), w.community_doctor.id.clone()),
            ("referral.accept".to_string(), w.cardiologist.id.clone()),
            ("referral.mark_seen".to_string(), w.cardiologist.id.clone()),
            (
                "referral.return_results".to_string(),
                w.cardiologist.id.clone()
            ),
            ("referral.refer_down".to_string(), w.cardiologist.id.clone()),
            ("referral.close".to_string(), w.community_doctor.id.clone()),
        ]
    );
    // The timeline cannot be rewritten, even by SQL.
    let tampered = sqlx::query("UPDATE referral_events SET note = 'x' WHERE referral_id = $1")
        .bind(&id)
        .execute(&mut *c)
        .await;
    assert!(tampered.is_err(), "the timeline is append-only");
    drop(c);

    // The patient sees their referral and its timeline; the read is audited against them.
    let mine: Value = app
        .get(&format!("/api/v1/referrals/{id}"), Some(&w.patient.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["timeline"].as_array().unwrap().len(), 6);
    assert_eq!(mine["my_actions"], json!([]));
    let mut c = app.state.store.conn().await.unwrap();
    let reads = ihos_store::audit::trail(&mut c, "patient", &w.patient.patient_id, 50)
        .await
        .unwrap();
    assert!(
        reads
            .iter()
            .any(|a| a.action == "referral.read" && a.ground == "self")
    );
    assert!(
        reads
            .iter()
            .any(|a| a.action == "referral.list" && a.ground == "treating_practitioner")
    );
    drop(c);

    // Nobody else reads it: another patient, a doctor outside the loop.
    for stranger in [
        &w.other_patient.session,
        &w.outsider_doctor.session,
        &w.radiologist.session,
    ] {
        let resp = app
            .get(&format!("/api/v1/referrals/{id}"), Some(stranger))
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }

    // The consortium dashboard counts it both ways and times the loop.
    let d: Value = app
        .get(
            &format!("/api/v1/consortia/{}/referral-dashboard", w.consortium),
            Some(&w.consortium_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["total"], 1);
    assert_eq!(d["by_direction"]["up"], 1);
    assert_eq!(d["by_direction"]["down"], 1);
    assert_eq!(d["by_status"]["closed"], 1);
    assert!(d["mean_hours_to_close"].as_f64().is_some());
    assert_eq!(d["overdue"], json!([]));
    // A doctor is not a dashboard reader.
    let resp = app
        .get(
            &format!("/api/v1/consortia/{}/referral-dashboard", w.consortium),
            Some(&w.cardiologist.session),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn illegal_transitions_are_refused_with_clear_stable_codes() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let id = s(&visit_referral(&app, &w).await["id"]);

    // Skipping ahead.
    let resp = step(
        &app,
        &w.cardiologist.session,
        &id,
        "refer-down",
        json!({"follow_up_plan": "x"}),
    )
    .await;
    let body = assert_error(resp, StatusCode::CONFLICT, "ref_illegal_transition").await;
    assert!(
        body["detail"].as_str().unwrap().contains("accept"),
        "{body}"
    );
    let resp = step(
        &app,
        &w.cardiologist.session,
        &id,
        "results",
        json!({"results": "x"}),
    )
    .await;
    assert_error(resp, StatusCode::CONFLICT, "ref_illegal_transition").await;
    // The wrong side.
    let resp = step(&app, &w.community_doctor.session, &id, "accept", json!({})).await;
    assert_error(resp, StatusCode::FORBIDDEN, "ref_not_your_turn").await;
    // Not a party at all: looks like no such referral.
    let resp = step(&app, &w.internist.session, &id, "accept", json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    // A decline needs a reason.
    let resp = step(
        &app,
        &w.cardiologist.session,
        &id,
        "decline",
        json!({"reason": "  "}),
    )
    .await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "ref_text_required").await;
    assert_eq!(body["field"], "reason");
    // Unknown steps.
    let resp = step(&app, &w.cardiologist.session, &id, "teleport", json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "no_such_endpoint").await;

    let r = step_ok(
        &app,
        &w.cardiologist.session,
        &id,
        "decline",
        json!({"reason": "本院床位紧张，建议转省人民医院"}),
    )
    .await;
    assert_eq!(r["status"], "declined");
    assert_eq!(r["decline_reason"], "本院床位紧张，建议转省人民医院");
    // Ended: nothing more may happen, whoever tries.
    let resp = step(&app, &w.cardiologist.session, &id, "accept", json!({})).await;
    assert_error(resp, StatusCode::CONFLICT, "ref_already_ended").await;
    let resp = step(
        &app,
        &w.community_doctor.session,
        &id,
        "cancel",
        json!({"reason": "x"}),
    )
    .await;
    assert_error(resp, StatusCode::CONFLICT, "ref_already_ended").await;
    // The refused attempts left no trace in the timeline.
    let r: Value = app
        .get(
            &format!("/api/v1/referrals/{id}"),
            Some(&w.community_doctor.session),
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "decline"]);

    // Creation rules: outside the consortium, wrong direction, no receiver.
    let resp = refer(
        &app,
        &w.outsider_doctor.session,
        json!({"patient_id": w.patient.patient_id, "to_org_id": w.hospital,
        "to_doctor_id": w.cardiologist.id, "reason": "胸痛", "summary": "胸痛两天"}),
    )
    .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_not_in_consortium").await;
    let resp = refer(&app, &w.community_doctor.session, json!({"patient_id": w.patient.patient_id, "to_org_id": w.hospital,
        "direction": "down", "to_doctor_id": w.cardiologist.id, "reason": "胸痛", "summary": "胸痛两天", "follow_up_plan": "x"})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_wrong_direction").await;
    let resp = refer(
        &app,
        &w.community_doctor.session,
        json!({"patient_id": w.patient.patient_id, "to_org_id": w.hospital,
        "reason": "胸痛", "summary": "胸痛两天"}),
    )
    .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_receiver_required").await;
    let resp = refer(
        &app,
        &w.community_doctor.session,
        json!({"resident_id": "110101199003070000", "to_org_id": w.hospital,
        "to_department_id": w.cardiology, "reason": "胸痛", "summary": "胸痛两天"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A patient cannot refer.
    let resp = refer(
        &app,
        &w.patient.session,
        json!({"patient_id": w.patient.patient_id, "to_org_id": w.hospital,
        "to_department_id": w.cardiology, "reason": "胸痛", "summary": "胸痛两天"}),
    )
    .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_department_referral_is_offered_to_its_doctors_and_belongs_to_whoever_accepts() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // By resident ID number, to the department.
    let resp = refer(
        &app,
        &w.community_doctor.session,
        json!({"resident_id": w.patient.resident_id, "to_org_id": w.hospital,
        "to_department_id": w.cardiology, "reason": "心悸", "summary": "阵发心悸一周"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    assert_eq!(
        notified(&app, &everyone(&w), "referral.created", &id).await,
        expect(vec![
            (&w.community_doctor.id, "referring_doctor"),
            (&w.cardiologist.id, "receiving_doctor"),
            (&w.internist.id, "receiving_doctor"),
            (&w.patient.session.account_id, "patient"),
        ])
    );
    step_ok(&app, &w.internist.session, &id, "accept", json!({})).await;
    // From now on only the accepting doctor is the receiver.
    let resp = step(&app, &w.cardiologist.session, &id, "seen", json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        notified(&app, &everyone(&w), "referral.accept", &id).await,
        expect(vec![
            (&w.community_doctor.id, "referring_doctor"),
            (&w.internist.id, "receiving_doctor"),
            (&w.patient.session.account_id, "patient"),
        ])
    );
    // The referring doctor may still cancel before the visit.
    let r = step_ok(
        &app,
        &w.community_doctor.session,
        &id,
        "cancel",
        json!({"reason": "患者已自行就诊"}),
    )
    .await;
    assert_eq!(r["status"], "cancelled");
}

async fn exam_slot(app: &TestApp, w: &World, capacity: i64) -> String {
    let date = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let resp = app
        .post(
            &format!("/api/v1/organisations/{}/exam-slots", w.hospital),
            Some(&w.hospital_admin),
            &json!({"exam_type": "ct", "date": date, "start": "09:00", "capacity": capacity}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    s(&resp.json::<Value>().await.unwrap()["id"])
}

async fn grant_ct(app: &TestApp, w: &World, doctor: &str) {
    let resp = app
        .post(
            &format!("/api/v1/practitioners/{doctor}/exam-privileges"),
            Some(&w.hospital_admin),
            &json!({"exam_type": "ct"}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    assert_eq!(resp.json::<Value>().await.unwrap(), json!(["ct"]));
}

#[tokio::test]
async fn a_ct_goes_through_a_qualified_doctor_books_an_exam_slot_and_a_repeat_needs_a_reason() {
    let app = spawn_app().await;
    let w = world(&app).await;
    grant_ct(&app, &w, &w.radiologist.id).await;
    // An admin of another organisation cannot grant privileges here.
    let resp = app
        .post(
            &format!("/api/v1/practitioners/{}/exam-privileges", w.internist.id),
            Some(&w.admin),
            &json!({"exam_type": "pet"}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_invalid_exam_type").await;

    let ct = |to: &str| {
        json!({"kind": "exam", "exam_type": "ct", "patient_id": w.patient.patient_id, "to_org_id": w.hospital,
        "to_doctor_id": to, "reason": "咳嗽两月，排除肺部占位", "summary": "吸烟30年，胸片示右上肺结节影。"})
    };
    // A doctor without the CT privilege cannot be asked to order it.
    let resp = refer(&app, &w.community_doctor.session, ct(&w.internist.id)).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_receiver_not_qualified").await;
    let resp = refer(&app, &w.community_doctor.session, ct(&w.radiologist.id)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    let parties = expect(vec![
        (&w.community_doctor.id, "referring_doctor"),
        (&w.radiologist.id, "ordering_doctor"),
        (&w.patient.session.account_id, "patient"),
    ]);
    assert_eq!(
        notified(&app, &everyone(&w), "referral.created", &id).await,
        parties
    );

    let slot = exam_slot(&app, &w, 1).await;
    let resp = step(&app, &w.radiologist.session, &id, "accept", json!({})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_exam_slot_required").await;
    let r = step_ok(
        &app,
        &w.radiologist.session,
        &id,
        "accept",
        json!({"exam_slot_id": slot}),
    )
    .await;
    assert_eq!(r["exam_slot_id"], slot.as_str());
    assert!(r["exam_time_local"].as_str().unwrap().ends_with("09:00"));
    assert_eq!(
        notified(&app, &everyone(&w), "referral.accept", &id).await,
        parties
    );
    let slots: Value = app
        .get(
            &format!(
                "/api/v1/organisations/{}/exam-slots?exam_type=ct",
                w.hospital
            ),
            Some(&w.radiologist.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slots, json!([]), "the only seat is taken");

    // Another patient's CT cannot take the full slot; nothing is half-written.
    let mut other = ct(&w.radiologist.id);
    other["patient_id"] = json!(w.other_patient.patient_id);
    let id2 = s(&refer(&app, &w.community_doctor.session, other)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]);
    let resp = step(
        &app,
        &w.radiologist.session,
        &id2,
        "accept",
        json!({"exam_slot_id": slot}),
    )
    .await;
    assert_error(resp, StatusCode::CONFLICT, "ref_exam_slot_full").await;
    let r2: Value = app
        .get(
            &format!("/api/v1/referrals/{id2}"),
            Some(&w.radiologist.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r2["status"], "requested");
    assert_eq!(r2["timeline"].as_array().unwrap().len(), 1);

    step_ok(&app, &w.radiologist.session, &id, "seen", json!({})).await;
    assert_eq!(
        notified(&app, &everyone(&w), "referral.mark_seen", &id).await,
        parties
    );
    step_ok(
        &app,
        &w.radiologist.session,
        &id,
        "results",
        json!({"results": "右上肺结节8mm，建议3个月复查。"}),
    )
    .await;
    assert_eq!(
        notified(&app, &everyone(&w), "referral.return_results", &id).await,
        parties
    );

    // The same CT again within the window: the earlier result is shown and a reason is needed.
    let history: Value = app
        .get(
            &format!(
                "/api/v1/referrals/exam-history?patient_id={}&exam_type=ct&to_org_id={}",
                w.patient.patient_id, w.hospital
            ),
            Some(&w.community_doctor.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history[0]["result"], "右上肺结节8mm，建议3个月复查。");
    assert_eq!(history[0]["org_name"], "城东人民医院");
    let resp = refer(&app, &w.community_doctor.session, ct(&w.radiologist.id)).await;
    let body = assert_error(resp, StatusCode::CONFLICT, "ref_duplicate_exam").await;
    assert!(
        body["detail"].as_str().unwrap().contains("右上肺结节8mm"),
        "{body}"
    );
    assert_eq!(body["field"], "repeat_reason");
    let mut again = ct(&w.radiologist.id);
    again["repeat_reason"] = json!("咯血加重，需复查");
    let resp = refer(&app, &w.community_doctor.session, again).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["repeat_reason"],
        "咯血加重，需复查"
    );
    // An ultrasound is another exam: no reminder.
    let mut us = ct(&w.radiologist.id);
    us["exam_type"] = json!("ultrasound");
    assert_eq!(
        refer(&app, &w.community_doctor.session, us).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_ordering_doctor_needs_the_privilege_even_for_a_department_request() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let resp = refer(&app, &w.community_doctor.session, json!({"kind": "exam", "exam_type": "mri", "patient_id": w.patient.patient_id,
        "to_org_id": w.hospital, "to_department_id": w.cardiology, "reason": "头晕", "summary": "反复头晕"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = step(
        &app,
        &w.internist.session,
        &id,
        "accept",
        json!({"exam_slot_id": "x"}),
    )
    .await;
    assert_error(resp, StatusCode::FORBIDDEN, "ref_needs_privilege").await;
}

#[tokio::test]
async fn concurrent_bed_reservations_never_exceed_free_beds() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let resp = app
        .post(
            &format!("/api/v1/organisations/{}/wards", w.hospital),
            Some(&w.hospital_admin),
            &json!({"name": "心内科一病区", "beds": 3, "department_id": w.cardiology}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let ward = s(&resp.json::<Value>().await.unwrap()["id"]);
    let mut requests = Vec::new();
    for _ in 0..12 {
        let resp = app
            .post("/api/v1/bed-requests", Some(&w.community_doctor.session),
                  &json!({"ward_id": ward, "patient_id": w.patient.patient_id, "reason": "心衰加重，需住院"}))
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        requests.push(s(&resp.json::<Value>().await.unwrap()["id"]));
    }
    // Everyone on the ward admits at once.
    let admits = requests.iter().enumerate().map(|(i, id)| {
        let who = if i % 2 == 0 {
            w.cardiologist.session.clone()
        } else {
            w.internist.session.clone()
        };
        let app = &app;
        async move {
            let resp = app
                .post(
                    &format!("/api/v1/bed-requests/{id}/admit"),
                    Some(&who),
                    &json!({"admit_on": "2026-12-01"}),
                )
                .await;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }
    });
    let results = futures_util::future::join_all(admits).await;
    let admitted = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(admitted, 3, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::CONFLICT);
        assert_eq!(body["error"], "ref_no_free_beds", "{body}");
    }
    let wards: Value = app
        .get(
            &format!("/api/v1/consortia/{}/wards", w.consortium),
            Some(&w.community_doctor.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wards[0]["beds_free"], 0);
    assert_eq!(wards[0]["beds_total"], 3);
    // A refused admission stayed a request; a discharge frees a bed for it.
    let list: Value = app
        .get("/api/v1/bed-requests", Some(&w.cardiologist.session))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "admitted").count(), 3);
    assert_eq!(statuses.iter().filter(|s| **s == "requested").count(), 9);
    let admitted_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["status"] == "admitted")
        .unwrap()["id"]
        .clone();
    let waiting_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["status"] == "requested")
        .unwrap()["id"]
        .clone();
    let resp = app
        .post(
            &format!("/api/v1/bed-requests/{}/admit", s(&admitted_id)),
            Some(&w.cardiologist.session),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "ref_illegal_transition").await;
    let resp = app
        .post(
            &format!("/api/v1/bed-requests/{}/discharge", s(&admitted_id)),
            Some(&w.cardiologist.session),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/v1/bed-requests/{}/admit", s(&waiting_id)),
            Some(&w.cardiologist.session),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The community doctor cannot review the hospital's ward.
    let resp = app
        .post(
            &format!("/api/v1/bed-requests/{}/decline", s(&waiting_id)),
            Some(&w.community_doctor.session),
            &json!({"reason": "x"}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    // The requesting doctor and the patient were told of each admission.
    let mut c = app.state.store.conn().await.unwrap();
    let inbox = ihos_store::scheduling::inbox(&mut c, &w.patient.session.account_id, 500)
        .await
        .unwrap();
    assert_eq!(
        inbox.iter().filter(|n| n.topic == "bed.admitted").count(),
        4
    );
    let inbox = ihos_store::scheduling::inbox(&mut c, &w.community_doctor.id, 500)
        .await
        .unwrap();
    assert_eq!(
        inbox.iter().filter(|n| n.topic == "bed.admitted").count(),
        4
    );
}

#[tokio::test]
async fn an_expert_answers_a_remote_consultation_in_writing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let resp = app
        .post("/api/v1/remote-consultations", Some(&w.community_doctor.session),
              &json!({"patient_id": w.patient.patient_id, "expert_id": w.cardiologist.id,
                      "question": "心电图ST段压低，是否需要冠脉造影？", "records": "心电图：V4-V6 ST段压低0.1mV。"}))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let rc: Value = resp.json().await.unwrap();
    let id = s(&rc["id"]);
    assert_eq!(rc["status"], "requested");
    let resp = app
        .post("/api/v1/remote-consultations", Some(&w.community_doctor.session),
              &json!({"patient_id": w.patient.patient_id, "expert_id": w.cardiologist.id, "question": "x", "study_ids": ["nope"]}))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "ref_unknown_study").await;
    // Only the expert answers.
    let resp = app
        .post(
            &format!("/api/v1/remote-consultations/{id}/answer"),
            Some(&w.internist.session),
            &json!({"opinion": "x"}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .post(
            &format!("/api/v1/remote-consultations/{id}/answer"),
            Some(&w.cardiologist.session),
            &json!({"opinion": "建议先行运动平板试验，阳性再行冠脉造影。"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/v1/remote-consultations/{id}/answer"),
            Some(&w.cardiologist.session),
            &json!({"opinion": "again"}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "ref_already_answered").await;
    let rc: Value = app
        .get(
            &format!("/api/v1/remote-consultations/{id}"),
            Some(&w.community_doctor.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rc["opinion"], "建议先行运动平板试验，阳性再行冠脉造影。");
    assert_eq!(rc["status"], "answered");
    let resp = app
        .get(
            &format!("/api/v1/remote-consultations/{id}"),
            Some(&w.outsider_doctor.session),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let mut c = app.state.store.conn().await.unwrap();
    let inbox = ihos_store::scheduling::inbox(&mut c, &w.community_doctor.id, 50)
        .await
        .unwrap();
    assert!(
        inbox
            .iter()
            .any(|n| n.topic == "remote_consultation.answered")
    );
    let reads = ihos_store::audit::trail(&mut c, "patient", &w.patient.patient_id, 50)
        .await
        .unwrap();
    assert!(
        reads
            .iter()
            .any(|a| a.action == "remote_consultation.answer")
    );
}

#[tokio::test]
async fn an_overdue_referral_is_marked_once_notified_and_highlighted_on_the_dashboard() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let id = s(&visit_referral(&app, &w).await["id"]);
    let now = ihos_store::now_ms();
    // Not yet due.
    assert_eq!(
        ihos_server::referral::overdue_job::run_once(&app.state, now + 47 * 3_600_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ihos_server::referral::overdue_job::run_once(&app.state, now + 49 * 3_600_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ihos_server::referral::overdue_job::run_once(&app.state, now + 50 * 3_600_000)
            .await
            .unwrap(),
        0,
        "once"
    );
    assert_eq!(
        notified(&app, &everyone(&w), "referral.overdue", &id).await,
        expect(vec![
            (&w.community_doctor.id, "referring_doctor"),
            (&w.cardiologist.id, "receiving_doctor"),
            (&w.patient.session.account_id, "patient"),
        ])
    );
    let r: Value = app
        .get(
            &format!("/api/v1/referrals/{id}"),
            Some(&w.cardiologist.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["overdue"], true);
    assert_eq!(r["timeline"][1]["action"], "overdue");
    let d: Value = app
        .get(
            &format!("/api/v1/consortia/{}/referral-dashboard", w.consortium),
            Some(&w.consortium_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["overdue"].as_array().unwrap().len(), 1);
    assert_eq!(d["overdue"][0]["id"], id.as_str());
    // Acting on it starts the next state's deadline and clears the mark.
    let r = step_ok(&app, &w.cardiologist.session, &id, "accept", json!({})).await;
    assert_eq!(r["overdue"], false);
    let d: Value = app
        .get(
            &format!("/api/v1/consortia/{}/referral-dashboard", w.consortium),
            Some(&w.consortium_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["overdue"], json!([]));
    let _ = (&w.chc, &w.admin);
}

#[tokio::test]
async fn a_downward_referral_carries_a_follow_up_plan_and_the_community_closes_it() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let resp = refer(&app, &w.cardiologist.session, json!({"direction": "down", "patient_id": w.patient.patient_id,
        "to_org_id": w.chc, "to_doctor_id": w.community_doctor.id, "reason": "出院后社区随访", "summary": "急性心梗PCI术后第7天。"})).await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "ref_text_required").await;
    assert_eq!(body["field"], "follow_up_plan");
    let resp = refer(&app, &w.cardiologist.session, json!({"direction": "down", "patient_id": w.patient.patient_id,
        "to_org_id": w.chc, "to_doctor_id": w.community_doctor.id, "reason": "出院后社区随访", "summary": "急性心梗PCI术后第7天。",
        "follow_up_plan": "双抗12个月，每2周社区随访血压心率。"})).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["status"], "referred_down");
    let id = s(&r["id"]);
    assert_eq!(
        notified(&app, &everyone(&w), "referral.created", &id).await,
        expect(vec![
            (&w.cardiologist.id, "referring_doctor"),
            (&w.community_doctor.id, "receiving_doctor"),
            (&w.patient.session.account_id, "patient"),
        ])
    );
    // The community doctor takes the patient back and closes it; the hospital cannot.
    let resp = step(&app, &w.cardiologist.session, &id, "close", json!({})).await;
    assert_error(resp, StatusCode::FORBIDDEN, "ref_not_your_turn").await;
    let list: Value = app
        .get("/api/v1/referrals", Some(&w.community_doctor.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["my_actions"], json!(["close"]));
    let r = step_ok(
        &app,
        &w.community_doctor.session,
        &id,
        "close",
        json!({"note": "已建立随访档案"}),
    )
    .await;
    assert_eq!(r["status"], "closed");
    assert_eq!(r["follow_up_plan"], "双抗12个月，每2周社区随访血压心率。");
}

#[tokio::test]
async fn accepting_books_the_patient_a_visit_slot_and_cancelling_gives_it_back() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let date = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let resp = app
        .post(
            &format!("/api/v1/doctors/{}/extra-hours", w.cardiologist.id),
            Some(&w.hospital_admin),
            &json!({"org_id": w.hospital, "date": date, "start": "09:00", "end": "09:15", "slot_minutes": 15,
                    "capacity": 1, "slot_type": "expert", "fee_fen": 5000, "mode": "offline"}),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let now = ihos_store::now_ms();
    let mut c = app.state.store.conn().await.unwrap();
    let slot = ihos_store::scheduling::open_slots_of_doctor(
        &mut c,
        &w.cardiologist.id,
        now,
        now + 10 * 86_400_000,
    )
    .await
    .unwrap()
    .remove(0);
    drop(c);
    let id = s(&visit_referral(&app, &w).await["id"]);
    let r = step_ok(
        &app,
        &w.cardiologist.session,
        &id,
        "accept",
        json!({"slot_id": slot.id}),
    )
    .await;
    let appointment = s(&r["appointment_id"]);
    // The patient finds the booking among their appointments.
    let mine: Value = app
        .get("/api/v1/me/appointments", Some(&w.patient.session))
        .await
        .json()
        .await
        .unwrap();
    let booked = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == appointment.as_str())
        .expect("booked");
    assert_eq!(booked["status"], "booked");
    assert_eq!(booked["doctor_id"], w.cardiologist.id.as_str());
    let mut c = app.state.store.conn().await.unwrap();
    assert_eq!(
        ihos_store::scheduling::slot(&mut c, &slot.id)
            .await
            .unwrap()
            .unwrap()
            .remaining,
        0
    );
    drop(c);
    // The referring doctor cancels before the visit: booking cancelled, seat back.
    step_ok(
        &app,
        &w.community_doctor.session,
        &id,
        "cancel",
        json!({"reason": "患者病情好转，暂不转诊"}),
    )
    .await;
    let a: Value = app
        .get(
            &format!("/api/v1/appointments/{appointment}"),
            Some(&w.patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["status"], "cancelled");
    let mut c = app.state.store.conn().await.unwrap();
    assert_eq!(
        ihos_store::scheduling::slot(&mut c, &slot.id)
            .await
            .unwrap()
            .unwrap()
            .remaining,
        1
    );
}
