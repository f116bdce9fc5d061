//! The storage contract: the same assertions on SQLite (default) and on
//! PostgreSQL (`IHOS_TEST_PG=postgres://.../test`).

use ihos_store::identity::{self, NewAccount, NewAffiliation, NewPatient, NewPractitioner, Table};
use ihos_store::{Store, now_ms};
use ihos_store::{StoreError, audit, org, session, testing};

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fresh() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).await;
    let store = Store::connect(&url, 5).await.unwrap();
    store.migrate().await.unwrap();
    Db { store, _dir: dir }
}

fn account(n: u32) -> NewAccount {
    NewAccount {
        display_name: format!("用户{n}"),
        phone_enc: format!("enc-phone-{n}"),
        phone_hash: format!("phone-hash-{n}"),
        password_hash: "argon2-hash".into(),
    }
}

fn patient(n: u32) -> NewPatient {
    NewPatient {
        name: "张三".into(),
        resident_id_enc: format!("enc-id-{n}"),
        resident_id_hash: format!("id-hash-{n}"),
        resident_id_masked: "110105********002X".into(),
        birth_date: "1949-12-31".into(),
        sex: "female".into(),
        phone_enc: Some(format!("enc-phone-{n}")),
        guardian_account_id: None,
        guardian_relation: None,
    }
}

async fn hospital(conn: &mut ihos_store::AnyConnection, name: &str) -> String {
    org::insert_org(
        conn,
        &org::NewOrg {
            name: name.into(),
            kind: "hospital".into(),
            level: Some("三级甲等".into()),
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_apply_twice_without_harm() {
    let db = fresh().await;
    db.store.migrate().await.unwrap();
    db.store.ping().await.unwrap();
}

#[tokio::test]
async fn an_account_is_found_by_its_phone_hash_and_duplicates_are_named() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let id = identity::insert_account(&mut c, &account(1)).await.unwrap();
    let found = identity::account_by_phone_hash(&mut c, "phone-hash-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id);
    assert_eq!(found.display_name, "用户1");
    let err = identity::insert_account(&mut c, &account(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { ref what } if what == "phone_hash"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failed_transaction_leaves_nothing_behind() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let first = identity::insert_account(&mut c, &account(1)).await.unwrap();
    identity::insert_patient(&mut c, Some(&first), &patient(1))
        .await
        .unwrap();

    let mut tx = db.store.begin().await.unwrap();
    let second = identity::insert_account(&mut tx, &account(2))
        .await
        .unwrap();
    let err = identity::insert_patient(&mut tx, Some(&second), &patient(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { ref what } if what == "resident_id_hash"),
        "{err:?}"
    );
    tx.rollback().await.unwrap();

    assert_eq!(
        identity::count_rows(&mut c, Table::Accounts).await.unwrap(),
        1
    );
    assert_eq!(
        identity::count_rows(&mut c, Table::Patients).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn roles_and_dependants_round_trip() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let guardian = identity::insert_account(&mut c, &account(1)).await.unwrap();
    identity::grant_role(&mut c, &guardian, "patient", "")
        .await
        .unwrap();
    identity::grant_role(&mut c, &guardian, "patient", "")
        .await
        .unwrap();
    let roles = identity::roles_of(&mut c, &guardian).await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].role, "patient");

    let mut child = patient(2);
    child.guardian_account_id = Some(guardian.clone());
    child.guardian_relation = Some("mother".into());
    child.phone_enc = None;
    let child_id = identity::insert_patient(&mut c, None, &child)
        .await
        .unwrap();
    let deps = identity::dependants_of(&mut c, &guardian).await.unwrap();
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0].id, child_id);
    assert_eq!(deps[0].account_id, None);
    assert_eq!(deps[0].phone_enc, None);
}

#[tokio::test]
async fn practitioners_work_at_several_organisations() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let a = hospital(&mut c, "甲医院").await;
    let b = hospital(&mut c, "乙医院").await;
    let dept = org::insert_department(&mut c, &a, "心内科", "cardiology")
        .await
        .unwrap();
    let admin = identity::insert_account(&mut c, &account(9)).await.unwrap();
    let doc = identity::insert_account(&mut c, &account(1)).await.unwrap();
    let new = NewPractitioner {
        role: "doctor".into(),
        title: "chief_physician".into(),
        licence_no: "110330000123456".into(),
        practising_since: "2005-07-01".into(),
        created_by: admin.clone(),
        affiliations: vec![
            NewAffiliation {
                org_id: a.clone(),
                department_id: Some(dept),
                is_primary: true,
            },
            NewAffiliation {
                org_id: b.clone(),
                department_id: None,
                is_primary: false,
            },
        ],
    };
    identity::insert_practitioner(&mut c, &doc, "王医生", &new)
        .await
        .unwrap();
    assert_eq!(
        identity::practitioners_of_org(&mut c, &a)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        identity::practitioners_of_org(&mut c, &b)
            .await
            .unwrap()
            .len(),
        1
    );
    let affs = identity::affiliations_of(&mut c, &doc).await.unwrap();
    assert_eq!(affs.len(), 2);
    assert_eq!(affs[0].org_name, "甲医院");
    assert_eq!(affs[0].department_name.as_deref(), Some("心内科"));
    let scopes: Vec<_> = identity::roles_of(&mut c, &doc)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.scope_id)
        .collect();
    assert!(scopes.contains(&a) && scopes.contains(&b));

    let other = identity::insert_account(&mut c, &account(2)).await.unwrap();
    let err = identity::insert_practitioner(
        &mut c,
        &other,
        "李医生",
        &NewPractitioner {
            affiliations: vec![],
            ..new
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { ref what } if what == "licence_no"),
        "{err:?}"
    );
}

#[tokio::test]
async fn organisation_directory_filters_by_kind_and_city() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let lead = hospital(&mut c, "杭州市第一人民医院").await;
    let chc = org::insert_org(
        &mut c,
        &org::NewOrg {
            name: "湖滨街道社区卫生服务中心".into(),
            kind: "community_health_centre".into(),
            level: None,
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(org::list_orgs(&mut c, None, None).await.unwrap().len(), 2);
    assert_eq!(
        org::list_orgs(&mut c, Some("hospital"), None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        org::list_orgs(&mut c, None, Some("宁波市"))
            .await
            .unwrap()
            .len(),
        0
    );
    let cons = org::insert_consortium(&mut c, "杭州城东医联体", &lead)
        .await
        .unwrap();
    org::add_member(&mut c, &cons, &chc).await.unwrap();
    org::add_member(&mut c, &cons, &chc).await.unwrap();
    assert_eq!(org::members_of(&mut c, &cons).await.unwrap().len(), 2);
    assert_eq!(org::consortia_of(&mut c, &chc).await.unwrap()[0].id, cons);
    let err = org::insert_department(&mut c, &lead, "儿科", "pediatrics")
        .await
        .and(org::insert_department(&mut c, &lead, "儿科", "pediatrics").await);
    assert!(matches!(err, Err(StoreError::Duplicate { .. })));
}

#[tokio::test]
async fn sessions_expire_and_failures_reset_after_success() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let acc = identity::insert_account(&mut c, &account(1)).await.unwrap();
    let now = now_ms();
    session::insert_session(&mut c, "tok", &acc, now, now + 1000)
        .await
        .unwrap();
    assert_eq!(
        session::session_account(&mut c, "tok", now).await.unwrap(),
        Some(acc.clone())
    );
    assert_eq!(
        session::session_account(&mut c, "tok", now + 1000)
            .await
            .unwrap(),
        None
    );
    session::delete_session(&mut c, "tok").await.unwrap();
    assert_eq!(
        session::session_account(&mut c, "tok", now).await.unwrap(),
        None
    );

    for i in 0..3 {
        session::record_login_attempt(&mut c, "k", now + i, false)
            .await
            .unwrap();
    }
    assert_eq!(
        session::failures_since(&mut c, "k", now - 1).await.unwrap(),
        3
    );
    session::record_login_attempt(&mut c, "k", now + 10, true)
        .await
        .unwrap();
    session::record_login_attempt(&mut c, "k", now + 11, false)
        .await
        .unwrap();
    assert_eq!(
        session::failures_since(&mut c, "k", now - 1).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn audit_trail_lists_newest_first_and_care_relationships_expire() {
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let acc = identity::insert_account(&mut c, &account(1)).await.unwrap();
    let pid = identity::insert_patient(&mut c, Some(&acc), &patient(1))
        .await
        .unwrap();
    for action in ["patient.read", "patient.update"] {
        audit::record(
            &mut c,
            &audit::AuditEntry {
                actor_id: Some(&acc),
                actor_roles: "patient",
                action,
                subject_type: "patient",
                subject_id: &pid,
                ground: "self",
                org_id: None,
                request_id: None,
            },
        )
        .await
        .unwrap();
    }
    let trail = audit::trail(&mut c, "patient", &pid, 10).await.unwrap();
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[0].action, "patient.update");

    let doc = identity::insert_account(&mut c, &account(2)).await.unwrap();
    let h = hospital(&mut c, "甲医院").await;
    identity::insert_care_relationship(&mut c, &pid, &doc, &h, "consultation", 100, 200)
        .await
        .unwrap();
    assert!(
        identity::is_treating(&mut c, &pid, &doc, 150)
            .await
            .unwrap()
    );
    assert!(
        !identity::is_treating(&mut c, &pid, &doc, 200)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn behaviour_events_page_in_time_order() {
    use ihos_store::events;
    let db = fresh().await;
    let mut c = db.store.pool().acquire().await.unwrap();
    let h = hospital(&mut c, "甲医院").await;
    let dept = org::insert_department(&mut c, &h, "心内科", "cardiology")
        .await
        .unwrap();
    for kind in [events::BROWSE, events::SERVICE, events::REVIEW] {
        let rating = (kind == events::REVIEW).then_some(5);
        events::record(
            &mut c,
            &events::NewEvent {
                kind,
                org_id: &h,
                department_id: Some(&dept),
                practitioner_id: None,
                rating,
            },
        )
        .await
        .unwrap();
    }
    let first = events::page_after(&mut c, 0, "", 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let last = first.last().unwrap();
    let rest = events::page_after(&mut c, last.at, &last.id, 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].rating, Some(5));
    let dims = events::department_dims(&mut c).await.unwrap();
    assert_eq!(
        (dims[0].department_name.as_str(), dims[0].org_name.as_str()),
        ("心内科", "甲医院")
    );
}
