//! Home nursing: no order without an assessment by the hospital, only
//! qualified nurses, the visit (accept, check in, check out with a record),
//! safety alerts to the hospital's admins, one review by the patient served,
//! and a complete, audited record of every visit.

use chrono::{Duration, Utc};
use chrono_tz::Asia::Shanghai;
use ihos_server::nursing::service::{Paid, mark_paid};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

struct Hospital {
    org_id: String,
    org_admin: Session,
    admin: Session,
}

async fn hospital(app: &TestApp, name: &str) -> Hospital {
    let admin = app.platform_admin().await;
    let org_id = app.hospital(&admin, name).await;
    let org_admin = app.org_admin(&admin, &org_id).await;
    Hospital {
        org_id,
        org_admin,
        admin,
    }
}

static LICENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A practitioner of the hospital with `title`; answers (id, session).
async fn staff(
    app: &TestApp,
    h: &Hospital,
    name: &str,
    title: &str,
    since: &str,
) -> (String, Session) {
    let phone = phone();
    let n = LICENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let licence = format!("41066{:06}{:04}", std::process::id() % 1_000_000, n);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{}/practitioners", h.org_id),
            Some(&h.org_admin),
            &json!({"name": name, "phone": phone, "password": PASSWORD, "title": title,
                    "licence_no": licence, "practising_since": since}),
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

async fn picc_service(app: &TestApp, h: &Hospital) -> String {
    let resp = app
        .post(
            &format!("/api/v1/organisations/{}/nursing-services", h.org_id),
            Some(&h.org_admin),
            &json!({"code": "picc_maintenance", "name": "PICC导管维护", "fee_fen": 15000,
                    "duration_minutes": 60, "min_years": 5, "required_qualification": "picc"}),
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

/// A visit window starting tomorrow at 09:00 Beijing time.
fn window() -> (String, String) {
    let day = (Utc::now().with_timezone(&Shanghai) + Duration::days(1)).date_naive();
    (
        format!("{}T09:00", day.format("%Y-%m-%d")),
        format!("{}T11:00", day.format("%Y-%m-%d")),
    )
}

const ADDRESS: &str = "浙江省杭州市西湖区文三路90号3幢501室";

async fn place_order(app: &TestApp, patient: &Session, service_id: &str) -> reqwest::Response {
    let (start, end) = window();
    app.post(
        "/api/v1/nursing/orders",
        Some(patient),
        &json!({"service_id": service_id, "address": ADDRESS, "window_start": start,
                "window_end": end, "note": "PICC置管第3周"}),
    )
    .await
}

async fn step(
    app: &TestApp,
    who: &Session,
    id: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/api/v1/nursing/orders/{id}/{action}"),
        Some(who),
        &body,
    )
    .await
}

#[tokio::test]
async fn an_order_without_an_assessment_by_the_hospital_is_refused() {
    let app = spawn_app().await;
    let h = hospital(&app, "杭州护理示范医院").await;
    let service = picc_service(&app, &h).await;
    let patient = app.sign_up_patient("周桂兰").await;

    let body = assert_error(
        place_order(&app, &patient.session, &service).await,
        StatusCode::BAD_REQUEST,
        "nursing_assessment_required",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("assessment"));
    // Nothing was written.
    let mine: Value = app
        .get("/api/v1/nursing/orders", Some(&patient.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 0);

    // An assessment by a doctor of ANOTHER hospital does not count, and
    // such a doctor may not record one for this hospital.
    let other = hospital(&app, "另一家医院").await;
    let (_, other_doc) = staff(&app, &other, "钱医生", "attending_physician", "2012-07-01").await;
    assert_error(
        app.post(
            "/api/v1/nursing/assessments",
            Some(&other_doc),
            &json!({"patient_id": patient.patient_id, "org_id": h.org_id, "note": "可居家护理"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // A patient cannot assess themself.
    assert_error(
        app.post(
            "/api/v1/nursing/assessments",
            Some(&patient.session),
            &json!({"patient_id": patient.patient_id, "org_id": h.org_id, "note": "我觉得可以"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // With an assessment by the hospital's doctor the same order goes through.
    let (_, doc) = staff(&app, &h, "王医生", "chief_physician", "2005-07-01").await;
    let resp = app
        .post(
            "/api/v1/nursing/assessments",
            Some(&doc),
            &json!({"patient_id": patient.patient_id, "org_id": h.org_id, "note": "PICC置管后，适合居家维护"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = place_order(&app, &patient.session, &service).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["fee_fen"], 15000);
    assert_eq!(order["assessment_kind"], "assessment");
    // The patient sees their own address; it is encrypted at rest.
    assert_eq!(order["address"], ADDRESS);
    let mut c = app.state.store.conn().await.unwrap();
    let stored = ihos_store::nursing::order(&mut c, &s(&order["id"]))
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.address_enc.contains("文三路"));
    // The fee is on the visit's one payment order, self-paid.
    let pay = ihos_store::payment::order_of_visit(&mut c, "nursing", &s(&order["id"]))
        .await
        .unwrap()
        .expect("a payment order for the visit");
    let items = ihos_store::payment::items(&mut c, &pay.id).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0].kind.as_str(),
            items[0].amount_fen,
            items[0].self_fen
        ),
        ("nursing_service", 15000, 15000)
    );
}

/// Pay the visit's order the way a patient does: start paying, confirm in the
/// sandbox, wait for the provider's signed callback over HTTP.
async fn pay_through_the_sandbox(app: &TestApp, patient: &Session, nursing_order: &str) {
    let pay = {
        let mut c = app.state.store.conn().await.unwrap();
        ihos_store::payment::order_of_visit(&mut c, "nursing", nursing_order)
            .await
            .unwrap()
            .expect("a payment order for the visit")
    };
    let started: Value = app
        .post(
            &format!("/api/v1/payment-orders/{}/pay", pay.id),
            Some(patient),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let txn = s(&started["transaction_id"]);
    let r = app
        .post(
            &format!("/api/v1/payments/sandbox/{txn}/confirm"),
            Some(patient),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..100 {
        let r = app
            .get(
                &format!("/api/v1/nursing/orders/{nursing_order}"),
                Some(patient),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        if v["order"]["status"] != "awaiting_payment" {
            assert_eq!(v["order"]["status"], "paid", "{v}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the nursing order was not marked paid after the payment callback");
}

#[tokio::test]
async fn only_a_qualified_nurse_can_be_assigned() {
    let app = spawn_app().await;
    let h = hospital(&app, "杭州护理示范医院").await;
    let service = picc_service(&app, &h).await;
    let patient = app.sign_up_patient("周桂兰").await;
    let (_, doc) = staff(&app, &h, "王医生", "chief_physician", "2005-07-01").await;
    app.post(
        "/api/v1/nursing/assessments",
        Some(&doc),
        &json!({"patient_id": patient.patient_id, "org_id": h.org_id, "note": "适合居家PICC维护"}),
    )
    .await;
    let order: Value = place_order(&app, &patient.session, &service)
        .await
        .json()
        .await
        .unwrap();
    let id = s(&order["id"]);
    let (junior, _) = staff(
        &app,
        &h,
        "小李",
        "nurse",
        &format!("{}-01-01", Utc::now().format("%Y")),
    )
    .await;
    let (senior, senior_s) = staff(&app, &h, "何护士长", "senior_nurse", "2011-07-01").await;
    let (doctor_id, _) = staff(&app, &h, "赵医生", "attending_physician", "2010-07-01").await;

    // Not before it is paid.
    assert_error(
        step(
            &app,
            &h.org_admin,
            &id,
            "assign",
            json!({"nurse_id": senior}),
        )
        .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    assert_eq!(mark_paid(&app.state, &id).await.unwrap(), Paid::Now);
    assert_eq!(
        mark_paid(&app.state, &id).await.unwrap(),
        Paid::Already,
        "idempotent"
    );

    // Too few years, even with the qualification.
    app.client
        .put(app.url(&format!(
            "/api/v1/organisations/{}/nurses/{junior}/qualifications",
            h.org_id
        )))
        .bearer_auth(&h.org_admin.token)
        .json(&json!({"qualifications": ["picc"]}))
        .send()
        .await
        .unwrap();
    let e = assert_error(
        step(
            &app,
            &h.org_admin,
            &id,
            "assign",
            json!({"nurse_id": junior}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "nurse_not_qualified",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("years"));
    // Enough years, but no PICC qualification at this hospital.
    let e = assert_error(
        step(
            &app,
            &h.org_admin,
            &id,
            "assign",
            json!({"nurse_id": senior}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "nurse_not_qualified",
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("picc"));
    // A nurse cannot take it for herself either.
    assert_error(
        step(&app, &senior_s, &id, "assign", json!({"nurse_id": senior})).await,
        StatusCode::BAD_REQUEST,
        "nurse_not_qualified",
    )
    .await;
    // A doctor is not a nurse.
    assert_error(
        step(
            &app,
            &h.org_admin,
            &id,
            "assign",
            json!({"nurse_id": doctor_id}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "not_a_nurse",
    )
    .await;
    // The hospital's nurse list says who may take it.
    let nurses: Value = app
        .get(
            &format!("/api/v1/organisations/{}/nurses?order_id={id}", h.org_id),
            Some(&h.org_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let eligible: Vec<bool> = nurses
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["eligible"].as_bool().unwrap())
        .collect();
    assert_eq!(eligible, vec![false, false]);
    let still: Value = app
        .get(
            &format!("/api/v1/nursing/orders/{id}"),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["order"]["status"], "paid");
    assert!(still["order"]["nurse_id"].is_null());

    // Once the hospital records her PICC qualification, she can be assigned.
    let resp = app
        .client
        .put(app.url(&format!(
            "/api/v1/organisations/{}/nurses/{senior}/qualifications",
            h.org_id
        )))
        .bearer_auth(&h.org_admin.token)
        .json(&json!({"qualifications": ["picc", "wound_care"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = step(
        &app,
        &h.org_admin,
        &id,
        "assign",
        json!({"nurse_id": senior}),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "assigned");
    assert_eq!(v["nurse_name"], "何护士长");
}

#[tokio::test]
async fn every_visit_has_a_complete_audited_record() {
    let app = spawn_app().await;
    let h = hospital(&app, "杭州护理示范医院").await;
    let service = picc_service(&app, &h).await;
    let patient = app.sign_up_patient("周桂兰").await;
    let (_, doc) = staff(&app, &h, "王医生", "chief_physician", "2005-07-01").await;
    app.post(
        "/api/v1/nursing/assessments",
        Some(&doc),
        &json!({"patient_id": patient.patient_id, "org_id": h.org_id, "note": "适合居家PICC维护"}),
    )
    .await;
    let order: Value = place_order(&app, &patient.session, &service)
        .await
        .json()
        .await
        .unwrap();
    let id = s(&order["id"]);
    mark_paid(&app.state, &id).await.unwrap();
    let (nurse, nurse_s) = staff(&app, &h, "何护士长", "senior_nurse", "2011-07-01").await;
    app.client
        .put(app.url(&format!(
            "/api/v1/organisations/{}/nurses/{nurse}/qualifications",
            h.org_id
        )))
        .bearer_auth(&h.org_admin.token)
        .json(&json!({"qualifications": ["picc"]}))
        .send()
        .await
        .unwrap();
    let r = step(
        &app,
        &h.org_admin,
        &id,
        "assign",
        json!({"nurse_id": nurse}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Before accepting, the nurse (like the hospital) sees the address masked.
    let before: Value = app
        .get(&format!("/api/v1/nursing/orders/{id}"), Some(&nurse_s))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["order"]["address"], "浙江省杭州市****");
    assert_eq!(before["order"]["address_masked"], true);
    let dispatch: Value = app
        .get(&format!("/api/v1/nursing/orders/{id}"), Some(&h.org_admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dispatch["order"]["address"], "浙江省杭州市****");
    assert_eq!(dispatch["order"]["patient_name"], "周**");
    assert!(
        dispatch["order"]["note"].is_null(),
        "no clinical text for dispatch"
    );

    // Only the assigned nurse acts on the visit.
    let (_, other_nurse) = staff(&app, &h, "陈护士", "senior_nurse", "2010-07-01").await;
    assert_error(
        step(&app, &other_nurse, &id, "accept", json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        step(
            &app,
            &nurse_s,
            &id,
            "check-in",
            json!({"lat": 30.27, "lng": 120.15}),
        )
        .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    assert_eq!(
        step(&app, &nurse_s, &id, "accept", json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    let after: Value = app
        .get(&format!("/api/v1/nursing/orders/{id}"), Some(&nurse_s))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["order"]["address"], ADDRESS,
        "the nurse who accepted sees the address"
    );
    assert_error(
        step(
            &app,
            &nurse_s,
            &id,
            "check-in",
            json!({"lat": 95.0, "lng": 120.15}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_location",
    )
    .await;
    let r = step(
        &app,
        &nurse_s,
        &id,
        "check-in",
        json!({"lat": 30.274_15, "lng": 120.155_07}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // A safety alert reaches the hospital's admins.
    let r = step(
        &app,
        &nurse_s,
        &id,
        "safety-alerts",
        json!({"kind": "patient_deterioration", "note": "患者诉胸闷，已建议拨打120", "lat": 30.27415, "lng": 120.15507}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let inbox: Value = app
        .get("/api/v1/me/notifications", Some(&h.org_admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["topic"] == "nursing.safety_alert"
                && n["payload"]["nursing_order_id"] == id.as_str()),
        "{inbox}"
    );

    // No check-out without a record of what was done.
    assert_error(
        step(
            &app,
            &nurse_s,
            &id,
            "check-out",
            json!({"lat": 30.27, "lng": 120.15, "record": " "}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "nursing_record_required",
    )
    .await;
    let r = step(
        &app,
        &nurse_s,
        &id,
        "check-out",
        json!({"lat": 30.27416, "lng": 120.15508, "record": "更换PICC敷料及正压接头，冲封管，导管通畅，穿刺点无红肿",
               "vitals": "T 36.6℃ BP 128/80"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // One review, by the patient served only.
    let stranger = app.sign_up_patient("路人").await;
    assert_error(
        step(&app, &stranger.session, &id, "review", json!({"rating": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        step(&app, &nurse_s, &id, "review", json!({"rating": 5})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = step(
        &app,
        &patient.session,
        &id,
        "review",
        json!({"rating": 5, "text": "何护士很专业"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_error(
        step(&app, &patient.session, &id, "review", json!({"rating": 4})).await,
        StatusCode::CONFLICT,
        "nursing_already_reviewed",
    )
    .await;

    // The record: every step with who and when, both places, what was done.
    let rec: Value = app
        .get(
            &format!("/api/v1/nursing/orders/{id}"),
            Some(&patient.session),
        )
        .await
        .json()
        .await
        .unwrap();
    let o = &rec["order"];
    assert_eq!(o["status"], "completed");
    for field in [
        "paid_at",
        "assigned_at",
        "accepted_at",
        "checked_in_at",
        "checked_out_at",
    ] {
        assert!(o[field].as_i64().is_some(), "{field} missing: {o}");
    }
    assert!(o["checked_in_at"].as_i64() <= o["checked_out_at"].as_i64());
    assert_eq!(o["check_in"]["lat"], 30.27415);
    assert_eq!(o["check_out"]["lng"], 120.15508);
    assert!(o["record"].as_str().unwrap().contains("PICC"));
    assert_eq!(o["vitals"], "T 36.6℃ BP 128/80");
    let actions: Vec<&str> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "ordered",
            "paid",
            "assigned",
            "accepted",
            "checked_in",
            "safety_alert",
            "checked_out",
            "reviewed"
        ]
    );
    assert_eq!(rec["safety_alerts"].as_array().unwrap().len(), 1);
    assert_eq!(rec["review"]["rating"], 5);
    // Strangers see nothing.
    assert_error(
        app.get(
            &format!("/api/v1/nursing/orders/{id}"),
            Some(&stranger.session),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // And the audit log holds every step and every read, with who and on what ground.
    let mut c = app.state.store.conn().await.unwrap();
    let trail = ihos_store::audit::trail(&mut c, "nursing_order", &id, 100)
        .await
        .unwrap();
    let audited: Vec<&str> = trail.iter().rev().map(|a| a.action.as_str()).collect();
    for a in [
        "nursing.ordered",
        "nursing.paid",
        "nursing.assigned",
        "nursing.accepted",
        "nursing.checked_in",
        "nursing.safety_alert",
        "nursing.checked_out",
        "nursing.reviewed",
    ] {
        assert_eq!(
            audited.iter().filter(|x| **x == a).count(),
            1,
            "{a} in {audited:?}"
        );
    }
    let reads: Vec<_> = trail
        .iter()
        .filter(|a| a.action == "nursing.read")
        .collect();
    assert_eq!(
        reads.len(),
        4,
        "the nurse twice, the hospital once, the patient once"
    );
    assert!(reads.iter().any(|r| r.ground == "hospital_dispatch"));
    assert!(reads.iter().any(|r| r.ground == "treating_practitioner"));
    assert!(reads.iter().any(|r| r.ground == "assigned_nurse_dispatch"));
    assert!(
        trail
            .iter()
            .filter(|a| a.action != "nursing.paid")
            .all(|a| a.actor_id.is_some())
    );
    // The patient's own access log shows the reads too.
    let patient_trail = ihos_store::audit::trail(&mut c, "patient", &patient.patient_id, 100)
        .await
        .unwrap();
    assert!(
        patient_trail
            .iter()
            .filter(|a| a.action == "nursing.read")
            .count()
            >= 4
    );
    let _ = &h.admin;
}

#[tokio::test]
async fn a_cancelled_paid_order_is_refunded_and_cannot_be_paid_again() {
    let app = spawn_app().await;
    let h = hospital(&app, "杭州护理示范医院").await;
    let service = picc_service(&app, &h).await;
    let patient = app.sign_up_patient("周桂兰").await;
    let (_, nurse_s) = staff(&app, &h, "何护士长", "senior_nurse", "2011-07-01").await;
    app.post(
        "/api/v1/nursing/assessments",
        Some(&nurse_s),
        &json!({"patient_id": patient.patient_id, "org_id": h.org_id, "note": "护士上门评估：适合"}),
    )
    .await;
    let a: Value = place_order(&app, &patient.session, &service)
        .await
        .json()
        .await
        .unwrap();
    let b: Value = place_order(&app, &patient.session, &service)
        .await
        .json()
        .await
        .unwrap();
    let (a, b) = (s(&a["id"]), s(&b["id"]));
    pay_through_the_sandbox(&app, &patient.session, &a).await;
    // The visit's payment is cancelled with the visit, not on its own.
    let pay_a = {
        let mut c = app.state.store.conn().await.unwrap();
        ihos_store::payment::order_of_visit(&mut c, "nursing", &a)
            .await
            .unwrap()
            .unwrap()
    };
    let r = app
        .post(
            &format!("/api/v1/payment-orders/{}/cancel", pay_a.id),
            Some(&patient.session),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "pay_cancel_the_visit").await;
    for id in [&a, &b] {
        let r = step(
            &app,
            &patient.session,
            id,
            "cancel",
            json!({"reason": "已住院"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let mut c = app.state.store.conn().await.unwrap();
    assert_eq!(
        ihos_store::outbox::count_matching(&mut c, "payment.refund", &a)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ihos_store::outbox::count_matching(&mut c, "payment.refund", &b)
            .await
            .unwrap(),
        0
    );
    let e = mark_paid(&app.state, &b).await.unwrap_err();
    assert_eq!(e.code, "order_cancelled");
    // The paid visit's order is refunded in full; the unpaid one cancelled.
    for (visit, status) in [(&a, "refunded"), (&b, "cancelled")] {
        let o = ihos_store::payment::order_of_visit(&mut c, "nursing", visit)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.status, status);
    }
    // A window in the past is refused.
    let r = app
        .post(
            "/api/v1/nursing/orders",
            Some(&patient.session),
            &json!({"service_id": service, "address": ADDRESS, "window_start": "2020-01-01T09:00", "window_end": "2020-01-01T10:00"}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_visit_window").await;
}
