use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_and_openapi_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let spec: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/v1/patients"]["post"].is_object());
    assert!(spec["paths"]["/api/v1/organisations/{id}/practitioners"]["get"].is_object());
}

#[tokio::test]
async fn responses_forbid_caching_and_foreign_scripts() {
    let app = spawn_app().await;
    let p = app.sign_up_patient("张三").await;
    let resp = app.get("/api/v1/me", Some(&p.session)).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert!(resp.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn pages_speak_chinese_by_default_and_english_on_request() {
    let app = spawn_app().await;
    let zh = app.get("/signup", None).await.text().await.unwrap();
    assert!(zh.contains("患者实名注册") && zh.contains("lang=\"zh-CN\""));
    let en = app.get("/signup?lang=en", None).await;
    assert!(
        en.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("ihos_lang=en")
    );
    assert!(
        en.text()
            .await
            .unwrap()
            .contains("Patient real-name sign-up")
    );
    let home = app.client.get(app.url("/home")).send().await.unwrap();
    assert!(
        home.url().path().ends_with("/login"),
        "home redirects to login when logged out"
    );
}

/// With a metrics token set, a scraper that presents a wrong token gets the
/// same 404 as a stranger; the local scraper without a token is served
/// (here 503: the test server installs no recorder).
#[tokio::test]
async fn metrics_refuse_a_wrong_token() {
    let app = spawn_app_with(|s| s.metrics_token = "scrape-key".to_string().into()).await;
    let wrong = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_error(wrong, StatusCode::NOT_FOUND, "not_found").await;
    let local = app.get("/metrics", None).await;
    assert_eq!(local.status(), StatusCode::SERVICE_UNAVAILABLE);
    let right = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth("scrape-key")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SERVICE_UNAVAILABLE);
}
