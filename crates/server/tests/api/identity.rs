use ihos_store::identity::Table;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_patient_signs_up_and_sees_only_masked_identity() {
    let app = spawn_app().await;
    let p = app.sign_up_patient("林秀英").await;
    let me: Value = app
        .get("/api/v1/me", Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "林秀英");
    let masked_phone = format!("{}****{}", &p.phone[..3], &p.phone[7..]);
    assert_eq!(me["phone_masked"], masked_phone);
    let rid = me["patient"]["resident_id_masked"].as_str().unwrap();
    assert_eq!(
        rid,
        format!("{}********{}", &p.resident_id[..6], &p.resident_id[14..])
    );
    assert!(!me.to_string().contains(&p.phone) && !me.to_string().contains(&p.resident_id));
    assert_eq!(me["roles"][0]["role"], "patient");
}

#[tokio::test]
async fn identity_numbers_and_phones_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let p = app.sign_up_patient("林秀英").await;
    let mut c = app.state.store.conn().await.unwrap();
    let row = ihos_store::identity::patient(&mut c, &p.patient_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.resident_id_enc.contains(&p.resident_id));
    assert!(!row.phone_enc.as_deref().unwrap().contains(&p.phone));
    assert_eq!(
        app.state.vault.decrypt(&row.resident_id_enc).as_deref(),
        Some(p.resident_id.as_str())
    );
    let acc = ihos_store::identity::account(&mut c, &p.session.account_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!acc.phone_enc.contains(&p.phone));
}

#[tokio::test]
async fn a_bad_check_digit_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let good = resident_id("19800101");
    let last = good.chars().last().unwrap();
    let bad = format!("{}{}", &good[..17], if last == '1' { '2' } else { '1' });
    let resp = app
        .sign_up(
            json!({"name": "张三", "resident_id": bad, "phone": phone(), "password": PASSWORD}),
        )
        .await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_resident_id").await;
    assert_eq!(body["field"], "resident_id");
    assert!(body["detail"].as_str().unwrap().contains("check digit"));
    assert_eq!(app.count(Table::Accounts).await, 0);
    assert_eq!(app.count(Table::Patients).await, 0);
}

#[tokio::test]
async fn a_duplicate_resident_id_is_refused_and_leaves_no_second_account() {
    let app = spawn_app().await;
    let first = app.sign_up_patient("张三").await;
    let resp = app
        .sign_up(json!({"name": "张三", "resident_id": first.resident_id, "phone": phone(), "password": PASSWORD}))
        .await;
    assert_error(resp, StatusCode::CONFLICT, "resident_id_taken").await;
    assert_eq!(
        app.count(Table::Accounts).await,
        1,
        "the second account was rolled back"
    );
    assert_eq!(app.count(Table::Patients).await, 1);
}

#[tokio::test]
async fn a_duplicate_phone_is_refused() {
    let app = spawn_app().await;
    let first = app.sign_up_patient("张三").await;
    let resp = app
        .sign_up(json!({"name": "李四", "resident_id": resident_id("19900101"), "phone": first.phone, "password": PASSWORD}))
        .await;
    assert_error(resp, StatusCode::CONFLICT, "phone_taken").await;
    assert_eq!(app.count(Table::Patients).await, 1);
}

#[tokio::test]
async fn weak_passwords_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    for weak in ["short1", "onlyletters", "password123"] {
        let resp = app
            .sign_up(json!({"name": "张三", "resident_id": resident_id("19800101"), "phone": phone(), "password": weak}))
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, "weak_password").await;
    }
    assert_eq!(app.count(Table::Accounts).await, 0);
}

#[tokio::test]
async fn malformed_or_incomplete_bodies_get_stable_codes() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/api/v1/patients"))
        .header("content-type", "application/json")
        .body("{\"name\": \"张三\",")
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::BAD_REQUEST, "malformed_json").await;

    let resp = app.sign_up(json!({"name": "张三"})).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;

    let resp = app
        .client
        .post(app.url("/api/v1/patients"))
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let resp = app.get("/api/v1/nothing-here", None).await;
    assert_error(resp, StatusCode::NOT_FOUND, "no_such_endpoint").await;
    assert_eq!(app.count(Table::Accounts).await, 0);
}

#[tokio::test]
async fn children_are_registered_by_a_guardian_not_by_themselves() {
    let app = spawn_app().await;
    let child_id = resident_id("20220418");
    let resp = app.sign_up(json!({"name": "赵小宇", "resident_id": child_id, "phone": phone(), "password": PASSWORD})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "guardian_required").await;

    let parent = app.sign_up_patient("赵磊").await;
    let resp = app
        .post(
            "/api/v1/me/dependants",
            Some(&parent.session),
            &json!({"name": "赵小宇", "resident_id": child_id, "relation": "father"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let child: Value = resp.json().await.unwrap();
    assert_eq!(child["has_own_account"], false);
    assert_eq!(child["guardian_relation"], "father");

    let read = app
        .get(
            &format!("/api/v1/patients/{}", s(&child["id"])),
            Some(&parent.session),
        )
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    let trail: Value = app
        .get(
            &format!("/api/v1/patients/{}/audit", s(&child["id"])),
            Some(&parent.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "patient.read" && e["ground"] == "guardian")
    );

    let adult = app
        .post(
            "/api/v1/me/dependants",
            Some(&parent.session),
            &json!({"name": "赵大", "resident_id": resident_id("19700101"), "relation": "father"}),
        )
        .await;
    assert_error(adult, StatusCode::BAD_REQUEST, "not_a_minor").await;
    let stranger = app.sign_up_patient("孙婷").await;
    let resp = app
        .get(
            &format!("/api/v1/patients/{}", s(&child["id"])),
            Some(&stranger.session),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn login_logout_and_wrong_password() {
    let app = spawn_app().await;
    let p = app.sign_up_patient("张三").await;
    let resp = app.login(&p.phone, "Wrong-pass-1").await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = app.login("13912345678", PASSWORD).await;
    assert_error(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let resp = app.login(&p.phone, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let session = Session {
        token: s(&resp.json::<Value>().await.unwrap()["token"]),
        account_id: String::new(),
    };
    assert_eq!(
        app.get("/api/v1/me", Some(&session)).await.status(),
        StatusCode::OK
    );
    let out = app
        .client
        .delete(app.url("/api/v1/sessions/current"))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get("/api/v1/me", Some(&session)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn logins_are_rate_limited_per_phone() {
    let app = spawn_app_with(|s| s.login_max_failures = 3).await;
    let p = app.sign_up_patient("张三").await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&p.phone, "Wrong-pass-1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let resp = app.login(&p.phone, PASSWORD).await;
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let other = app.sign_up_patient("李四").await;
    assert_eq!(
        app.login(&other.phone, PASSWORD).await.status(),
        StatusCode::OK,
        "other phones are unaffected"
    );
}

#[tokio::test]
async fn a_patient_record_read_is_authorised_by_relationship_and_audited() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let hospital = app.hospital(&admin, "甲医院").await;
    let org_admin = app.org_admin(&admin, &hospital).await;
    let (doctor_id, doctor_phone) = app.doctor(&org_admin, &hospital, "2005-07-01").await;
    let doctor = app.login_ok(&doctor_phone).await;
    let p = app.sign_up_patient("林秀英").await;
    let path = format!("/api/v1/patients/{}", p.patient_id);

    assert_error(
        app.get(&path, Some(&doctor)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&path, Some(&org_admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let mut c = app.state.store.conn().await.unwrap();
    let now = ihos_store::now_ms();
    ihos_store::identity::insert_care_relationship(
        &mut c,
        &p.patient_id,
        &doctor_id,
        &hospital,
        "consultation",
        now - 1000,
        now + 3_600_000,
    )
    .await
    .unwrap();
    let resp = app.get(&path, Some(&doctor)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["name"], "林秀英");

    let trail: Value = app
        .get(&format!("{path}/audit"), Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    let entries = trail.as_array().unwrap();
    let read = entries
        .iter()
        .find(|e| e["action"] == "patient.read" && e["actor_id"] == doctor_id.as_str())
        .expect("the doctor's read is in the audit log");
    assert_eq!(read["ground"], "treating_practitioner");
    assert!(read["actor_roles"].as_str().unwrap().contains("doctor"));
    let denied = entries
        .iter()
        .filter(|e| e["action"] == "patient.read.denied")
        .count();
    assert_eq!(
        denied, 2,
        "the refused doctor and org admin attempts are recorded too"
    );
    assert_error(
        app.get(&format!("{path}/audit"), Some(&doctor)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_audit_log_holds_no_patient_data() {
    let app = spawn_app().await;
    let p = app.sign_up_patient("林秀英").await;
    app.get(
        &format!("/api/v1/patients/{}", p.patient_id),
        Some(&p.session),
    )
    .await;
    let mut c = app.state.store.conn().await.unwrap();
    let rows = ihos_store::audit::trail(&mut c, "patient", &p.patient_id, 100)
        .await
        .unwrap();
    assert!(rows.len() >= 2);
    let dump = format!("{rows:?}");
    assert!(!dump.contains(&p.phone) && !dump.contains(&p.resident_id) && !dump.contains("林秀英"));
}
