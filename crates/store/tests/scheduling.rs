//! Storage contract for scheduling, on SQLite and PostgreSQL: seats are taken
//! atomically, the per-day counter bounds bookings, the unique
//! (patient, start) index refuses a second booking at one time.

use ihos_store::identity::{self, NewAccount, NewAffiliation, NewPatient, NewPractitioner};
use ihos_store::scheduling::{self as sched, NewAppointment, NewSlot};
use ihos_store::{AnyConnection, Store, now_ms, org, testing};

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fresh() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).await;
    let store = Store::connect(&url, 8).await.unwrap();
    store.migrate().await.unwrap();
    Db { store, _dir: dir }
}

async fn account(conn: &mut AnyConnection, n: u32) -> String {
    identity::insert_account(
        conn,
        &NewAccount {
            display_name: format!("用户{n}"),
            phone_enc: format!("enc-{n}"),
            phone_hash: format!("hash-{n}"),
            password_hash: "x".into(),
        },
    )
    .await
    .unwrap()
}

async fn patient(conn: &mut AnyConnection, n: u32) -> String {
    let acc = account(conn, 1000 + n).await;
    identity::insert_patient(
        conn,
        Some(&acc),
        &NewPatient {
            name: "张三".into(),
            resident_id_enc: format!("enc-id-{n}"),
            resident_id_hash: format!("id-hash-{n}"),
            resident_id_masked: "110105********002X".into(),
            birth_date: "1980-01-01".into(),
            sex: "female".into(),
            phone_enc: None,
            guardian_account_id: None,
            guardian_relation: None,
        },
    )
    .await
    .unwrap()
}

/// A doctor at a hospital with one slot of `capacity` an hour from now.
async fn slot(conn: &mut AnyConnection, capacity: i64) -> sched::SlotRow {
    let org_id = org::insert_org(
        conn,
        &org::NewOrg {
            name: "城东医院".into(),
            kind: "hospital".into(),
            level: None,
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await
    .unwrap();
    let doctor = account(conn, 1).await;
    identity::insert_practitioner(
        conn,
        &doctor,
        "王医生",
        &NewPractitioner {
            role: "doctor".into(),
            title: "chief_physician".into(),
            licence_no: "110330100000001".into(),
            practising_since: "2000-01-01".into(),
            created_by: doctor.clone(),
            affiliations: vec![NewAffiliation {
                org_id: org_id.clone(),
                department_id: None,
                is_primary: true,
            }],
        },
    )
    .await
    .unwrap();
    let now = now_ms();
    let id = sched::insert_slot(
        conn,
        &NewSlot {
            doctor_id: doctor,
            org_id,
            department_id: None,
            template_id: None,
            service_date: "2030-01-01".into(),
            starts_at: now + 3_600_000,
            ends_at: now + 3_900_000,
            slot_minutes: 5,
            mode: "offline".into(),
            slot_type: "expert".into(),
            fee_fen: 5000,
            capacity,
            opens_at: now - 1000,
        },
        now,
    )
    .await
    .unwrap()
    .unwrap();
    sched::slot(conn, &id).await.unwrap().unwrap()
}

#[tokio::test]
async fn concurrent_seat_takers_never_exceed_capacity() {
    let db = fresh().await;
    let s = {
        let mut c = db.store.conn().await.unwrap();
        slot(&mut c, 3).await
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (store, id) = (db.store.clone(), s.id.clone());
        set.spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let took = sched::take_seat(&mut tx, &id, now_ms()).await.unwrap();
            tx.commit().await.unwrap();
            took
        });
    }
    let mut taken = 0;
    while let Some(r) = set.join_next().await {
        taken += usize::from(r.unwrap());
    }
    assert_eq!(taken, 3);
    let mut c = db.store.conn().await.unwrap();
    assert_eq!(
        sched::slot(&mut c, &s.id).await.unwrap().unwrap().remaining,
        0
    );
    sched::give_back_seat(&mut c, &s.id).await.unwrap();
    sched::give_back_seat(&mut c, &s.id).await.unwrap();
    sched::give_back_seat(&mut c, &s.id).await.unwrap();
    sched::give_back_seat(&mut c, &s.id).await.unwrap();
    assert_eq!(
        sched::slot(&mut c, &s.id).await.unwrap().unwrap().remaining,
        3,
        "never more seats than capacity"
    );
}

#[tokio::test]
async fn a_slot_not_yet_released_or_withdrawn_gives_no_seat() {
    let db = fresh().await;
    let mut c = db.store.conn().await.unwrap();
    let s = slot(&mut c, 3).await;
    assert!(
        !sched::take_seat(&mut c, &s.id, s.opens_at - 1)
            .await
            .unwrap()
    );
    assert!(!sched::take_seat(&mut c, &s.id, s.starts_at).await.unwrap());
    sched::withdraw_slot(&mut c, &s.id).await.unwrap();
    assert!(!sched::take_seat(&mut c, &s.id, now_ms()).await.unwrap());
}

#[tokio::test]
async fn the_day_counter_and_the_unique_start_bound_one_patients_bookings() {
    let db = fresh().await;
    let mut c = db.store.conn().await.unwrap();
    let s = slot(&mut c, 5).await;
    let p = patient(&mut c, 1).await;
    assert!(
        sched::count_day_booking(&mut c, &p, "2030-01-01", 2)
            .await
            .unwrap()
    );
    assert!(
        sched::count_day_booking(&mut c, &p, "2030-01-01", 2)
            .await
            .unwrap()
    );
    assert!(
        !sched::count_day_booking(&mut c, &p, "2030-01-01", 2)
            .await
            .unwrap()
    );
    sched::uncount_day_booking(&mut c, &p, "2030-01-01")
        .await
        .unwrap();
    assert!(
        sched::count_day_booking(&mut c, &p, "2030-01-01", 2)
            .await
            .unwrap()
    );

    let acc = identity::patient(&mut c, &p)
        .await
        .unwrap()
        .unwrap()
        .account_id
        .unwrap();
    let first = sched::insert_appointment(
        &mut c,
        &NewAppointment {
            slot: &s,
            patient_id: &p,
            booked_by: &acc,
            code: "AAAA2222",
        },
        now_ms(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        sched::has_overlapping_booking(&mut c, &p, s.starts_at, s.ends_at)
            .await
            .unwrap()
    );
    let again = sched::insert_appointment(
        &mut c,
        &NewAppointment {
            slot: &s,
            patient_id: &p,
            booked_by: &acc,
            code: "BBBB3333",
        },
        now_ms(),
    )
    .await;
    assert!(
        matches!(again, Ok(None)),
        "an overlapping booking is refused: {again:?}"
    );
    // Once closed, the same time is free again, and closing happens once.
    assert!(
        sched::close_appointment(&mut c, &first, "cancelled", 5000, now_ms())
            .await
            .unwrap()
    );
    assert!(
        !sched::close_appointment(&mut c, &first, "cancelled", 5000, now_ms())
            .await
            .unwrap()
    );
    sched::insert_appointment(
        &mut c,
        &NewAppointment {
            slot: &s,
            patient_id: &p,
            booked_by: &acc,
            code: "CCCC4444",
        },
        now_ms(),
    )
    .await
    .unwrap();
}
