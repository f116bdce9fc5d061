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
    fixture_migrated(None).await
}

/// The fixture on a database migrated only up to `version` (an upgrade test
/// runs `store.migrate()` itself once its data is in place).
#[allow(dead_code)] // each test file compiles this module; only some use it
pub async fn fixture_before_upgrade(version: i64) -> Fixture {
    fixture_migrated(Some(version)).await
}

async fn fixture_migrated(up_to: Option<i64>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).await;
    let store = Store::connect(&url, 5).await.unwrap();
    match up_to {
        Some(version) => store.migrate_up_to(version).await.unwrap(),
        None => store.migrate().await.unwrap(),
    }
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
    let consultation_id = c::insert_consultation(
        &mut conn,
        &consultation(&patient_id, &p_acc, &d_acc, &org_id, "requested", 2000),
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
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(
            c::insert_consultation(
                &mut conn,
                &consultation(
                    &f.patient_id,
                    &requester,
                    &f.doctor_id,
                    &f.org_id,
                    "in_progress",
                    0,
                ),
            )
            .await
            .unwrap(),
        );
    }
    ids
}

/// A GP follow-up consultation between the fixture's kind of parties.
fn consultation(
    patient_id: &str,
    requester_id: &str,
    doctor_id: &str,
    org_id: &str,
    status: &str,
    fee_fen: i64,
) -> NewConsultation {
    let now = now_ms();
    NewConsultation {
        patient_id: patient_id.into(),
        requester_id: requester_id.into(),
        guardian_present: false,
        doctor_id: doctor_id.into(),
        org_id: org_id.into(),
        department_id: None,
        tier: "gp".into(),
        parent_id: None,
        status: status.into(),
        complaint: "复诊".into(),
        suggested_specialty: None,
        evidence_kind: None,
        evidence_ref: None,
        evidence_note: None,
        first_visit_pilot: false,
        appointment_id: None,
        subscription_id: None,
        fee_fen,
        created_at: now,
        expires_at: now + 60_000,
    }
}
