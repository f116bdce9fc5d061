//! Online consultation: follow-up only, guardians, eligible doctors, the
//! state machine, chat that loses nothing across reconnects and restarts,
//! reviews, expiry with refund, the tiered path and triage.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ihos_domain::ErrorCode;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

const PDF: &[u8] = b"%PDF-1.4\n% outpatient record\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

/// A hospital with a department, its admin, and doctors.
struct Clinic {
    admin: Session,
    org_admin: Session,
    org_id: String,
    department_id: String,
}

async fn clinic(app: &TestApp) -> Clinic {
    let admin = app.platform_admin().await;
    let org_id = app.hospital(&admin, "杭州城西医院").await;
    let org_admin = app.org_admin(&admin, &org_id).await;
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/departments"),
            Some(&org_admin),
            &json!({"name": "内分泌科门诊", "specialty": "endocrinology"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let department_id = s(&resp.json::<Value>().await.unwrap()["id"]);
    Clinic {
        admin,
        org_admin,
        org_id,
        department_id,
    }
}

static LICENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A doctor in the clinic's department; answers (id, logged-in session).
async fn doctor(app: &TestApp, c: &Clinic, title: &str, since: &str) -> (String, Session) {
    let phone = phone();
    let n = LICENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let licence = format!("21044{:06}{:04}", std::process::id() % 1_000_000, n);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{}/practitioners", c.org_id),
            Some(&c.org_admin),
            &json!({"name": "李医生", "phone": phone, "password": PASSWORD, "title": title,
                    "licence_no": licence, "practising_since": since, "department_id": c.department_id}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    (id, app.login_ok(&phone).await)
}

async fn upload_record(app: &TestApp, who: &Session) -> String {
    let resp = app
        .client
        .post(app.url("/api/v1/consultation-evidence"))
        .bearer_auth(&who.token)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    s(&resp.json::<Value>().await.unwrap()["id"])
}

/// A follow-up request with an uploaded outpatient record as evidence.
async fn request_follow_up(app: &TestApp, patient: &Session, doctor_id: &str) -> Value {
    let record = upload_record(app, patient).await;
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(patient),
            &json!({"doctor_id": doctor_id, "complaint": "糖尿病复诊，最近血糖偏高",
                    "evidence": {"kind": "outpatient_record", "reference": record, "note": "2型糖尿病"}}),
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

async fn act(
    app: &TestApp,
    who: &Session,
    id: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/api/v1/consultations/{id}/{action}"),
        Some(who),
        &body,
    )
    .await
}

async fn open_consultation(
    app: &TestApp,
    patient: &Session,
    doc: &Session,
    doc_id: &str,
) -> String {
    let c = request_follow_up(app, patient, doc_id).await;
    let id = s(&c["id"]);
    let r = act(app, doc, &id, "accept", json!({"qualifies": true})).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = act(app, doc, &id, "start", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    id
}

#[tokio::test]
async fn a_first_visit_is_refused_unless_the_department_pilots_first_visits() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, _) = doctor(&app, &c, "主治医师", "2015-03-01").await;
    let patient = app.sign_up_patient("陈静").await;

    let resp = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": doc_id, "complaint": "最近口渴多饮"}),
        )
        .await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "first_visit_not_allowed").await;
    assert!(body["detail"].as_str().unwrap().contains("follow-up"));

    // Evidence pointing at nothing of the patient's is refused too.
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": doc_id, "complaint": "最近口渴多饮",
                    "evidence": {"kind": "platform_visit", "reference": "no-such-visit"}}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_evidence").await;

    // With an uploaded outpatient record it is a follow-up.
    let c1 = request_follow_up(&app, &patient.session, &doc_id).await;
    assert_eq!(c1["status"], "requested");
    assert_eq!(c1["tier"], "gp");
    assert_eq!(c1["suggested_specialty"], "endocrinology");

    // A region pilots first visits in this department: now allowed.
    let resp = app
        .client
        .put(app.url(&format!(
            "/api/v1/departments/{}/consultation-policy",
            c.department_id
        )))
        .bearer_auth(&c.org_admin.token)
        .json(&json!({"allow_first_visit": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": doc_id, "complaint": "最近口渴多饮"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["first_visit_pilot"],
        true
    );

    // Only the org's own admin changes the policy.
    let other_org = app.hospital(&c.admin, "宁波第一医院").await;
    let other_admin = app.org_admin(&c.admin, &other_org).await;
    let resp = app
        .client
        .put(app.url(&format!(
            "/api/v1/departments/{}/consultation-policy",
            c.department_id
        )))
        .bearer_auth(&other_admin.token)
        .json(&json!({"allow_first_visit": false}))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_child_under_six_consults_only_with_the_linked_guardian_present() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, _) = doctor(&app, &c, "主任医师", "2001-09-01").await;
    let mother = app.sign_up_patient("周丽").await;
    let child_birth = (chrono::Utc::now() - chrono::Duration::days(365 * 3))
        .format("%Y%m%d")
        .to_string();
    let resp = app
        .post(
            "/api/v1/me/dependants",
            Some(&mother.session),
            &json!({"name": "周小宝", "resident_id": resident_id(&child_birth), "relation": "mother"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let child_id = s(&resp.json::<Value>().await.unwrap()["id"]);
    let record = upload_record(&app, &mother.session).await;
    let body = |present: bool| {
        json!({"patient_id": child_id, "doctor_id": doc_id, "complaint": "宝宝哮喘复诊",
               "guardian_present": present,
               "evidence": {"kind": "discharge_record", "reference": record}})
    };

    let resp = app
        .post("/api/v1/consultations", Some(&mother.session), &body(false))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "guardian_must_be_present").await;

    // Someone who is not the child's guardian cannot even see the child.
    let stranger = app.sign_up_patient("路人甲").await;
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(&stranger.session),
            &body(true),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    let resp = app
        .post("/api/v1/consultations", Some(&mother.session), &body(true))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["guardian_present"], true);
    assert!(v["patient_age"].as_u64().unwrap() < 6);
}

#[tokio::test]
async fn a_doctor_with_under_three_years_of_practice_cannot_consult_online() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let last_year = (chrono::Utc::now() - chrono::Duration::days(400))
        .format("%Y-%m-%d")
        .to_string();
    let (junior, _) = doctor(&app, &c, "住院医师", &last_year).await;
    let patient = app.sign_up_patient("赵强").await;
    let record = upload_record(&app, &patient.session).await;
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": junior, "complaint": "高血压复诊",
                    "evidence": {"kind": "outpatient_record", "reference": record}}),
        )
        .await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "doctor_not_eligible_online").await;
    assert_eq!(body["field"], "doctor_id");
}

/// A stored date that cannot be read was taken for 1970-01-01, which made
/// any doctor a 56-year veteran; now the request is refused and nothing is written.
#[tokio::test]
async fn a_doctor_whose_stored_practice_date_is_unreadable_is_not_taken_for_a_veteran() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let last_year = (chrono::Utc::now() - chrono::Duration::days(400))
        .format("%Y-%m-%d")
        .to_string();
    let (junior, _) = doctor(&app, &c, "住院医师", &last_year).await;
    {
        let mut conn = app.state.store.conn().await.unwrap();
        sqlx::query("UPDATE practitioners SET practising_since = $1 WHERE account_id = $2")
            .bind("2019/01/01")
            .bind(&junior)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let patient = app.sign_up_patient("钱立").await;
    let record = upload_record(&app, &patient.session).await;
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": junior, "complaint": "高血压复诊",
                    "evidence": {"kind": "outpatient_record", "reference": record}}),
        )
        .await;
    let body = assert_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
    assert!(
        body.get("detail").is_none(),
        "a 5xx body stays generic: {body}"
    );
    let mine: Value = app
        .get("/api/v1/consultations", Some(&patient.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().map(Vec::len), Some(0), "{mine}");
}

#[tokio::test]
async fn illegal_transitions_are_refused_and_accepting_opens_the_record_to_the_doctor() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("孙梅").await;
    let v = request_follow_up(&app, &patient.session, &doc_id).await;
    let id = s(&v["id"]);

    // The doctor cannot read the patient's record before accepting.
    let resp = app
        .get(
            &format!("/api/v1/patients/{}", patient.patient_id),
            Some(&doc),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app
        .get(
            &format!("/api/v1/consultations/{id}/patient-history"),
            Some(&doc),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let r = act(&app, &doc, &id, "complete", json!({"summary": "好"})).await;
    assert_error(r, StatusCode::CONFLICT, "illegal_transition").await;
    let r = act(&app, &doc, &id, "start", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "illegal_transition").await;
    let r = act(
        &app,
        &patient.session,
        &id,
        "accept",
        json!({"qualifies": true}),
    )
    .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = act(&app, &doc, &id, "accept", json!({})).await;
    assert_error(r, StatusCode::BAD_REQUEST, "qualification_required").await;

    let r = act(&app, &doc, &id, "accept", json!({"qualifies": true})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["qualified"].as_bool()),
        (Some("accepted"), Some(true))
    );

    // Now the doctor treats the patient: record and history readable, and audited.
    let resp = app
        .get(
            &format!("/api/v1/patients/{}", patient.patient_id),
            Some(&doc),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .get(
            &format!("/api/v1/consultations/{id}/patient-history"),
            Some(&doc),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let trail: Vec<Value> = app
        .get(
            &format!("/api/v1/patients/{}/audit", patient.patient_id),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        trail.iter().any(
            |a| a["action"] == "patient.history.read" && a["ground"] == "treating_practitioner"
        )
    );

    let r = act(&app, &doc, &id, "start", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = act(&app, &patient.session, &id, "cancel", json!({})).await;
    assert_error(r, StatusCode::CONFLICT, "illegal_transition").await;
    let r = act(
        &app,
        &doc,
        &id,
        "complete",
        json!({"summary": "血糖控制可，继续二甲双胍"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = act(&app, &doc, &id, "accept", json!({"qualifies": true})).await;
    assert_error(r, StatusCode::CONFLICT, "consultation_closed").await;
    let r = act(
        &app,
        &doc,
        &id,
        "refer-offline",
        json!({"reason": "需面诊"}),
    )
    .await;
    assert_error(r, StatusCode::CONFLICT, "consultation_closed").await;

    // A stranger sees nothing.
    let other = app.sign_up_patient("钱多").await;
    let r = app
        .get(&format!("/api/v1/consultations/{id}"), Some(&other.session))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_doctor_refers_a_case_offline_with_a_reason_and_chat_closes() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("吴芳").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let r = act(&app, &doc, &id, "refer-offline", json!({"reason": " "})).await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    let r = act(
        &app,
        &doc,
        &id,
        "refer-offline",
        json!({"reason": "足部溃疡需线下清创"}),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "referred_offline");
    assert_eq!(v["end_reason"], "足部溃疡需线下清创");
    let r = app
        .post(
            &format!("/api/v1/consultations/{id}/messages"),
            Some(&patient.session),
            &json!({"client_id": "late-1", "text": "还在吗"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "chat_closed").await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, who: &Session, id: &str, after: i64) -> Ws {
    connect_with(app, who, id, after, &[]).await
}

async fn connect_with(
    app: &TestApp,
    who: &Session,
    id: &str,
    after: i64,
    headers: &[(&'static str, &'static str)],
) -> Ws {
    let url = format!(
        "{}/api/v1/consultations/{id}/chat?after={after}",
        app.base.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", who.token).parse().unwrap(),
    );
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws
}

async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Frames until one of `kind` arrives; answers (that frame, message seqs seen on the way).
async fn until(ws: &mut Ws, kind: &str, seen: &mut Vec<i64>) -> Value {
    loop {
        let f = next_frame(ws).await;
        if f["type"] == "message" {
            seen.push(f["seq"].as_i64().unwrap());
        }
        if f["type"] == kind {
            return f;
        }
    }
}

/// Frames until the send `client_id` is acknowledged: its own message frame
/// back from the room (stored now), or an `ack` (a resend of a stored one).
async fn stored(ws: &mut Ws, client_id: &str, seen: &mut Vec<i64>) -> Value {
    loop {
        let f = next_frame(ws).await;
        if f["type"] == "message" {
            seen.push(f["seq"].as_i64().unwrap());
        }
        if (f["type"] == "message" || f["type"] == "ack") && f["client_id"] == client_id {
            return f;
        }
    }
}

async fn send(ws: &mut Ws, client_id: &str, text: &str) {
    ws.send(Message::Text(
        json!({"type": "send", "client_id": client_id, "kind": "text", "text": text})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_refused_chat_frame_is_explained_in_the_language_of_the_socket() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("周琳").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let cases: [(&[(&'static str, &'static str)], &str); 2] = [
        (&[], ErrorCode::MalformedFrame.zh()),
        (
            &[("accept-language", "en-US,en")],
            ErrorCode::MalformedFrame.en(),
        ),
    ];
    for (headers, text) in cases {
        let mut ws = connect_with(&app, &patient.session, &id, 0, headers).await;
        let mut seen = Vec::new();
        until(&mut ws, "ready", &mut seen).await;
        ws.send(Message::Text("not json".into())).await.unwrap();
        let f = until(&mut ws, "error", &mut seen).await;
        assert_eq!(f["code"], "malformed_frame", "{f}");
        assert_eq!(f["message"], text, "{f}");
        assert!(s(&f["detail"]).contains("Send JSON"), "{f}");
    }
}

#[tokio::test]
async fn a_reconnecting_chat_client_resumes_from_its_last_seq_without_loss_or_duplicates() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("郑敏").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;

    let mut p = connect(&app, &patient.session, &id, 0).await;
    let mut d = connect(&app, &doc, &id, 0).await;
    let mut p_seen = Vec::new();
    let mut d_seen = Vec::new();
    assert_eq!(until(&mut p, "ready", &mut p_seen).await["last_seq"], 0);
    until(&mut d, "ready", &mut d_seen).await;

    send(&mut p, "p-1", "医生您好，最近空腹血糖8.2").await;
    let own = stored(&mut p, "p-1", &mut p_seen).await;
    assert_eq!(
        (own["type"].as_str(), own["seq"].as_i64()),
        (Some("message"), Some(1))
    );
    send(&mut d, "d-1", "最近饮食怎么样？").await;
    stored(&mut d, "d-1", &mut d_seen).await;
    // The patient hears the doctor live.
    let mut last = Value::Null;
    while !p_seen.contains(&2) {
        let f = next_frame(&mut p).await;
        if f["type"] == "message" {
            p_seen.push(f["seq"].as_i64().unwrap());
            last = f;
        }
    }
    assert_eq!(p_seen, vec![1, 2]);
    assert_eq!(last["text"], "最近饮食怎么样？");
    assert_eq!(last["sender_role"], "doctor");

    // The patient's connection drops; the doctor keeps writing.
    drop(p);
    for i in 0..5 {
        send(&mut d, &format!("d-more-{i}"), &format!("第{i}条建议")).await;
        stored(&mut d, &format!("d-more-{i}"), &mut d_seen).await;
    }

    // Reconnect from seq 2: exactly 3..=7, then live.
    let mut p = connect(&app, &patient.session, &id, 2).await;
    let mut resumed = Vec::new();
    let ready = until(&mut p, "ready", &mut resumed).await;
    assert_eq!(resumed, vec![3, 4, 5, 6, 7]);
    assert_eq!(ready["last_seq"], 7);

    // The patient resends p-1 (its ack was "lost"): same message, not a new one.
    send(&mut p, "p-1", "医生您好，最近空腹血糖8.2").await;
    let ack = stored(&mut p, "p-1", &mut resumed).await;
    assert_eq!(
        (ack["seq"].as_i64(), ack["duplicate"].as_bool()),
        (Some(1), Some(true))
    );
    send(&mut p, "p-2", "饮食控制了").await;
    let own = stored(&mut p, "p-2", &mut resumed).await;
    assert_eq!(
        (own["type"].as_str(), own["seq"].as_i64()),
        (Some("message"), Some(8))
    );

    // A picture: type-checked upload, then a picture message.
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/consultations/{id}/attachments")))
        .bearer_auth(&patient.session.token)
        .header("content-type", "image/png")
        .body(b"<svg onload=alert(1)>".to_vec())
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::BAD_REQUEST, "unsupported_picture").await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/consultations/{id}/attachments")))
        .bearer_auth(&patient.session.token)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let pic = s(&resp.json::<Value>().await.unwrap()["id"]);
    p.send(Message::Text(
        json!({"type": "send", "client_id": "p-pic", "kind": "picture", "attachment_id": pic})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(stored(&mut p, "p-pic", &mut resumed).await["seq"], 9);
    let resp = app
        .get(
            &format!("/api/v1/consultations/{id}/attachments/{pic}"),
            Some(&doc),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);
    drop(p);
    drop(d);

    // The server restarts on the same database: the full history, in order, once.
    let app = app.restart().await;
    let mut p = connect(&app, &patient.session, &id, 0).await;
    let mut after_restart = Vec::new();
    let ready = until(&mut p, "ready", &mut after_restart).await;
    assert_eq!(after_restart, (1..=9).collect::<Vec<_>>());
    assert_eq!(ready["last_seq"], 9);
    // Sending continues the sequence, and a resend from before the restart is still recognised.
    send(&mut p, "p-2", "饮食控制了").await;
    let ack = stored(&mut p, "p-2", &mut after_restart).await;
    assert_eq!(
        (ack["seq"].as_i64(), ack["duplicate"].as_bool()),
        (Some(8), Some(true))
    );
    send(&mut p, "p-3", "谢谢医生").await;
    assert_eq!(stored(&mut p, "p-3", &mut after_restart).await["seq"], 10);

    // A resume point beyond the last message counts from the last one: the
    // next message still arrives.
    let mut d = connect(&app, &doc, &id, 1000).await;
    let mut skipped = Vec::new();
    assert_eq!(until(&mut d, "ready", &mut skipped).await["last_seq"], 10);
    send(&mut p, "p-4", "好的").await;
    let f = until(&mut d, "message", &mut skipped).await;
    assert_eq!(f["seq"], 11);

    // The REST history agrees.
    let msgs: Vec<Value> = app
        .get(
            &format!("/api/v1/consultations/{id}/messages?after=7"),
            Some(&doc),
        )
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> = msgs.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![8, 9, 10, 11]);
    assert_eq!(msgs[1]["kind"], "picture");
}

#[tokio::test]
async fn concurrent_senders_get_distinct_gapless_sequence_numbers() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("冯军").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let who = if i % 2 == 0 {
            patient.session.clone()
        } else {
            doc.clone()
        };
        let url = app.url(&format!("/api/v1/consultations/{id}/messages"));
        let client = app.client.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(&who.token)
                .json(&json!({"client_id": format!("m-{i}"), "text": format!("消息{i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()["seq"].as_i64().unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn only_the_served_patient_reviews_once_and_the_doctor_replies() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("褚红").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let review = json!({"rating": 5, "text": "医生很耐心"});

    let r = act(&app, &patient.session, &id, "review", review.clone()).await;
    assert_error(r, StatusCode::CONFLICT, "review_not_open").await;
    let r = act(&app, &doc, &id, "complete", json!({"summary": "继续用药"})).await;
    assert_eq!(r.status(), StatusCode::OK);

    let other = app.sign_up_patient("卫东").await;
    let r = act(&app, &other.session, &id, "review", review.clone()).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = act(&app, &doc, &id, "review", review.clone()).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = act(&app, &patient.session, &id, "review", json!({"rating": 9})).await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_rating").await;

    let r = act(&app, &patient.session, &id, "review", review.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = act(&app, &patient.session, &id, "review", json!({"rating": 1})).await;
    assert_error(r, StatusCode::CONFLICT, "already_reviewed").await;

    let r = act(
        &app,
        &doc,
        &id,
        "review/reply",
        json!({"reply": "谢谢，按时复查"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = act(
        &app,
        &doc,
        &id,
        "review/reply",
        json!({"reply": "再说一次"}),
    )
    .await;
    assert_error(r, StatusCode::CONFLICT, "reply_not_possible").await;

    let v: Value = app
        .get(&format!("/api/v1/practitioners/{doc_id}/reviews"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["count"].as_u64(), v["average"].as_f64()),
        (Some(1), Some(5.0))
    );
    assert_eq!(v["reviews"][0]["reply"], "谢谢，按时复查");
}

#[tokio::test]
async fn a_completed_and_reviewed_consultation_feeds_the_influence_index_events() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("蒋平").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let events = || async {
        let mut conn = app.state.store.conn().await.unwrap();
        ihos_store::events::counts_for_practitioner(&mut conn, &doc_id)
            .await
            .unwrap()
    };
    for (i, who) in [&patient.session, &doc, &patient.session]
        .iter()
        .enumerate()
    {
        let r = act(
            &app,
            who,
            &id,
            "messages",
            json!({"client_id": format!("e-{i}"), "text": "血压控制得还好"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // Messages count as exchanges when the consultation closes, not before.
    assert_eq!(events().await, vec![]);
    let r = act(&app, &doc, &id, "complete", json!({"summary": "继续用药"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(events().await, vec![(2, 1), (3, 3)]);
    let r = act(&app, &patient.session, &id, "review", json!({"rating": 4})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(events().await, vec![(2, 1), (3, 3), (4, 1)]);
}

#[tokio::test]
async fn an_unanswered_request_expires_and_is_refunded() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("蒋涛").await;

    // A family-doctor package: 2 consultations.
    let r = app
        .post(
            "/api/v1/service-packages",
            Some(&doc),
            &json!({"name": "糖尿病管理包", "period_days": 90, "consultations": 2, "price_fen": 19900}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let package = s(&r.json::<Value>().await.unwrap()["id"]);
    let r = app
        .post(
            &format!("/api/v1/service-packages/{package}/subscriptions"),
            Some(&patient.session),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sub = s(&r.json::<Value>().await.unwrap()["id"]);

    let record = upload_record(&app, &patient.session).await;
    let ask = |use_package: bool| {
        let mut b = json!({"doctor_id": doc_id, "complaint": "血糖复诊",
                           "evidence": {"kind": "outpatient_record", "reference": record}});
        if use_package {
            b["subscription_id"] = json!(sub);
        }
        b
    };
    let paid: Value = app
        .post("/api/v1/consultations", Some(&patient.session), &ask(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paid["fee_fen"], 2000);
    let by_package: Value = app
        .post("/api/v1/consultations", Some(&patient.session), &ask(true))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_package["fee_fen"], 0);
    let r = app
        .post("/api/v1/consultations", Some(&patient.session), &ask(true))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post("/api/v1/consultations", Some(&patient.session), &ask(true))
        .await;
    assert_error(r, StatusCode::CONFLICT, "package_exhausted").await;

    // Nothing is due yet.
    let now = ihos_store::now_ms();
    let n = ihos_server::consultation::expire_job::run_once(&app.state, now)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The doctor answers one; the other two run out of time.
    let r = act(
        &app,
        &doc,
        &s(&paid["id"]),
        "accept",
        json!({"qualifies": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let later = now + 31 * 60_000;
    let n = ihos_server::consultation::expire_job::run_once(&app.state, later)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let v: Value = app
        .get(
            &format!("/api/v1/consultations/{}", s(&by_package["id"])),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["status"].as_str(), v["refunded"].as_bool()),
        (Some("expired"), Some(true))
    );
    let subv: Value = app
        .get(
            &format!("/api/v1/package-subscriptions/{sub}"),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subv["remaining"], 2, "both package uses came back");
    let accepted: Value = app
        .get(
            &format!("/api/v1/consultations/{}", s(&paid["id"])),
            Some(&doc),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accepted["status"], "accepted");
    // Running again changes nothing.
    assert_eq!(
        ihos_server::consultation::expire_job::run_once(&app.state, later)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_cancelled_paid_request_writes_a_refund_to_the_outbox() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, _) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("沈阳").await;
    let v = request_follow_up(&app, &patient.session, &doc_id).await;
    let id = s(&v["id"]);
    let r = act(&app, &patient.session, &id, "cancel", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut conn = app.state.store.conn().await.unwrap();
    let n = ihos_store::outbox::count_matching(&mut conn, "payment.refund", &id)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_gp_escalates_to_a_specialist_who_sees_the_history() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (gp_id, gp) = doctor(&app, &c, "住院医师", "2018-01-01").await;
    let (spec_id, spec) = doctor(&app, &c, "主治医师", "2010-01-01").await;
    let (resident_id2, _) = doctor(&app, &c, "住院医师", "2016-01-01").await;
    let patient = app.sign_up_patient("韩雪").await;
    let id = open_consultation(&app, &patient.session, &gp, &gp_id).await;
    let r = app
        .post(
            &format!("/api/v1/consultations/{id}/messages"),
            Some(&gp),
            &json!({"client_id": "gp-1", "text": "建议专科进一步调整胰岛素"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let r = act(
        &app,
        &gp,
        &id,
        "escalate",
        json!({"doctor_id": resident_id2, "reason": "需专科"}),
    )
    .await;
    assert_error(r, StatusCode::BAD_REQUEST, "doctor_tier_mismatch").await;
    let r = act(
        &app,
        &gp,
        &id,
        "escalate",
        json!({"doctor_id": spec_id, "reason": "胰岛素方案调整"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let next: Value = r.json().await.unwrap();
    assert_eq!(
        (next["tier"].as_str(), next["parent_id"].as_str()),
        (Some("specialist"), Some(id.as_str()))
    );
    assert_eq!(next["fee_fen"], 0, "the patient pays once");
    let old: Value = app
        .get(
            &format!("/api/v1/consultations/{id}"),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["status"], "completed");

    let thread: Vec<Value> = app
        .get(
            &format!("/api/v1/consultations/{}/thread", s(&next["id"])),
            Some(&spec),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[0]["messages"][0]["text"], "建议专科进一步调整胰岛素");

    // The queue shows it waiting for the specialist.
    let q: Vec<Value> = app
        .get("/api/v1/consultations/queue", Some(&spec))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        q.iter()
            .any(|e| e["id"] == next["id"] && e["status"] == "requested")
    );
}

#[tokio::test]
async fn triage_suggests_departments_and_emergencies_say_call_120() {
    let app = spawn_app().await;
    let v: Value = app
        .post(
            "/api/v1/triage",
            None,
            &json!({"complaint": "最近总是心慌、胸闷，血压高"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["emergency"], false);
    assert_eq!(v["suggestions"][0]["specialty"], "cardiology");
    assert_eq!(v["suggestions"][0]["name_zh"], "心血管内科");
    assert!(
        v["suggestions"][0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "心慌")
    );

    let v: Value = app
        .post(
            "/api/v1/triage",
            None,
            &json!({"complaint": "突然胸痛，呼吸困难"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["emergency"], true);
    assert!(v["advice"].as_str().unwrap().contains("120"));

    let r = app
        .post("/api/v1/triage", None, &json!({"complaint": "  "}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_field").await;

    // A consultation request with an emergency is turned to 120 as well.
    let c = clinic(&app).await;
    let (doc_id, _) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("杨帆").await;
    let r = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": doc_id, "complaint": "胸痛得厉害"}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "emergency_call_120").await;
}

#[tokio::test]
async fn the_chat_socket_refuses_other_sites_and_strangers() {
    let app = spawn_app().await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("秦岚").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let url = format!(
        "{}/api/v1/consultations/{id}/chat",
        app.base.replace("http://", "ws://")
    );
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", patient.session.token).parse().unwrap(),
    );
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());

    let stranger = app.sign_up_patient("路人乙").await;
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", stranger.session.token)
            .parse()
            .unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 404)
        }
        other => panic!("a stranger must not open the chat: {:?}", other.is_ok()),
    }
}

#[tokio::test]
async fn a_picture_stored_before_the_one_data_folder_is_still_read_from_its_old_folder() {
    let old = tempfile::tempdir().unwrap();
    let old_dir = old.path().to_path_buf();
    let app = spawn_app_with(|s| s.blob_dir = Some(old_dir.clone())).await;
    let c = clinic(&app).await;
    let (doc_id, doc) = doctor(&app, &c, "主治医师", "2012-01-01").await;
    let patient = app.sign_up_patient("冯军").await;
    let id = open_consultation(&app, &patient.session, &doc, &doc_id).await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/consultations/{id}/attachments")))
        .bearer_auth(&patient.session.token)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let pic = s(&resp.json::<Value>().await.unwrap()["id"]);

    // A new upload lives under <data_dir>/blobs/attachments/, not in blob_dir.
    let mut conn = app.state.store.conn().await.unwrap();
    let key: String =
        sqlx::query_scalar("SELECT blob_key FROM consultation_attachments WHERE id = $1")
            .bind(&pic)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let new_path = app.state.settings.blob_root().join(&key);
    assert!(key.starts_with("attachments/"), "{key}");
    assert!(new_path.exists(), "{}", new_path.display());

    // Make it an upload from before: the key without the prefix, the file in blob_dir.
    let old_key = key.trim_start_matches("attachments/").to_string();
    let old_path = old_dir.join(&old_key);
    std::fs::create_dir_all(old_path.parent().unwrap()).unwrap();
    std::fs::rename(&new_path, &old_path).unwrap();
    sqlx::query("UPDATE consultation_attachments SET blob_key = $1 WHERE id = $2")
        .bind(&old_key)
        .bind(&pic)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    let resp = app
        .get(
            &format!("/api/v1/consultations/{id}/attachments/{pic}"),
            Some(&doc),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);
}
