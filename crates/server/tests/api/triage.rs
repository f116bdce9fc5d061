//! Smart triage over the API: levels, advice in the caller's language,
//! tap-to-call numbers, reasons, departments that link to open slots, and
//! consultations refused for an emergency or a crisis.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn triage(app: &TestApp, body: Value, accept_language: Option<&str>) -> Value {
    let mut req = app
        .client
        .post(format!("{}/api/v1/triage", app.base))
        .json(&body);
    if let Some(l) = accept_language {
        req = req.header("Accept-Language", l);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

fn numbers(v: &Value) -> Vec<String> {
    v["hotlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| s(&h["number"]))
        .collect()
}

#[tokio::test]
async fn an_emergency_in_english_says_call_120_in_english_with_no_department() {
    let app = spawn_app().await;
    let v = triage(
        &app,
        json!({"complaint": "chest pain and shortness of breath"}),
        Some("en-US,en;q=0.9"),
    )
    .await;
    assert_eq!(v["level"], "emergency");
    assert_eq!(v["emergency"], true);
    assert_eq!(v["lang"], "en");
    assert!(s(&v["advice"]).contains("Call 120"), "{v}");
    assert_eq!(v["hotlines"][0]["number"], "120");
    assert_eq!(v["hotlines"][0]["tel"], "tel:120");
    assert_eq!(v["suggestions"].as_array().unwrap().len(), 0);
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "chest_pain_cardiac")
    );

    // The same in Chinese by default, with the stroke signs named.
    let v = triage(
        &app,
        json!({"complaint": "突然说话不清楚，一边手脚没力气"}),
        None,
    )
    .await;
    assert_eq!(v["level"], "emergency");
    assert_eq!(v["lang"], "zh-CN");
    let advice = s(&v["advice"]);
    assert!(
        advice.contains("120") && !advice.contains("预约"),
        "{advice}"
    );
    assert!(
        v["emergency_words"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| s(w).contains("说话不清楚"))
    );
}

#[tokio::test]
async fn a_crisis_gets_12356_and_the_local_line_and_110_120_in_danger() {
    let app = spawn_app_with(|s| s.triage_local_crisis_line = "0571-85029595".into()).await;
    let v = triage(&app, json!({"complaint": "最近总想自杀"}), None).await;
    assert_eq!(v["level"], "crisis");
    assert_eq!(v["crisis"], true);
    assert_eq!(v["immediate_danger"], false);
    assert_eq!(numbers(&v), vec!["12356", "0571-85029595"]);
    assert_eq!(v["hotlines"][1]["tel"], "tel:057185029595");
    assert!(s(&v["advice"]).contains("12356"));
    assert_eq!(v["suggestions"].as_array().unwrap().len(), 0);

    let v = triage(&app, json!({"complaint": "I took a whole bottle of sleeping pills, I want to die", "lang": "en"}), None).await;
    assert_eq!(v["level"], "crisis");
    assert_eq!(v["immediate_danger"], true);
    assert_eq!(numbers(&v), vec!["120", "110", "12356", "0571-85029595"]);
    assert!(
        s(&v["advice"]).starts_with("If you have hurt yourself"),
        "{v}"
    );
}

#[tokio::test]
async fn routine_complaints_get_departments_with_reasons_and_a_booking_link() {
    let app = spawn_app().await;
    let v = triage(&app, json!({"complaint": "膝盖疼，上下楼梯更明显"}), None).await;
    assert_eq!(v["level"], "routine");
    assert_eq!(v["hotlines"].as_array().unwrap().len(), 0);
    let first = &v["suggestions"][0];
    assert_eq!(first["specialty"], "orthopedics");
    assert_eq!(first["name"], "骨科");
    assert_eq!(first["booking_url"], "/booking?specialty=orthopedics");
    assert!(
        first["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| s(r).contains("膝盖"))
    );
    // Negated and past red flags are not emergencies.
    for c in [
        "没有胸痛，只是有点咳嗽",
        "上次胸痛已经好了，来复查",
        "血压150/95，想调药",
    ] {
        let v = triage(&app, json!({"complaint": c}), None).await;
        assert_eq!(v["level"], "routine", "{c}: {v}");
    }
    // Chest discomfort without a red flag is routine, with when to call 120.
    let v = triage(&app, json!({"complaint": "胸口有点闷，偶尔发作"}), None).await;
    assert_eq!(v["level"], "routine");
    assert_eq!(v["suggestions"][0]["specialty"], "cardiology");
    assert_eq!(v["cautions"][0]["rule"], "watch_chest");
    assert!(s(&v["advice"]).contains("120"));
    // The booking page takes the specialty.
    let page = app
        .client
        .get(format!("{}/booking?specialty=orthopedics", app.base))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success() || page.status().is_redirection());
}

#[tokio::test]
async fn complaints_are_bounded() {
    let app = spawn_app().await;
    let long = "头痛".repeat(501);
    let r = app
        .post("/api/v1/triage", None, &json!({"complaint": long}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "complaint_too_long").await;
    let r = app
        .post("/api/v1/triage", None, &json!({"complaint": "   "}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_field").await;
    let r = app
        .post("/api/v1/triage", None, &json!({"complaint": "🙂🙂 ？？"}))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "complaint_empty").await;
    let v = triage(
        &app,
        json!({"complaint": "😭胸口疼得厉害😭 sweating"}),
        None,
    )
    .await;
    assert_eq!(v["level"], "emergency");
}

#[tokio::test]
async fn a_consultation_is_refused_for_a_crisis_with_the_crisis_line() {
    let app = spawn_app().await;
    let patient = app.sign_up_patient("周宁").await;
    let r = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": "any", "complaint": "不想活了，想结束自己"}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "crisis_hotline").await;
    assert!(s(&body["message"]).contains("12356"), "{body}");
    let r = app
        .post(
            "/api/v1/consultations",
            Some(&patient.session),
            &json!({"doctor_id": "any", "complaint": "我妈血压180/110，头很痛"}),
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "emergency_call_120").await;
    assert!(s(&body["message"]).contains("120"), "{body}");
}
