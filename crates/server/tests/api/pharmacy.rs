//! E-prescriptions, pharmacist review, one payment per visit and drug
//! fulfilment: controlled drugs refused, nothing paid or dispensed before
//! review, idempotent signed callbacks, exactly-once dispensing under
//! concurrency, and totals exact to the fen.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ihos_server::payment::provider::{Notification, SIGNATURE_HEADER, sign};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "test-payment-secret";

static LICENCE: AtomicU32 = AtomicU32::new(0);

/// A hospital with a department, an attending doctor, a hospital
/// pharmacist, a patient and an open consultation between them.
struct World {
    app: TestApp,
    admin: Session,
    doctor: Session,
    pharmacist: Session,
    patient: SignedUpPatient,
    consultation_id: String,
}

async fn practitioner(
    app: &TestApp,
    org_admin: &Session,
    org_id: &str,
    title: &str,
    department_id: Option<&str>,
) -> Session {
    let phone = phone();
    let n = LICENCE.fetch_add(1, Ordering::Relaxed);
    let licence = format!("31055{:06}{:04}", std::process::id() % 1_000_000, n);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/practitioners"),
            Some(org_admin),
            &json!({"name": "张药师", "phone": phone, "password": PASSWORD, "title": title,
                    "licence_no": licence, "practising_since": "2012-05-01", "department_id": department_id}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    app.login_ok(&phone).await
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(adjust: impl FnOnce(&mut ihos_server::Settings)) -> World {
    let app = spawn_app_with(|s| {
        s.payment.provider_secret = SECRET.into();
        s.payment.sandbox_delay_ms = 50;
        adjust(s);
    })
    .await;
    let admin = app.platform_admin().await;
    let org_id = app.hospital(&admin, "杭州城东医院").await;
    let org_admin = app.org_admin(&admin, &org_id).await;
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org_id}/departments"),
            Some(&org_admin),
            &json!({"name": "内分泌科", "specialty": "endocrinology"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let dep = s(&resp.json::<Value>().await.unwrap()["id"]);
    let doctor = practitioner(&app, &org_admin, &org_id, "主治医师", Some(&dep)).await;
    let pharmacist = practitioner(&app, &org_admin, &org_id, "主管药师", None).await;
    let patient = app.sign_up_patient("周敏").await;
    let consultation_id = open_consultation(&app, &patient.session, &doctor).await;
    World {
        app,
        admin,
        doctor,
        pharmacist,
        patient,
        consultation_id,
    }
}

async fn open_consultation(app: &TestApp, patient: &Session, doctor: &Session) -> String {
    let resp = app
        .client
        .post(app.url("/api/v1/consultation-evidence"))
        .bearer_auth(&patient.token)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n% record\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let record = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app
        .post(
            "/api/v1/consultations",
            Some(patient),
            &json!({"doctor_id": doctor.account_id, "complaint": "胃部不适复诊",
                    "evidence": {"kind": "outpatient_record", "reference": record, "note": "慢性胃炎"}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app
        .post(
            &format!("/api/v1/consultations/{id}/accept"),
            Some(doctor),
            &json!({"qualifies": true}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    id
}

fn item(code: &str, quantity: i64, days: u32) -> Value {
    json!({"drug_code": code, "quantity": quantity, "dosage": "1片", "frequency": "每日3次", "days": days})
}

impl World {
    async fn prescribe(&self, items: Value) -> reqwest::Response {
        self.app
            .post(
                &format!(
                    "/api/v1/consultations/{}/prescriptions",
                    self.consultation_id
                ),
                Some(&self.doctor),
                &json!({"kind": "acute", "diagnosis": "慢性胃炎", "items": items}),
            )
            .await
    }

    async fn prescribe_ok(&self, items: Value) -> Value {
        let resp = self.prescribe(items).await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        resp.json().await.unwrap()
    }

    async fn approve(&self, id: &str) -> Value {
        let resp = self
            .app
            .post(
                &format!("/api/v1/prescriptions/{id}/approve"),
                Some(&self.pharmacist),
                &json!({}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
        resp.json().await.unwrap()
    }

    async fn order(&self) -> Value {
        let resp = self
            .app
            .post(
                &format!("/api/v1/consultations/{}/order", self.consultation_id),
                Some(&self.patient.session),
                &json!({}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
        resp.json().await.unwrap()
    }

    async fn pay(&self, order_id: &str) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/payment-orders/{order_id}/pay"),
                Some(&self.patient.session),
                &json!({}),
            )
            .await
    }

    /// Start paying and answer the signed notification the provider would send.
    async fn start_payment(&self, order_id: &str) -> Notification {
        let resp = self.pay(order_id).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
        let body: Value = resp.json().await.unwrap();
        let txn = s(&body["transaction_id"]);
        let mut c = self.app.state.store.conn().await.unwrap();
        let t = ihos_store::payment::transaction(&mut c, &txn)
            .await
            .unwrap()
            .unwrap();
        Notification {
            event_id: format!("evt-{txn}"),
            transaction_id: txn,
            provider_ref: t.provider_ref.unwrap(),
            amount_fen: t.amount_fen,
            outcome: "succeeded".into(),
        }
    }

    async fn callback(&self, n: &Notification, secret: &str) -> reqwest::Response {
        let body = serde_json::to_vec(n).unwrap();
        self.app
            .client
            .post(self.app.url("/api/v1/payments/callback/sandbox"))
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                sign(secret.as_bytes(), ihos_store::now_ms(), &body),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get_order(&self, id: &str) -> Value {
        let resp = self
            .app
            .get(
                &format!("/api/v1/payment-orders/{id}"),
                Some(&self.patient.session),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    async fn rx_for_patient(&self, id: &str) -> Value {
        let resp = self
            .app
            .get(
                &format!("/api/v1/prescriptions/{id}"),
                Some(&self.patient.session),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    async fn choose(&self, rx: &str, body: Value) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/prescriptions/{rx}/fulfilment"),
                Some(&self.patient.session),
                &body,
            )
            .await
    }

    /// An approved prescription on a paid order; answers (prescription id, order id).
    async fn paid_prescription(&self, method: &str) -> (String, String) {
        let rx = self.prescribe_ok(json!([item("D0034", 7, 3)])).await;
        let id = s(&rx["id"]);
        self.approve(&id).await;
        let resp = self.choose(&id, json!({"method": method})).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
        let order = self.order().await;
        let order_id = s(&order["id"]);
        let n = self.start_payment(&order_id).await;
        let resp = self.callback(&n, SECRET).await;
        assert_eq!(resp.status(), StatusCode::OK);
        (id, order_id)
    }

    async fn dispense(&self, id: &str, who: &Session, code: impl AsRef<str>) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/prescriptions/{id}/dispense"),
                Some(who),
                &json!({"code": code.as_ref()}),
            )
            .await
    }

    async fn cancel_order(&self, order_id: &str) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/payment-orders/{order_id}/cancel"),
                Some(&self.patient.session),
                &json!({}),
            )
            .await
    }

    async fn pharmacy(&self, name: &str) -> Session {
        let resp = self
            .app
            .post(
                "/api/v1/organisations",
                Some(&self.admin),
                &json!({"name": name, "kind": "pharmacy", "province": "浙江省", "city": "杭州市"}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        let org = s(&resp.json::<Value>().await.unwrap()["id"]);
        let org_admin = self.app.org_admin(&self.admin, &org).await;
        practitioner(&self.app, &org_admin, &org, "药师", None).await
    }
}

async fn prescription_count(app: &TestApp) -> i64 {
    let mut c = app.state.store.conn().await.unwrap();
    ihos_store::pharmacy::count(&mut c).await.unwrap()
}

#[tokio::test]
async fn a_controlled_drug_is_refused_online_and_nothing_is_written() {
    let w = world().await;
    for code in ["D0071", "D0077", "D0084"] {
        let resp = w
            .prescribe(json!([item("D0034", 7, 3), item(code, 6, 3)]))
            .await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "rx_controlled_drug").await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("never prescribed online"),
            "{body}"
        );
    }
    assert_eq!(prescription_count(&w.app).await, 0);
    // The catalogue lists them as not allowed online.
    let drugs: Value = w
        .app
        .get("/api/v1/drugs?q=吗啡", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(drugs[0]["online_allowed"], false);
}

#[tokio::test]
async fn only_the_attending_doctor_prescribes_inside_an_open_consultation() {
    let w = world().await;
    // The patient cannot prescribe.
    let resp = w
        .app
        .post(
            &format!("/api/v1/consultations/{}/prescriptions", w.consultation_id),
            Some(&w.patient.session),
            &json!({"kind": "acute", "diagnosis": "x", "items": [item("D0034", 7, 3)]}),
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    // Nor the pharmacist.
    let resp = w
        .app
        .post(
            &format!("/api/v1/consultations/{}/prescriptions", w.consultation_id),
            Some(&w.pharmacist),
            &json!({"kind": "acute", "diagnosis": "x", "items": [item("D0034", 7, 3)]}),
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    // After the consultation is completed, no new prescription.
    let resp = w
        .app
        .post(
            &format!("/api/v1/consultations/{}/complete", w.consultation_id),
            Some(&w.doctor),
            &json!({"summary": "好转"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = w.prescribe(json!([item("D0034", 7, 3)])).await;
    assert_error(resp, StatusCode::CONFLICT, "rx_consultation_not_open").await;
    assert_eq!(prescription_count(&w.app).await, 0);
}

#[tokio::test]
async fn allergies_duplicates_and_days_supply_are_checked_and_the_prescription_is_signed() {
    let w = world().await;
    let resp = w
        .app
        .post(
            &format!("/api/v1/patients/{}/allergies", w.patient.patient_id),
            Some(&w.patient.session),
            &json!({"substance": "青霉素类"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The treating doctor sees the allergy list.
    let list: Value = w
        .app
        .get(
            &format!("/api/v1/patients/{}/allergies", w.patient.patient_id),
            Some(&w.doctor),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["substance"], "青霉素类");

    let resp = w.prescribe(json!([item("D0024", 14, 3)])).await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "rx_allergy").await;
    assert!(body["detail"].as_str().unwrap().contains("青霉素类"));
    let resp = w
        .prescribe(json!([item("D0034", 7, 3), item("D0034", 7, 3)]))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "rx_duplicate_drug").await;
    let resp = w.prescribe(json!([item("D0034", 7, 8)])).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "rx_days_exceeded").await;
    // Chronic: up to 84 days.
    let resp = w
        .app
        .post(
            &format!("/api/v1/consultations/{}/prescriptions", w.consultation_id),
            Some(&w.doctor),
            &json!({"kind": "chronic", "diagnosis": "2型糖尿病", "items": [item("D0001", 168, 84)]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let rx: Value = resp.json().await.unwrap();
    assert_eq!(rx["status"], "pending_review");
    assert_eq!(rx["signed_by"], w.doctor.account_id.as_str());
    assert_eq!(rx["signature_method"], "sha256");
    assert_eq!(rx["signature"].as_str().unwrap().len(), 64);
    assert_eq!(prescription_count(&w.app).await, 1);
}

#[tokio::test]
async fn an_unreviewed_prescription_cannot_be_paid_or_dispensed() {
    let w = world().await;
    let rx = w.prescribe_ok(json!([item("D0034", 7, 3)])).await;
    let id = s(&rx["id"]);

    // The visit's order carries the consultation fee only: no drug item exists.
    let order = w.order().await;
    let items = order["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "consultation_fee");
    // Paying the visit is refused while the prescription waits for review.
    let resp = w.pay(&s(&order["id"])).await;
    assert_error(resp, StatusCode::CONFLICT, "rx_review_pending").await;
    assert_eq!(w.get_order(&s(&order["id"])).await["status"], "open");

    // Dispensing it is refused, with any code.
    let resp = w.dispense(&id, &w.pharmacist, "ABCDEFGHJK").await;
    assert_error(resp, StatusCode::CONFLICT, "rx_not_approved").await;
    // Shipping too.
    let resp = w
        .app
        .post(
            &format!("/api/v1/prescriptions/{id}/tracking"),
            Some(&w.pharmacist),
            &json!({"status": "shipped", "tracking_no": "SF1234567"}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "rx_not_approved").await;
    // And choosing a delivery.
    let resp = w
        .choose(
            &id,
            json!({"method": "courier", "address": "杭州市西湖区文三路1号"}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "rx_not_approved").await;

    // A rejected one cannot be paid either; the doctor revises.
    let resp = w
        .app
        .post(
            &format!("/api/v1/prescriptions/{id}/reject"),
            Some(&w.pharmacist),
            &json!({"reason": "剂量偏大，请调整"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc_view: Value = w
        .app
        .get(&format!("/api/v1/prescriptions/{id}"), Some(&w.doctor))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc_view["status"], "rejected");
    assert_eq!(doc_view["review_note"], "剂量偏大，请调整");
    let resp = w
        .app
        .post(
            &format!("/api/v1/prescriptions/{id}/revise"),
            Some(&w.doctor),
            &json!({"kind": "acute", "diagnosis": "慢性胃炎", "items": [item("D0034", 6, 2)]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v2: Value = resp.json().await.unwrap();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["previous_id"], id.as_str());
    assert_eq!(v2["status"], "pending_review");
    // The old version cannot be approved.
    let resp = w
        .app
        .post(
            &format!("/api/v1/prescriptions/{id}/approve"),
            Some(&w.pharmacist),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "rx_wrong_state").await;
    // The pharmacist's queue holds the new version only.
    let queue: Value = w
        .app
        .get("/api/v1/prescriptions/queue", Some(&w.pharmacist))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![v2["id"].as_str().unwrap()]);
    // A pharmacist of another hospital does not see or review it.
    let other = w.app.hospital(&w.admin, "宁波第二医院").await;
    let other_admin = w.app.org_admin(&w.admin, &other).await;
    let stranger = practitioner(&w.app, &other_admin, &other, "药师", None).await;
    let resp = w
        .app
        .post(
            &format!("/api/v1/prescriptions/{}/approve", s(&v2["id"])),
            Some(&stranger),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn totals_and_insurance_split_are_exact_to_the_fen() {
    let w = world().await;
    // 多潘立酮 42×7 = 294 at 80% → 235 insured (235.2 rounded down), 59 self
    // 阿莫西林 18×14 = 252 at 100% → 252 / 0
    // 塞来昔布 290×3 = 870 at 70% → 609 / 261
    let rx = w
        .prescribe_ok(json!([
            item("D0034", 7, 3),
            item("D0024", 14, 7),
            item("D0041", 3, 3)
        ]))
        .await;
    let id = s(&rx["id"]);
    assert_eq!(rx["amount_fen"], 294 + 252 + 870);
    assert_eq!(rx["insured_fen"], 235 + 252 + 609);
    assert_eq!(rx["self_fen"], 59 + 261);
    assert_eq!(rx["items"][0]["insured"], "¥2.35");
    w.approve(&id).await;
    let resp = w
        .choose(
            &id,
            json!({"method": "courier", "address": "杭州市西湖区文三路1号"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let order = w.order().await;
    let by_kind = |k: &str| -> Vec<Value> {
        order["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == k)
            .cloned()
            .collect()
    };
    assert_eq!(by_kind("consultation_fee")[0]["self_fen"], 2000);
    assert_eq!(by_kind("delivery")[0]["self_fen"], 1200);
    let drugs = by_kind("drug");
    assert_eq!(drugs.len(), 3);
    let insured: Vec<i64> = drugs
        .iter()
        .map(|d| d["insured_fen"].as_i64().unwrap())
        .collect();
    assert_eq!(insured, vec![235, 252, 609]);
    for i in order["items"].as_array().unwrap() {
        assert_eq!(
            i["insured_fen"].as_i64().unwrap() + i["self_fen"].as_i64().unwrap(),
            i["amount_fen"].as_i64().unwrap()
        );
    }
    assert_eq!(order["amount_fen"], 2000 + 294 + 252 + 870 + 1200);
    assert_eq!(order["insured_fen"], 235 + 252 + 609);
    assert_eq!(order["self_fen"], 2000 + 59 + 261 + 1200);
    assert_eq!(order["self_paid"], "¥35.20");
    // Switching to pickup drops the delivery fee.
    let resp = w.choose(&id, json!({"method": "pickup"})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(w.order().await["self_fen"], 2000 + 59 + 261);
}

#[tokio::test]
async fn a_duplicate_payment_callback_changes_nothing_and_a_bad_signature_is_refused() {
    let w = world().await;
    let rx = w.prescribe_ok(json!([item("D0034", 7, 3)])).await;
    let id = s(&rx["id"]);
    w.approve(&id).await;
    let order = w.order().await;
    let order_id = s(&order["id"]);
    let n = w.start_payment(&order_id).await;
    assert_eq!(n.amount_fen, 2000 + 59);
    assert_eq!(w.get_order(&order_id).await["status"], "paying");
    // A second payment while one is running is refused: pay at most once.
    assert_error(
        w.pay(&order_id).await,
        StatusCode::CONFLICT,
        "pay_in_progress",
    )
    .await;

    // Forged: wrong key.
    let resp = w.callback(&n, "not-the-key").await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "pay_bad_signature").await;
    // Wrong amount.
    let mut wrong = n.clone();
    wrong.amount_fen += 1;
    wrong.event_id = "evt-wrong".into();
    assert_error(
        w.callback(&wrong, SECRET).await,
        StatusCode::BAD_REQUEST,
        "pay_amount_mismatch",
    )
    .await;
    assert_eq!(w.get_order(&order_id).await["status"], "paying");

    let resp = w.callback(&n, SECRET).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["result"], "applied");
    let paid = w.get_order(&order_id).await;
    assert_eq!(paid["status"], "paid");
    let rx_paid = w.rx_for_patient(&id).await;
    let code = s(&rx_paid["fulfilment"]["code"]);
    assert_eq!(rx_paid["fulfilment"]["status"], "ready");

    let outbox = |app: &TestApp| {
        let store = app.state.store.clone();
        let order_id = order_id.clone();
        async move {
            let mut c = store.conn().await.unwrap();
            ihos_store::outbox::count_matching(&mut c, "payment.paid", &order_id)
                .await
                .unwrap()
        }
    };
    assert_eq!(outbox(&w.app).await, 1);

    // The same notification again: a duplicate, nothing changes.
    let resp = w.callback(&n, SECRET).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["result"], "duplicate");
    // Another event for the settled payment: nothing changes either.
    let mut again = n.clone();
    again.event_id = "evt-other".into();
    let resp = w.callback(&again, SECRET).await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["result"],
        "already_settled"
    );

    assert_eq!(w.get_order(&order_id).await, paid);
    let rx_after = w.rx_for_patient(&id).await;
    assert_eq!(rx_after["fulfilment"]["code"], code.as_str());
    assert_eq!(
        rx_after["fulfilment"]["events"],
        rx_paid["fulfilment"]["events"]
    );
    assert_eq!(outbox(&w.app).await, 1);
    // Paid once: paying again is refused.
    assert_error(
        w.pay(&order_id).await,
        StatusCode::CONFLICT,
        "pay_already_paid",
    )
    .await;
    // And nothing more can be prescribed onto the paid visit.
    assert_error(
        w.prescribe(json!([item("D0031", 7, 3)])).await,
        StatusCode::CONFLICT,
        "rx_visit_settled",
    )
    .await;
}

#[tokio::test]
async fn the_sandbox_calls_back_over_http_and_the_window_dispenses_with_the_pickup_code() {
    let w = world().await;
    let rx = w.prescribe_ok(json!([item("D0034", 7, 3)])).await;
    let id = s(&rx["id"]);
    w.approve(&id).await;
    let order = w.order().await;
    let order_id = s(&order["id"]);
    let resp = w.pay(&order_id).await;
    let started: Value = resp.json().await.unwrap();
    assert!(s(&started["pay_url"]).starts_with("/payment/sandbox/"));
    let txn = s(&started["transaction_id"]);
    let resp = w
        .app
        .post(
            &format!("/api/v1/payments/sandbox/{txn}/confirm"),
            Some(&w.patient.session),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    // The callback arrives asynchronously.
    let mut status = String::new();
    for _ in 0..100 {
        status = s(&w.get_order(&order_id).await["status"]);
        if status == "paid" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "paid");
    let mut c = w.app.state.store.conn().await.unwrap();
    assert_eq!(
        ihos_store::payment::callback_count(&mut c, &txn)
            .await
            .unwrap(),
        1
    );
    drop(c);

    let code = s(&w.rx_for_patient(&id).await["fulfilment"]["code"]);
    // A wrong code is refused.
    let resp = w.dispense(&id, &w.pharmacist, "WRONGCODE2").await;
    assert_error(resp, StatusCode::BAD_REQUEST, "rx_bad_code").await;
    // The window looks it up and dispenses.
    let resp = w
        .app
        .get(
            &format!("/api/v1/prescriptions/lookup?code={code}"),
            Some(&w.pharmacist),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = w.dispense(&id, &w.pharmacist, code.to_lowercase()).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    let resp = w.dispense(&id, &w.pharmacist, code).await;
    assert_error(resp, StatusCode::CONFLICT, "rx_already_dispensed").await;
    // Dispensed: no refund by cancelling.
    let resp = w.cancel_order(&order_id).await;
    assert_error(resp, StatusCode::CONFLICT, "pay_not_refundable").await;

    // The prescription is in the patient's history, and reads are audited.
    let hist: Value = w
        .app
        .get(
            &format!("/api/v1/patients/{}/prescriptions", w.patient.patient_id),
            Some(&w.doctor),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hist[0]["id"], id.as_str());
    assert!(
        hist[0]["fulfilment"]["code"].is_null(),
        "code hidden from the doctor"
    );
    let mut c = w.app.state.store.conn().await.unwrap();
    let trail = ihos_store::audit::trail(&mut c, "patient", &w.patient.patient_id, 200)
        .await
        .unwrap();
    assert!(trail.iter().any(|e| e.action == "prescription.history.read"
        && e.actor_id.as_deref() == Some(w.doctor.account_id.as_str())));
    let trail = ihos_store::audit::trail(&mut c, "prescription", &id, 200)
        .await
        .unwrap();
    assert!(trail.iter().any(|e| e.action == "prescription.dispense"));
    assert!(
        trail
            .iter()
            .any(|e| e.action == "prescription.dispense.read")
    );
}

#[tokio::test]
async fn concurrent_dispense_attempts_at_two_pharmacies_yield_exactly_one() {
    let w = world().await;
    let (id, _) = w.paid_prescription("pharmacy_transfer").await;
    let code = s(&w.rx_for_patient(&id).await["fulfilment"]["code"]);
    let a = w.pharmacy("西湖大药房").await;
    let b = w.pharmacy("钱塘老百姓药房").await;
    // Each pharmacy sees the prescription with the code (not without).
    for p in [&a, &b] {
        let resp = w
            .app
            .get(
                &format!("/api/v1/prescriptions/lookup?code={code}"),
                Some(p),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // The hospital's own pharmacist is not a pharmacy: a transfer is not theirs.
    let resp = w
        .app
        .get(
            &format!("/api/v1/prescriptions/lookup?code={code}"),
            Some(&w.pharmacist),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    for round in 0..3 {
        let body = json!({"code": code});
        let path = format!("/api/v1/prescriptions/{id}/dispense");
        let (ra, rb) = tokio::join!(
            w.app.post(&path, Some(&a), &body),
            w.app.post(&path, Some(&b), &body)
        );
        let statuses = [ra.status(), rb.status()];
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, usize::from(round == 0), "round {round}: {statuses:?}");
        for r in [ra, rb] {
            if r.status() != StatusCode::OK {
                assert_error(r, StatusCode::CONFLICT, "rx_already_dispensed").await;
            }
        }
    }
    let mut c = w.app.state.store.conn().await.unwrap();
    assert_eq!(
        ihos_store::pharmacy::dispensed_count(&mut c, &id)
            .await
            .unwrap(),
        1
    );
    let f = ihos_store::pharmacy::fulfilment(&mut c, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.status, "dispensed");
    assert!(f.dispensed_org_id.is_some());
}

#[tokio::test]
async fn a_delivery_moves_through_its_tracking_states() {
    let w = world().await;
    let rx = w.prescribe_ok(json!([item("D0034", 7, 3)])).await;
    let id = s(&rx["id"]);
    w.approve(&id).await;
    let resp = w
        .choose(
            &id,
            json!({"method": "courier", "address": "杭州市西湖区文三路1号"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let order_id = s(&w.order().await["id"]);
    // Not shipped before payment.
    let track = |status: &str, no: Option<&str>| {
        let body = json!({"status": status, "courier": "顺丰速运", "tracking_no": no});
        let path = format!("/api/v1/prescriptions/{id}/tracking");
        let app = &w.app;
        let who = w.pharmacist.clone();
        async move { app.post(&path, Some(&who), &body).await }
    };
    assert_error(
        track("shipped", Some("SF100200300")).await,
        StatusCode::CONFLICT,
        "rx_not_paid",
    )
    .await;
    let n = w.start_payment(&order_id).await;
    assert_eq!(w.callback(&n, SECRET).await.status(), StatusCode::OK);
    assert_error(
        track("shipped", None).await,
        StatusCode::BAD_REQUEST,
        "rx_tracking_required",
    )
    .await;
    assert_error(
        track("delivered", None).await,
        StatusCode::CONFLICT,
        "rx_wrong_state",
    )
    .await;
    for st in ["shipped", "in_transit", "delivered"] {
        let resp = track(st, Some("SF100200300")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{st}");
    }
    let v = w.rx_for_patient(&id).await;
    assert_eq!(v["fulfilment"]["status"], "delivered");
    assert_eq!(v["fulfilment"]["tracking_no"], "SF100200300");
    let states: Vec<&str> = v["fulfilment"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        vec![
            "awaiting_payment",
            "method_chosen",
            "ready",
            "shipped",
            "in_transit",
            "delivered"
        ]
    );
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_and_nothing_can_be_dispensed() {
    let w = world().await;
    let (id, order_id) = w.paid_prescription("pickup").await;
    let code = s(&w.rx_for_patient(&id).await["fulfilment"]["code"]);
    let resp = w.cancel_order(&order_id).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    let o = w.get_order(&order_id).await;
    assert_eq!(o["status"], "refunded");
    assert_eq!(o["refunded_fen"], o["self_fen"]);
    let mut c = w.app.state.store.conn().await.unwrap();
    let refunds = ihos_store::payment::refunds_of(&mut c, &order_id)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status, "succeeded");
    assert_eq!(refunds[0].amount_fen, 2000 + 59);
    drop(c);
    let resp = w.dispense(&id, &w.pharmacist, code).await;
    assert_error(resp, StatusCode::CONFLICT, "rx_wrong_state").await;
    // Cancelling again changes nothing.
    let resp = w.cancel_order(&order_id).await;
    assert_error(resp, StatusCode::CONFLICT, "pay_order_closed").await;
}

#[tokio::test]
async fn unpaid_orders_close_after_the_timeout_and_a_late_payment_is_refunded() {
    let w = world().await;
    let rx = w.prescribe_ok(json!([item("D0034", 7, 3)])).await;
    w.approve(&s(&rx["id"])).await;
    let order_id = s(&w.order().await["id"]);
    let later = ihos_store::now_ms() + 2 * 24 * 3_600_000;
    let (closed, _) = ihos_server::payment::timeout_job::run_once(&w.app.state, later)
        .await
        .unwrap();
    assert_eq!(closed, 1);
    assert_eq!(w.get_order(&order_id).await["status"], "closed");
    // Paying reopens it; the payment then times out without a callback.
    let n = w.start_payment(&order_id).await;
    let (_, given_up) = ihos_server::payment::timeout_job::run_once(
        &w.app.state,
        ihos_store::now_ms() + 20 * 60_000,
    )
    .await
    .unwrap();
    assert_eq!(given_up, 1);
    assert_eq!(w.get_order(&order_id).await["status"], "open");
    // The money arrives late: it is refunded, the order stays unpaid.
    let resp = w.callback(&n, SECRET).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let o = w.get_order(&order_id).await;
    assert_eq!(o["status"], "open");
    assert_eq!(o["refunded_fen"], 0);
    let mut c = w.app.state.store.conn().await.unwrap();
    let refunds = ihos_store::payment::refunds_of(&mut c, &order_id)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount_fen, n.amount_fen);
    assert_eq!(refunds[0].status, "succeeded");
}

#[tokio::test]
async fn a_bad_catalogue_row_stops_the_start_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drugs.csv");
    std::fs::write(
        &file,
        "# test\nD1,阿莫西林胶囊,胶囊剂,0.25g,粒,18,甲,1000,none,\nD2,坏药,片剂,1mg,片,十元,甲,1000,none,\n",
    )
    .unwrap();
    let settings = ihos_server::settings::PharmacySettings {
        catalogue_file: Some(file),
        ..Default::default()
    };
    let err = ihos_server::pharmacy::load_catalogue(&settings).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("price_fen"), "{text}");
}

#[tokio::test]
async fn cancelling_the_consultation_refunds_its_paid_order_but_not_after_the_drugs_left() {
    // Paid, nothing dispensed yet: cancelling the consultation refunds the visit in full.
    let w = world().await;
    let (_, order_id) = w.paid_prescription("pickup").await;
    let resp = cancel_consultation(&w).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    let o = w.get_order(&order_id).await;
    assert_eq!(o["status"], "refunded");
    assert_eq!(o["refunded_fen"], o["self_fen"]);

    // Paid and dispensed: the consultation cannot be cancelled for a refund.
    let w = world().await;
    let (id, order_id) = w.paid_prescription("pickup").await;
    let code = s(&w.rx_for_patient(&id).await["fulfilment"]["code"]);
    let resp = w.dispense(&id, &w.pharmacist, code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        cancel_consultation(&w).await,
        StatusCode::CONFLICT,
        "pay_not_refundable",
    )
    .await;
    let o = w.get_order(&order_id).await;
    assert_eq!(
        (o["status"].as_str(), o["refunded_fen"].as_i64()),
        (Some("paid"), Some(0))
    );
}

async fn cancel_consultation(w: &World) -> reqwest::Response {
    w.app
        .post(
            &format!("/api/v1/consultations/{}/cancel", w.consultation_id),
            Some(&w.patient.session),
            &json!({}),
        )
        .await
}
