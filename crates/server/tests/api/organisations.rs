use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn an_org_admin_cannot_read_or_change_another_orgs_staff() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let a = app.hospital(&admin, "甲医院").await;
    let b = app.hospital(&admin, "乙医院").await;
    let admin_a = app.org_admin(&admin, &a).await;
    let admin_b = app.org_admin(&admin, &b).await;
    app.doctor(&admin_b, &b, "2010-07-01").await;

    let own = app
        .get(
            &format!("/api/v1/organisations/{a}/practitioners"),
            Some(&admin_a),
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app
        .get(
            &format!("/api/v1/organisations/{b}/practitioners"),
            Some(&admin_a),
        )
        .await;
    assert_error(other, StatusCode::NOT_FOUND, "not_found").await;
    let staff: Value = app
        .get(
            &format!("/api/v1/organisations/{b}/practitioners"),
            Some(&admin_b),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff.as_array().unwrap().len(), 1);
    assert!(staff[0]["phone_masked"].as_str().unwrap().contains("****"));

    let resp = app
        .post(
            &format!("/api/v1/organisations/{b}/departments"),
            Some(&admin_a),
            &json!({"name": "儿科", "specialty": "pediatrics"}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .post(
            &format!("/api/v1/organisations/{b}/practitioners"),
            Some(&admin_a),
            &json!({"name": "李医生", "phone": phone(), "password": PASSWORD, "title": "主治医师", "licence_no": "110330999999999", "practising_since": "2015-01-01"}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn departments_map_to_one_of_the_36_specialties() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let h = app.hospital(&admin, "甲医院").await;
    let org_admin = app.org_admin(&admin, &h).await;
    let specialties: Value = app
        .get("/api/v1/specialties", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(specialties.as_array().unwrap().len(), 36);

    let path = format!("/api/v1/organisations/{h}/departments");
    let ok = app
        .post(
            &path,
            Some(&org_admin),
            &json!({"name": "小儿内科", "specialty": "儿科"}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(ok.json::<Value>().await.unwrap()["specialty"], "pediatrics");
    let bad = app
        .post(
            &path,
            Some(&org_admin),
            &json!({"name": "玄学科", "specialty": "astrology"}),
        )
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_specialty").await;
    let dup = app
        .post(
            &path,
            Some(&org_admin),
            &json!({"name": "小儿内科", "specialty": "pediatrics"}),
        )
        .await;
    assert_error(dup, StatusCode::CONFLICT, "name_taken").await;

    let detail: Value = app
        .get(&format!("/api/v1/organisations/{h}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["departments"].as_array().unwrap().len(), 1);
    assert_eq!(detail["level"], "三级甲等");
}

#[tokio::test]
async fn only_platform_admins_register_organisations_and_input_is_checked() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let patient = app.sign_up_patient("张三").await;
    let body = json!({"name": "丙医院", "kind": "hospital", "level": "三级甲等", "province": "浙江省", "city": "杭州市"});
    assert_error(
        app.post("/api/v1/organisations", Some(&patient.session), &body)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.post("/api/v1/organisations", None, &body).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let no_level =
        json!({"name": "丁医院", "kind": "hospital", "province": "浙江省", "city": "杭州市"});
    assert_error(
        app.post("/api/v1/organisations", Some(&admin), &no_level)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_hospital_level",
    )
    .await;
    let bad_kind = json!({"name": "戊", "kind": "spa", "province": "浙江省", "city": "杭州市"});
    assert_error(
        app.post("/api/v1/organisations", Some(&admin), &bad_kind)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_org_kind",
    )
    .await;
    assert_eq!(
        app.post("/api/v1/organisations", Some(&admin), &body)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_error(
        app.post("/api/v1/organisations", Some(&admin), &body).await,
        StatusCode::CONFLICT,
        "name_taken",
    )
    .await;

    let listed: Value = app
        .get("/api/v1/organisations?kind=hospital", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_error(
        app.get("/api/v1/organisations?kind=spa", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_org_kind",
    )
    .await;
}

#[tokio::test]
async fn practitioners_carry_licence_title_and_work_at_several_sites() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let h = app.hospital(&admin, "甲医院").await;
    let chc = app
        .post(
            "/api/v1/organisations",
            Some(&admin),
            &json!({"name": "湖滨街道社区卫生服务中心", "kind": "community_health_centre", "province": "浙江省", "city": "杭州市"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let chc = s(&chc["id"]);
    let admin_h = app.org_admin(&admin, &h).await;
    let admin_chc = app.org_admin(&admin, &chc).await;

    let path = format!("/api/v1/organisations/{h}/practitioners");
    let base = json!({"name": "陈医生", "phone": phone(), "password": PASSWORD, "title": "住院医师", "licence_no": "110330555555555", "practising_since": "2025-07-01"});
    let resp = app.post(&path, Some(&admin_h), &base).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["title_label"], "住院医师");
    assert_eq!(doc["role"], "doctor");
    assert_eq!(
        doc["may_practise_online"], false,
        "under 3 years of independent practice"
    );

    let mut bad = base.clone();
    bad["title"] = json!("教授");
    bad["phone"] = json!(phone());
    assert_error(
        app.post(&path, Some(&admin_h), &bad).await,
        StatusCode::BAD_REQUEST,
        "invalid_title",
    )
    .await;
    let mut future = base.clone();
    future["practising_since"] = json!("2999-01-01");
    future["phone"] = json!(phone());
    assert_error(
        app.post(&path, Some(&admin_h), &future).await,
        StatusCode::BAD_REQUEST,
        "invalid_date",
    )
    .await;
    let mut dup = base.clone();
    dup["phone"] = json!(phone());
    assert_error(
        app.post(&path, Some(&admin_h), &dup).await,
        StatusCode::CONFLICT,
        "licence_taken",
    )
    .await;
    assert_eq!(
        app.count(ihos_store::identity::Table::Practitioners).await,
        1
    );

    let resp = app
        .post(
            &format!("/api/v1/organisations/{chc}/affiliations"),
            Some(&admin_chc),
            &json!({"licence_no": "110330555555555"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let profile: Value = app
        .get(&format!("/api/v1/practitioners/{}", s(&doc["id"])), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["affiliations"].as_array().unwrap().len(), 2);
    assert_eq!(profile["affiliations"][0]["is_primary"], true);
    let again = app
        .post(
            &format!("/api/v1/organisations/{chc}/affiliations"),
            Some(&admin_chc),
            &json!({"licence_no": "110330555555555"}),
        )
        .await;
    assert_error(again, StatusCode::BAD_REQUEST, "already_affiliated").await;
}

#[tokio::test]
async fn consortia_gather_member_organisations() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let lead = app.hospital(&admin, "甲医院").await;
    let resp = app
        .post(
            "/api/v1/consortia",
            Some(&admin),
            &json!({"name": "城东医联体", "lead_org_id": lead}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let c: Value = resp.json().await.unwrap();
    let other = app.hospital(&admin, "乙医院").await;
    let resp = app
        .post(
            &format!("/api/v1/consortia/{}/members", s(&c["id"])),
            Some(&admin),
            &json!({"org_id": other}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let unknown = app
        .post(
            &format!("/api/v1/consortia/{}/members", s(&c["id"])),
            Some(&admin),
            &json!({"org_id": "nope"}),
        )
        .await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "unknown_org").await;
}
