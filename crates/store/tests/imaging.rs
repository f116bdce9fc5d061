//! Imaging storage contract, on SQLite and (with `IHOS_TEST_PG`) PostgreSQL:
//! idempotent instance storage with counters, visibility through consent,
//! one-time codes and reports that cannot change once signed.

use ihos_store::imaging::{self as im, NewInstance, NewSeries, NewStudy, Reader, StudyQuery};
use ihos_store::{AnyConnection, Store, StoreError, identity, now_ms, org, testing};

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

async fn hospital(conn: &mut AnyConnection, name: &str) -> String {
    org::insert_org(
        conn,
        &org::NewOrg {
            name: name.into(),
            kind: "hospital".into(),
            level: None,
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await
    .unwrap()
}

async fn account(conn: &mut AnyConnection, n: u32) -> String {
    identity::insert_account(
        conn,
        &identity::NewAccount {
            display_name: format!("用户{n}"),
            phone_enc: format!("enc-{n}"),
            phone_hash: format!("hash-{n}"),
            password_hash: "x".into(),
        },
    )
    .await
    .unwrap()
}

fn study(uid: &str, org_id: &str, patient: Option<&str>) -> NewStudy {
    NewStudy {
        study_uid: uid.into(),
        org_id: org_id.into(),
        patient_id: patient.map(str::to_string),
        link_status: if patient.is_some() {
            "linked"
        } else {
            "review"
        }
        .into(),
        link_issue: None,
        dicom_patient_id: "P1".into(),
        dicom_patient_id_hash: "h-P1".into(),
        dicom_patient_name: "Lin^Xiuying".into(),
        study_date: "20261118".into(),
        study_time: "093000".into(),
        accession_number: "A1".into(),
        description: "CT".into(),
        referring_physician: String::new(),
        order_ref: None,
    }
}

fn series(uid: &str, modality: &str) -> NewSeries {
    NewSeries {
        series_uid: uid.into(),
        modality: modality.into(),
        series_number: Some(1),
        description: String::new(),
    }
}

fn instance(uid: &str) -> NewInstance {
    NewInstance {
        sop_uid: uid.into(),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        instance_number: Some(1),
        transfer_syntax: "1.2.840.10008.1.2.1".into(),
        rows: Some(64),
        columns: Some(64),
        frames: 1,
        blob_key: format!("dicom/{uid}.dcm"),
        size_bytes: 100,
        metadata: "{}".into(),
    }
}

#[tokio::test]
async fn instances_are_stored_once_and_counted() {
    let db = fresh().await;
    let mut c = db.store.conn().await.unwrap();
    let h = hospital(&mut c, "医院甲").await;
    let s = study("1.2.3", &h, None);
    let r = im::store_instance(&mut c, &s, &series("1.2.3.1", "CT"), &instance("1.2.3.1.1"))
        .await
        .unwrap();
    assert!(matches!(r, im::Stored::New { .. }));
    let again = im::store_instance(&mut c, &s, &series("1.2.3.1", "CT"), &instance("1.2.3.1.1"))
        .await
        .unwrap();
    assert!(matches!(again, im::Stored::Existing { .. }));
    im::store_instance(&mut c, &s, &series("1.2.3.2", "SR"), &instance("1.2.3.2.1"))
        .await
        .unwrap();
    im::store_instance(&mut c, &s, &series("1.2.3.1", "CT"), &instance("1.2.3.1.2"))
        .await
        .unwrap();
    assert_eq!(im::counts(&mut c).await.unwrap(), (1, 2, 3));
    let rows = im::search_studies(
        &mut c,
        &Reader::All,
        &StudyQuery {
            modality: Some("SR".into()),
            limit: 10,
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].study.modalities, "CT,SR");
    assert_eq!(rows[0].study.num_series, 2);
    assert_eq!(rows[0].study.num_instances, 3);

    // Another organisation cannot add to this study.
    let other = hospital(&mut c, "医院乙").await;
    let e = im::store_instance(
        &mut c,
        &study("1.2.3", &other, None),
        &series("1.2.3.9", "CT"),
        &instance("1.2.3.9.1"),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate { .. }));
}

async fn visible(c: &mut AnyConnection, who: &str) -> Vec<im::VisibleStudy> {
    let q = StudyQuery {
        limit: 10,
        ..Default::default()
    };
    im::search_studies(c, &Reader::Account(who), &q, now_ms())
        .await
        .unwrap()
}

#[tokio::test]
async fn consents_open_studies_until_revoked_or_expired_and_codes_work_once() {
    let db = fresh().await;
    let mut c = db.store.conn().await.unwrap();
    let h = hospital(&mut c, "医院甲").await;
    let patient_account = account(&mut c, 1).await;
    let doctor = account(&mut c, 2).await;
    let patient = identity::insert_patient(
        &mut c,
        Some(&patient_account),
        &identity::NewPatient {
            name: "林秀英".into(),
            resident_id_enc: "enc".into(),
            resident_id_hash: "rid-hash".into(),
            resident_id_masked: "330102********024X".into(),
            birth_date: "1958-03-12".into(),
            sex: "female".into(),
            phone_enc: None,
            guardian_account_id: None,
            guardian_relation: None,
        },
    )
    .await
    .unwrap();
    im::store_instance(
        &mut c,
        &study("9.8.7", &h, Some(&patient)),
        &series("9.8.7.1", "CT"),
        &instance("9.8.7.1.1"),
    )
    .await
    .unwrap();
    assert_eq!(visible(&mut c, &doctor).await.len(), 0);
    let mine = visible(&mut c, &patient_account).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].is_self, 1);

    let consent = im::insert_consent(
        &mut c,
        &patient,
        None,
        &doctor,
        &patient_account,
        now_ms() + 60_000,
    )
    .await
    .unwrap();
    let seen = visible(&mut c, &doctor).await;
    assert_eq!((seen.len(), seen[0].consented, seen[0].at_org), (1, 1, 0));
    assert!(
        im::revoke_consent(&mut c, &consent, &doctor)
            .await
            .unwrap()
            .is_none(),
        "only the patient revokes"
    );
    assert_eq!(
        im::revoke_consent(&mut c, &consent, &patient_account)
            .await
            .unwrap()
            .as_deref(),
        Some(patient.as_str())
    );
    assert_eq!(visible(&mut c, &doctor).await.len(), 0);
    let expiring = im::insert_consent(
        &mut c,
        &patient,
        None,
        &doctor,
        &patient_account,
        now_ms() + 60_000,
    )
    .await
    .unwrap();
    im::set_consent_expiry(&mut c, &expiring, now_ms() - 1)
        .await
        .unwrap();
    assert_eq!(visible(&mut c, &doctor).await.len(), 0);

    // One-time code.
    let s = im::search_studies(
        &mut c,
        &Reader::All,
        &StudyQuery {
            limit: 1,
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap();
    let link = im::insert_link(
        &mut c,
        "tok-hash",
        &s[0].study.id,
        &patient,
        now_ms() + 60_000,
    )
    .await
    .unwrap();
    let now = now_ms();
    im::insert_code(&mut c, &link, "code-hash", now, now + 60_000)
        .await
        .unwrap();
    assert!(
        !im::consume_code(&mut c, &link, "wrong", 5, now)
            .await
            .unwrap()
    );
    assert!(
        im::consume_code(&mut c, &link, "code-hash", 5, now)
            .await
            .unwrap()
    );
    assert!(
        !im::consume_code(&mut c, &link, "code-hash", 5, now)
            .await
            .unwrap()
    );
    assert_eq!(
        im::code_times(&mut c, &link, now - 1).await.unwrap().len(),
        1
    );

    // A signed report does not change.
    let sid = s[0].study.id.clone();
    assert!(
        im::save_report(&mut c, &sid, &doctor, "所见", "意见", false)
            .await
            .unwrap()
    );
    assert!(
        im::save_report(&mut c, &sid, &doctor, "所见2", "意见2", true)
            .await
            .unwrap()
    );
    assert!(
        !im::save_report(&mut c, &sid, &doctor, "改", "改", true)
            .await
            .unwrap()
    );
    let r = im::report_of(&mut c, &sid).await.unwrap().unwrap();
    assert_eq!((r.findings.as_str(), r.status.as_str()), ("所见2", "final"));
}
