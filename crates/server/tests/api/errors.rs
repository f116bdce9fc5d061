//! Error bodies: the code's text in the caller's language, the call site's
//! facts as `detail`, the same code and field whatever the language.

use ihos_domain::ErrorCode;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A sign-up whose resident ID number has a wrong check digit, with extra headers.
async fn bad_sign_up(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let good = resident_id("19900101");
    let last = good.chars().last().unwrap();
    let bad = format!("{}{}", &good[..17], if last == '1' { '2' } else { '1' });
    let mut req = app
        .client
        .post(app.url("/api/v1/patients"))
        .json(&json!({"name": "张三", "resident_id": bad, "phone": phone(), "password": PASSWORD}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    assert_error(
        req.send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_resident_id",
    )
    .await
}

#[tokio::test]
async fn the_same_error_answers_in_chinese_by_default_and_in_english_when_asked() {
    let app = spawn_app().await;
    let zh = ErrorCode::InvalidResidentId.zh();
    let en = ErrorCode::InvalidResidentId.en();

    let plain = bad_sign_up(&app, &[]).await;
    assert_eq!(plain["message"], zh, "{plain}");
    let chinese_first = bad_sign_up(&app, &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")]).await;
    assert_eq!(chinese_first["message"], zh, "{chinese_first}");

    let english = bad_sign_up(&app, &[("accept-language", "en-GB,en;q=0.9")]).await;
    assert_eq!(english["message"], en, "{english}");
    // The page's language cookie outranks the browser's list, either way.
    let cookie_en = bad_sign_up(
        &app,
        &[
            ("accept-language", "zh-CN"),
            ("cookie", "a=1; ihos_lang=en"),
        ],
    )
    .await;
    assert_eq!(cookie_en["message"], en, "{cookie_en}");
    let cookie_zh = bad_sign_up(
        &app,
        &[("accept-language", "en-US"), ("cookie", "ihos_lang=zh-CN")],
    )
    .await;
    assert_eq!(cookie_zh["message"], zh, "{cookie_zh}");

    // Code, field and the call site's facts do not depend on the language.
    for body in [&plain, &english, &cookie_en] {
        assert_eq!(body["field"], "resident_id");
        assert!(s(&body["detail"]).contains("check digit"), "{body}");
    }
    assert_eq!(plain["detail"], english["detail"]);
}

#[tokio::test]
async fn an_error_whose_sentence_is_its_text_has_no_detail() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/api/v1/no-such-thing"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, StatusCode::NOT_FOUND, "no_such_endpoint").await;
    assert_eq!(body["message"], ErrorCode::NoSuchEndpoint.en());
    assert!(body.get("detail").is_none(), "{body}");
    // An English body is well-formed JSON with a correct length (rewritten by the layer).
    let resp = app
        .client
        .post(app.url("/api/v1/patients"))
        .header("accept-language", "en")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "malformed_json").await;
    assert_eq!(body["message"], ErrorCode::MalformedJson.en());
}
