//! The fixture the storage contract tests share: a fresh database (SQLite
//! file, or PostgreSQL with `IHOS_TEST_PG`) holding one hospital, a doctor,
//! a patient and a requested consultation between them.

use ihos_store::consultation::{self as c, NewConsultation};
use ihos_store::identity::{self, NewAccount, NewPatient, NewPractitioner};
use ihos_store::{Store, now_ms, org, testing};

pub struct Fixture {
    pub store: Store,
    pub consultation_id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub org_id: String,
    _dir: tempfile::TempDir,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).await;
    let store = Store::connect(&url, 5).await.unwrap();
    store.migrate().await.unwrap();
    let mut conn = store.conn().await.unwrap();
    let acct = |n: &str| NewAccount {
        display_name: n.into(),
        phone_enc: format!("enc-{n}"),
        phone_hash: format!("hash-{n}"),
        password_hash: "h".into(),
    };
    let p_acc = identity::insert_account(&mut conn, &acct("p"))
        .await
        .unwrap();
    let d_acc = identity::insert_account(&mut conn, &acct("d"))
        .await
        .unwrap();
    let org_id = org::insert_org(
        &mut conn,
        &org::NewOrg {
            name: "医院".into(),
            kind: "hospital".into(),
            level: Some("三级甲等".into()),
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await
    .unwrap();
    identity::insert_practitioner(
        &mut conn,
        &d_acc,
        "王医生",
        &NewPractitioner {
            role: "doctor".into(),
            title: "attending_physician".into(),
            licence_no: "L1".into(),
            practising_since: "2010-01-01".into(),
            created_by: d_acc.clone(),
            affiliations: vec![],
        },
    )
    .await
    .unwrap();
    let patient_id = identity::insert_patient(
        &mut conn,
        Some(&p_acc),
        &NewPatient {
            name: "张三".into(),
            resident_id_enc: "e".into(),
            resident_id_hash: "h".into(),
            resident_id_masked: "m".into(),
            birth_date: "1980-01-01".into(),
            sex: "male".into(),
            phone_enc: None,
            guardian_account_id: None,
            guardian_relation: None,
        },
    )
    .await
    .unwrap();
    let now = now_ms();
    let consultation_id = c::insert_consultation(
        &mut conn,
        &NewConsultation {
            patient_id: patient_id.clone(),
            requester_id: p_acc,
            guardian_present: false,
            doctor_id: d_acc.clone(),
            org_id: org_id.clone(),
            department_id: None,
            tier: "gp".into(),
            parent_id: None,
            status: "requested".into(),
            complaint: "复诊".into(),
            suggested_specialty: None,
            evidence_kind: None,
            evidence_ref: None,
            evidence_note: None,
            first_visit_pilot: false,
            appointment_id: None,
            subscription_id: None,
            fee_fen: 2000,
            created_at: now,
            expires_at: now + 60_000,
        },
    )
    .await
    .unwrap();
    drop(conn);
    Fixture {
        store,
        consultation_id,
        patient_id,
        doctor_id: d_acc,
        org_id,
        _dir: dir,
    }
}

/// `n` more consultations between the fixture's patient and doctor, already
/// in progress (open for chat); answers their ids.
#[allow(dead_code)] // each test file compiles this module; only some use it
pub async fn open_consultations(f: &Fixture, n: usize) -> Vec<String> {
    let mut conn = f.store.conn().await.unwrap();
    let requester = identity::patient(&mut conn, &f.patient_id)
        .await
        .unwrap()
        .unwrap()
        .account_id
        .unwrap();
    let now = now_ms();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(
            c::insert_consultation(
                &mut conn,
                &NewConsultation {
                    patient_id: f.patient_id.clone(),
                    requester_id: requester.clone(),
                    guardian_present: false,
                    doctor_id: f.doctor_id.clone(),
                    org_id: f.org_id.clone(),
                    department_id: None,
                    tier: "gp".into(),
                    parent_id: None,
                    status: "in_progress".into(),
                    complaint: "复诊".into(),
                    suggested_specialty: None,
                    evidence_kind: None,
                    evidence_ref: None,
                    evidence_note: None,
                    first_visit_pilot: false,
                    appointment_id: None,
                    subscription_id: None,
                    fee_fen: 0,
                    created_at: now,
                    expires_at: now + 60_000,
                },
            )
            .await
            .unwrap(),
        );
    }
    ids
}
