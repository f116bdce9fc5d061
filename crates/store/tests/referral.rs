//! Storage contract for the consortium, on SQLite and (with `IHOS_TEST_PG`)
//! PostgreSQL: free beds and exam seats taken concurrently never go below
//! zero, a referral's status change has one winner, and its timeline is
//! gapless and append-only.

use ihos_store::identity::{self, NewAccount, NewPatient, NewPractitioner};
use ihos_store::referral::{self as r, Change, NewReferral};
use ihos_store::{Store, now_ms, org, testing};

struct Fixture {
    store: Store,
    hospital: String,
    doctor: String,
    referral: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).await;
    let store = Store::connect(&url, 8).await.unwrap();
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
    let new_org = |name: &str, kind: &str, level: Option<&str>| org::NewOrg {
        name: name.into(),
        kind: kind.into(),
        level: level.map(Into::into),
        province: "浙江省".into(),
        city: "杭州市".into(),
    };
    let hospital = org::insert_org(&mut conn, &new_org("医院", "hospital", Some("三级甲等")))
        .await
        .unwrap();
    let chc = org::insert_org(&mut conn, &new_org("社区", "community_health_centre", None))
        .await
        .unwrap();
    let consortium = org::insert_consortium(&mut conn, "医联体", &hospital)
        .await
        .unwrap();
    org::add_member(&mut conn, &consortium, &chc).await.unwrap();
    identity::insert_practitioner(
        &mut conn,
        &d_acc,
        "张医生",
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
    let patient = identity::insert_patient(
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
    assert_eq!(
        r::shared_consortium(&mut conn, &chc, &hospital)
            .await
            .unwrap(),
        Some(consortium.clone())
    );
    let referral = r::insert_referral(
        &mut conn,
        &NewReferral {
            consortium_id: &consortium,
            direction: "up",
            kind: "visit",
            patient_id: &patient,
            from_org_id: &chc,
            from_doctor_id: &d_acc,
            to_org_id: &hospital,
            to_department_id: None,
            to_doctor_id: None,
            reason: "胸痛",
            summary: "胸痛两天",
            exam_type: None,
            repeat_reason: None,
            follow_up_plan: None,
            status: "requested",
            due_at: Some(now_ms() + 1000),
        },
        now_ms(),
    )
    .await
    .unwrap();
    drop(conn);
    Fixture {
        store,
        hospital,
        doctor: d_acc,
        referral,
        _dir: dir,
    }
}

#[tokio::test]
async fn concurrent_admissions_take_at_most_the_free_beds() {
    let f = fixture().await;
    let mut conn = f.store.conn().await.unwrap();
    let ward = r::insert_ward(&mut conn, &f.hospital, None, "一病区", 3, now_ms())
        .await
        .unwrap();
    drop(conn);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = f.store.clone();
        let ward = ward.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let took = r::take_bed(&mut tx, &ward).await.unwrap();
            tx.commit().await.unwrap();
            took
        }));
    }
    let mut taken = 0;
    for t in tasks {
        taken += usize::from(t.await.unwrap());
    }
    assert_eq!(taken, 3);
    let mut conn = f.store.conn().await.unwrap();
    assert_eq!(
        r::ward(&mut conn, &ward).await.unwrap().unwrap().beds_free,
        0
    );
    r::give_back_bed(&mut conn, &ward).await.unwrap();
    r::give_back_bed(&mut conn, &ward).await.unwrap();
    r::give_back_bed(&mut conn, &ward).await.unwrap();
    r::give_back_bed(&mut conn, &ward).await.unwrap();
    assert_eq!(
        r::ward(&mut conn, &ward).await.unwrap().unwrap().beds_free,
        3,
        "never more free beds than beds"
    );
}

#[tokio::test]
async fn exam_seats_are_never_oversold() {
    let f = fixture().await;
    let mut conn = f.store.conn().await.unwrap();
    let starts = now_ms() + 86_400_000;
    let slot = r::insert_exam_slot(
        &mut conn,
        &f.hospital,
        "ct",
        starts,
        starts + 1_800_000,
        2,
        &f.doctor,
        now_ms(),
    )
    .await
    .unwrap();
    drop(conn);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = f.store.clone();
        let slot = slot.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = store.conn().await.unwrap();
            r::take_exam_seat(&mut conn, &slot, now_ms()).await.unwrap()
        }));
    }
    let mut taken = 0;
    for t in tasks {
        taken += usize::from(t.await.unwrap());
    }
    assert_eq!(taken, 2);
    let mut conn = f.store.conn().await.unwrap();
    assert_eq!(
        r::exam_slot(&mut conn, &slot)
            .await
            .unwrap()
            .unwrap()
            .remaining,
        0
    );
    // A started slot cannot be taken even with seats left.
    r::give_back_exam_seat(&mut conn, &slot).await.unwrap();
    assert!(
        !r::take_exam_seat(&mut conn, &slot, starts + 1)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn one_status_change_wins_and_the_timeline_is_append_only() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = f.store.clone();
        let id = f.referral.clone();
        let doctor = f.doctor.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let to = if i % 2 == 0 { "accepted" } else { "declined" };
            let won = r::change_status(
                &mut tx,
                &id,
                "requested",
                to,
                None,
                &Change::default(),
                now_ms(),
            )
            .await
            .unwrap();
            if won {
                r::append_event(
                    &mut tx,
                    &id,
                    Some(&doctor),
                    to,
                    Some("requested"),
                    to,
                    None,
                    now_ms(),
                )
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            won
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    let mut conn = f.store.conn().await.unwrap();
    r::append_event(
        &mut conn,
        &f.referral,
        None,
        "overdue",
        Some("x"),
        "x",
        None,
        now_ms(),
    )
    .await
    .unwrap();
    let t = r::timeline(&mut conn, &f.referral).await.unwrap();
    assert_eq!(t.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    let row = r::referral(&mut conn, &f.referral).await.unwrap().unwrap();
    assert_eq!(
        row.due_at, None,
        "an answered referral waits on the next deadline, here none"
    );
    let del = sqlx::query("DELETE FROM referral_events WHERE referral_id = $1")
        .bind(&f.referral)
        .execute(&mut *conn)
        .await;
    assert!(del.is_err(), "the timeline is append-only");
    assert!(
        r::mark_overdue(&mut conn, &f.referral, &row.status, now_ms())
            .await
            .unwrap()
    );
    assert!(
        !r::mark_overdue(&mut conn, &f.referral, &row.status, now_ms())
            .await
            .unwrap(),
        "once"
    );
}
