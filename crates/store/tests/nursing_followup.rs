//! Storage contract for home nursing and follow-up, on SQLite and (with
//! `IHOS_TEST_PG`) PostgreSQL: order transitions only one actor wins, the
//! assessment lookup, a task completed once, and exactly one alert per task
//! and kind whatever the races.

use ihos_store::followup::{self as fu, NewPlan};
use ihos_store::identity::{self, NewAccount, NewPatient, NewPractitioner};
use ihos_store::nursing::{self as nu, NewOrder, NewService, OrderChange};
use ihos_store::{Store, now_ms, org, testing};

struct Fixture {
    store: Store,
    patient_id: String,
    doctor_id: String,
    nurse_id: String,
    org_id: String,
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
    let n_acc = identity::insert_account(&mut conn, &acct("n"))
        .await
        .unwrap();
    let org_id = org::insert_org(
        &mut conn,
        &org::NewOrg {
            name: "医院".into(),
            kind: "hospital".into(),
            level: None,
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await
    .unwrap();
    for (acc, role, title, licence) in [
        (&d_acc, "doctor", "attending_physician", "L1"),
        (&n_acc, "nurse", "senior_nurse", "L2"),
    ] {
        identity::insert_practitioner(
            &mut conn,
            acc,
            "医护",
            &NewPractitioner {
                role: role.into(),
                title: title.into(),
                licence_no: licence.into(),
                practising_since: "2010-01-01".into(),
                created_by: acc.clone(),
                affiliations: vec![],
            },
        )
        .await
        .unwrap();
    }
    let patient_id = identity::insert_patient(
        &mut conn,
        Some(&p_acc),
        &NewPatient {
            name: "张三".into(),
            resident_id_enc: "e".into(),
            resident_id_hash: "h".into(),
            resident_id_masked: "m".into(),
            birth_date: "1950-01-01".into(),
            sex: "male".into(),
            phone_enc: None,
            guardian_account_id: None,
            guardian_relation: None,
        },
    )
    .await
    .unwrap();
    drop(conn);
    Fixture {
        store,
        patient_id,
        doctor_id: d_acc,
        nurse_id: n_acc,
        org_id,
        _dir: dir,
    }
}

#[tokio::test]
async fn an_order_moves_once_and_needs_an_assessment_on_record() {
    let f = fixture().await;
    let mut c = f.store.conn().await.unwrap();
    let now = now_ms();
    let since = now - 30 * 86_400_000;
    assert_eq!(
        nu::find_assessment(&mut c, &f.patient_id, &f.org_id, since, now)
            .await
            .unwrap(),
        None
    );
    // An expired assessment does not count; a valid one does.
    nu::insert_assessment(
        &mut c,
        &f.patient_id,
        &f.org_id,
        &f.nurse_id,
        "旧",
        now - 10,
        now - 1,
    )
    .await
    .unwrap();
    assert!(
        nu::find_assessment(&mut c, &f.patient_id, &f.org_id, since, now)
            .await
            .unwrap()
            .is_none()
    );
    let a = nu::insert_assessment(
        &mut c,
        &f.patient_id,
        &f.org_id,
        &f.doctor_id,
        "可",
        now,
        now + 1000,
    )
    .await
    .unwrap();
    assert_eq!(
        nu::find_assessment(&mut c, &f.patient_id, &f.org_id, since, now)
            .await
            .unwrap(),
        Some(("assessment".to_string(), a.clone()))
    );

    let service = nu::insert_service(
        &mut c,
        &NewService {
            org_id: f.org_id.clone(),
            code: "picc".into(),
            name: "PICC".into(),
            description: String::new(),
            fee_fen: 15000,
            duration_minutes: 60,
            min_years: 5,
            required_qualification: Some("picc".into()),
        },
        now,
    )
    .await
    .unwrap();
    let dup = nu::insert_service(
        &mut c,
        &NewService {
            org_id: f.org_id.clone(),
            code: "picc".into(),
            name: "PICC 2".into(),
            description: String::new(),
            fee_fen: 1,
            duration_minutes: 60,
            min_years: 5,
            required_qualification: None,
        },
        now,
    )
    .await;
    assert!(matches!(dup, Err(ihos_store::StoreError::Duplicate { .. })));
    let id = nu::insert_order(
        &mut c,
        &NewOrder {
            service_id: service,
            org_id: f.org_id.clone(),
            patient_id: f.patient_id.clone(),
            ordered_by: f.doctor_id.clone(),
            status: "awaiting_payment".into(),
            fee_fen: 15000,
            address_enc: "enc".into(),
            address_masked: "浙江省杭州市****".into(),
            window_start: now,
            window_end: now + 1,
            patient_note: None,
            assessment_kind: "assessment".into(),
            assessment_ref: a,
        },
        now,
    )
    .await
    .unwrap();
    let paid = OrderChange {
        paid: true,
        ..Default::default()
    };
    assert!(
        nu::change_status(&mut c, &id, "awaiting_payment", "paid", now, &paid)
            .await
            .unwrap()
    );
    assert!(
        !nu::change_status(&mut c, &id, "awaiting_payment", "paid", now, &paid)
            .await
            .unwrap()
    );
    let assign = OrderChange {
        nurse: Some(Some(&f.nurse_id)),
        assigned_by: Some(&f.doctor_id),
        ..Default::default()
    };
    assert!(
        nu::change_status(&mut c, &id, "paid", "assigned", now, &assign)
            .await
            .unwrap()
    );
    // Only the assigned nurse can take the next step.
    let wrong = OrderChange {
        accepted: true,
        require_nurse: Some(&f.doctor_id),
        ..Default::default()
    };
    assert!(
        !nu::change_status(&mut c, &id, "assigned", "accepted", now, &wrong)
            .await
            .unwrap()
    );
    let right = OrderChange {
        accepted: true,
        require_nurse: Some(&f.nurse_id),
        ..Default::default()
    };
    assert!(
        nu::change_status(&mut c, &id, "assigned", "accepted", now, &right)
            .await
            .unwrap()
    );
    let check_in = OrderChange {
        check_in: Some((30_274_150, 120_155_070)),
        require_nurse: Some(&f.nurse_id),
        ..Default::default()
    };
    assert!(
        nu::change_status(&mut c, &id, "accepted", "in_visit", now + 5, &check_in)
            .await
            .unwrap()
    );
    let out = OrderChange {
        check_out: Some((30_274_160, 120_155_080)),
        record_text: Some("换药"),
        record_vitals: None,
        require_nurse: Some(&f.nurse_id),
        ..Default::default()
    };
    assert!(
        nu::change_status(&mut c, &id, "in_visit", "completed", now + 9, &out)
            .await
            .unwrap()
    );
    let row = nu::order(&mut c, &id).await.unwrap().unwrap();
    assert_eq!(row.status, "completed");
    assert_eq!(row.nurse_id.as_deref(), Some(f.nurse_id.as_str()));
    assert_eq!(
        (row.check_in_lat_e6, row.check_out_lng_e6),
        (Some(30_274_150), Some(120_155_080))
    );
    assert_eq!(
        (row.checked_in_at, row.checked_out_at),
        (Some(now + 5), Some(now + 9))
    );
    assert_eq!(row.record_text.as_deref(), Some("换药"));
    assert!(row.accepted_at.is_some() && row.paid_at.is_some() && row.assigned_at.is_some());
}

#[tokio::test]
async fn a_task_is_completed_once_and_alerted_once_under_a_race() {
    let f = fixture().await;
    let now = now_ms();
    let plan_id = {
        let mut c = f.store.conn().await.unwrap();
        let id = fu::insert_plan(
            &mut c,
            &NewPlan {
                patient_id: f.patient_id.clone(),
                doctor_id: f.doctor_id.clone(),
                org_id: f.org_id.clone(),
                department_id: None,
                template_code: "hypertension".into(),
                occasion: "visit".into(),
                consultation_id: None,
                template_json: "{}".into(),
                starts_at: now,
                ends_at: now + 1000,
            },
            now,
        )
        .await
        .unwrap();
        fu::insert_task(&mut c, &id, 1, "bp_reading", "血压", now)
            .await
            .unwrap();
        id
    };
    let task_id = {
        let mut c = f.store.conn().await.unwrap();
        fu::tasks(&mut c, &plan_id).await.unwrap()[0].id.clone()
    };
    // Eight writers at once: each completes the task and alerts in one transaction.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let store = f.store.clone();
        let (plan_id, task_id, who) = (plan_id.clone(), task_id.clone(), f.doctor_id.clone());
        handles.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let done = fu::complete_task(
                &mut tx,
                &task_id,
                "{\"systolic\":170}",
                Some(false),
                &who,
                now_ms(),
            )
            .await
            .unwrap();
            let plan = fu::plan(&mut tx, &plan_id).await.unwrap().unwrap();
            let alerted =
                fu::insert_alert(&mut tx, &plan, &task_id, "abnormal_reading", "高", now_ms())
                    .await
                    .unwrap();
            tx.commit().await.unwrap();
            (done, alerted)
        }));
    }
    let mut completed = 0;
    let mut alerts = 0;
    for h in handles {
        let (done, alerted) = h.await.unwrap();
        completed += i32::from(done);
        alerts += i32::from(alerted);
    }
    assert_eq!(completed, 1);
    assert_eq!(alerts, 1);
    let mut c = f.store.conn().await.unwrap();
    assert_eq!(fu::alerts_for_task(&mut c, &task_id).await.unwrap(), 1);
    // A missed-task alert is a different kind; marking a done task missed does nothing.
    assert!(!fu::mark_missed(&mut c, &task_id, now).await.unwrap());
    let figures = fu::figures(&mut c, &f.org_id, None).await.unwrap();
    assert_eq!(
        (
            figures[0].done,
            figures[0].readings,
            figures[0].readings_in_range
        ),
        (1, 1, 0)
    );
}
