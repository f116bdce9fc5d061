//! Storage contract for scheduling, on SQLite and PostgreSQL: seats are taken
//! atomically, the per-day counter bounds bookings, the unique
//! (patient, start) index refuses a second booking at one time.

use ihos_store::audit::AuditEntry;
use ihos_store::identity::{self, NewAccount, NewAffiliation, NewPatient, NewPractitioner};
use ihos_store::scheduling::{self as sched, BookOutcome, Booking, NewAppointment, NewSlot};
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

/// The patient's login account (`patient` makes one per patient).
async fn login_of(conn: &mut AnyConnection, patient_id: &str) -> String {
    identity::patient(conn, patient_id)
        .await
        .unwrap()
        .unwrap()
        .account_id
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

    let acc = login_of(&mut c, &p).await;
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

/// Another slot of the same doctor, `offset_ms` after `s`.
async fn slot_after(
    conn: &mut AnyConnection,
    s: &sched::SlotRow,
    offset_ms: i64,
) -> sched::SlotRow {
    let id = sched::insert_slot(
        conn,
        &NewSlot {
            doctor_id: s.doctor_id.clone(),
            org_id: s.org_id.clone(),
            department_id: None,
            template_id: None,
            service_date: s.service_date.clone(),
            starts_at: s.starts_at + offset_ms,
            ends_at: s.ends_at + offset_ms,
            slot_minutes: 5,
            mode: "offline".into(),
            slot_type: "expert".into(),
            fee_fen: 5000,
            capacity: s.capacity,
            opens_at: s.opens_at,
        },
        now_ms(),
    )
    .await
    .unwrap()
    .unwrap();
    sched::slot(conn, &id).await.unwrap().unwrap()
}

/// The ids a booking attempt brings: its appointment id and booking code.
struct Attempt {
    id: String,
    code: String,
}

impl Attempt {
    fn new() -> Self {
        let id = ihos_store::new_id();
        let code = id[id.len() - 8..].to_string();
        Self { id, code }
    }

    fn booking<'a>(
        &'a self,
        s: &'a sched::SlotRow,
        patient_id: &'a str,
        account_id: &'a str,
        daily_limit: i64,
    ) -> Booking<'a> {
        Booking {
            appointment_id: &self.id,
            appointment: NewAppointment {
                slot: s,
                patient_id,
                booked_by: account_id,
                code: &self.code,
            },
            daily_limit,
            now: now_ms(),
            audit: AuditEntry {
                actor_id: Some(account_id),
                actor_roles: "patient",
                action: "appointment.create",
                subject_type: "patient",
                subject_id: patient_id,
                ground: "self",
                org_id: Some(&s.org_id),
                request_id: None,
            },
            notice_topic: "appointment.booked",
            notice_recipient: Some(account_id),
            notice_payload: r#"{"appointment_id":"x"}"#,
        }
    }
}

async fn book(
    store: &Store,
    s: &sched::SlotRow,
    patient_id: &str,
    account_id: &str,
    daily_limit: i64,
) -> Result<BookOutcome, ihos_store::StoreError> {
    let attempt = Attempt::new();
    sched::book_seat(
        store,
        &attempt.booking(s, patient_id, account_id, daily_limit),
    )
    .await
}

/// What a booking writes, counted: (seats left, the patient's appointments,
/// their day count, booking audit entries, booking notices).
async fn written(
    store: &Store,
    s: &sched::SlotRow,
    patient_id: &str,
    account_id: &str,
) -> (i64, i64, i64, i64, i64) {
    let mut c = store.conn().await.unwrap();
    let remaining = sched::slot(&mut c, &s.id).await.unwrap().unwrap().remaining;
    let mut counts = Vec::new();
    for (sql, key) in [
        (
            "SELECT COUNT(*) FROM appointments WHERE patient_id = $1",
            patient_id,
        ),
        (
            "SELECT COALESCE(MAX(booked), 0) FROM patient_day_bookings WHERE patient_id = $1",
            patient_id,
        ),
        (
            "SELECT COUNT(*) FROM audit_log WHERE action = 'appointment.create' AND subject_id = $1",
            patient_id,
        ),
        (
            "SELECT COUNT(*) FROM outbox WHERE topic = 'appointment.booked' AND recipient_id = $1",
            account_id,
        ),
    ] {
        let n: i64 = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        counts.push(n);
    }
    (remaining, counts[0], counts[1], counts[2], counts[3])
}

#[tokio::test]
async fn a_booking_is_written_whole_or_not_at_all() {
    let db = fresh().await;
    let (s, later, p1, p2, p3) = {
        let mut c = db.store.conn().await.unwrap();
        let s = slot(&mut c, 2).await;
        let later = slot_after(&mut c, &s, 3_600_000).await;
        (
            s,
            later,
            patient(&mut c, 1).await,
            patient(&mut c, 2).await,
            patient(&mut c, 3).await,
        )
    };
    let mut c = db.store.conn().await.unwrap();
    let mut account_of = std::collections::HashMap::new();
    for p in [&p1, &p2, &p3] {
        let acc = login_of(&mut c, p).await;
        account_of.insert(p.clone(), acc);
    }
    drop(c);
    let a1 = &account_of[&p1];

    assert_eq!(
        book(&db.store, &s, &p1, a1, 1).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(written(&db.store, &s, &p1, a1).await, (1, 1, 1, 1, 1));

    // The same time again: refused, and the seat it took is back.
    assert_eq!(
        book(&db.store, &s, &p1, a1, 5).await.unwrap(),
        BookOutcome::Overlapping
    );
    assert_eq!(written(&db.store, &s, &p1, a1).await, (1, 1, 1, 1, 1));

    // Another time the same day over a limit of one: refused, nothing kept.
    assert_eq!(
        book(&db.store, &later, &p1, a1, 1).await.unwrap(),
        BookOutcome::DailyLimitReached
    );
    assert_eq!(written(&db.store, &later, &p1, a1).await, (2, 1, 1, 1, 1));

    // The last seat, then none.
    let (a2, a3) = (&account_of[&p2], &account_of[&p3]);
    assert_eq!(
        book(&db.store, &s, &p2, a2, 1).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        book(&db.store, &s, &p3, a3, 1).await.unwrap(),
        BookOutcome::SlotFull
    );
    assert_eq!(written(&db.store, &s, &p2, a2).await, (0, 1, 1, 1, 1));
    assert_eq!(written(&db.store, &s, &p3, a3).await, (0, 0, 0, 0, 0));
}

#[tokio::test]
async fn the_booking_context_reads_slot_session_and_own_patient_together() {
    use ihos_store::session;
    let db = fresh().await;
    let mut c = db.store.conn().await.unwrap();
    let s = slot(&mut c, 3).await;
    let p = patient(&mut c, 1).await;
    let acc = login_of(&mut c, &p).await;
    identity::grant_role(&mut c, &acc, "patient", "")
        .await
        .unwrap();
    identity::grant_role(&mut c, &acc, "doctor", "org-1")
        .await
        .unwrap();
    let no_patient = account(&mut c, 7).await;
    let now = now_ms();
    session::insert_session(&mut c, "live", &acc, now, now + 60_000)
        .await
        .unwrap();
    session::insert_session(&mut c, "expired", &acc, now - 120_000, now - 60_000)
        .await
        .unwrap();
    session::insert_session(&mut c, "no-patient", &no_patient, now, now + 60_000)
        .await
        .unwrap();

    let ctx = sched::booking_context(&mut c, &s.id, Some("live"), now)
        .await
        .unwrap()
        .expect("the slot exists");
    assert_eq!(ctx.card.slot.id, s.id);
    assert_eq!(ctx.card.doctor_name, "王医生");
    assert_eq!(ctx.card.org_name, "城东医院");
    assert_eq!(ctx.card.slot.remaining, 3);
    let caller = ctx.caller.expect("a live session");
    assert_eq!(caller.account_id, acc);
    assert_eq!(caller.display_name, "用户1001");
    assert_eq!(
        caller.grants,
        vec![
            ("doctor".to_string(), "org-1".to_string()),
            ("patient".to_string(), String::new())
        ]
    );
    let own = ctx.own_patient.expect("the caller's own record");
    assert_eq!(own.id, p);
    assert_eq!(own.name, "张三");
    assert_eq!(own.account_id.as_deref(), Some(acc.as_str()));

    // No token, an unknown one or an expired one: the slot, nobody calling.
    for token in [None, Some("unknown"), Some("expired")] {
        let ctx = sched::booking_context(&mut c, &s.id, token, now)
            .await
            .unwrap()
            .expect("the slot exists");
        assert!(ctx.caller.is_none(), "{token:?}");
        assert!(ctx.own_patient.is_none(), "{token:?}");
    }
    // An account without a patient record of its own.
    let ctx = sched::booking_context(&mut c, &s.id, Some("no-patient"), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.caller.unwrap().account_id, no_patient);
    assert!(ctx.own_patient.is_none());
    // A disabled account has no live session.
    sqlx::query("UPDATE accounts SET disabled = 1 WHERE id = $1")
        .bind(&acc)
        .execute(&mut *c)
        .await
        .unwrap();
    let ctx = sched::booking_context(&mut c, &s.id, Some("live"), now)
        .await
        .unwrap()
        .unwrap();
    assert!(ctx.caller.is_none());
    // No such slot.
    assert!(
        sched::booking_context(&mut c, "no-such-slot", Some("no-patient"), now)
            .await
            .unwrap()
            .is_none()
    );
}

fn queued(s: &sched::SlotRow, patient_id: &str, account_id: &str) -> sched::QueuedBooking {
    sched::QueuedBooking::new(&Attempt::new().booking(s, patient_id, account_id, 0))
}

/// The group-commit statement (PostgreSQL; SQLite writes bookings one by one).
#[tokio::test]
async fn a_batch_decides_each_booking_on_its_own() {
    let db = fresh().await;
    if db.store.backend() != ihos_store::Backend::Postgres {
        return;
    }
    let hour = 3_600_000;
    let mut c = db.store.conn().await.unwrap();
    let s = slot(&mut c, 2).await;
    let mut later = Vec::new();
    for k in 1..=6 {
        later.push(slot_after(&mut c, &s, k * hour).await);
    }
    let [a, b, full, d, e, g] = &later[..] else {
        unreachable!()
    };
    let mut who = Vec::new();
    for n in 1..=10 {
        let p = patient(&mut c, n).await;
        let acc = login_of(&mut c, &p).await;
        who.push((p, acc));
    }
    drop(c);
    let p = |n: usize| (who[n - 1].0.as_str(), who[n - 1].1.as_str());
    // Before the batch: `full` is taken twice, patient 3 holds `a`,
    // patient 4 has a booking that day (the limit below is 1), and `g`
    // has one seat left.
    for (slot, n) in [(full, 9), (full, 10), (a, 3), (b, 4), (g, 8)] {
        let (pid, acc) = p(n);
        assert_eq!(
            book(&db.store, slot, pid, acc, 5).await.unwrap(),
            BookOutcome::Booked
        );
    }

    let batch = [
        queued(&s, p(1).0, p(1).1),
        queued(full, p(2).0, p(2).1),
        queued(a, p(3).0, p(3).1),
        queued(d, p(4).0, p(4).1),
        queued(b, p(5).0, p(5).1),
    ];
    let mut c = db.store.conn().await.unwrap();
    let outcomes: Vec<_> = sched::book_queued(&mut c, &batch, 1)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    drop(c);
    assert_eq!(
        outcomes,
        [
            BookOutcome::Booked,
            BookOutcome::SlotFull,
            BookOutcome::Overlapping,
            BookOutcome::DailyLimitReached,
            BookOutcome::Booked,
        ]
    );
    // (seats left, appointments, day count, audit entries, notices)
    assert_eq!(
        written(&db.store, &s, p(1).0, p(1).1).await,
        (1, 1, 1, 1, 1)
    );
    assert_eq!(
        written(&db.store, full, p(2).0, p(2).1).await,
        (0, 0, 0, 0, 0)
    );
    assert_eq!(written(&db.store, a, p(3).0, p(3).1).await, (1, 1, 1, 1, 1));
    assert_eq!(written(&db.store, d, p(4).0, p(4).1).await, (2, 1, 1, 1, 1));
    assert_eq!(written(&db.store, b, p(5).0, p(5).1).await, (0, 1, 1, 1, 1));

    // One patient twice, then one last seat wanted twice: the statement
    // refuses itself and each booking is written alone. No seat is sold twice.
    let twice = |batch: Vec<sched::QueuedBooking>, limit| {
        let store = db.store.clone();
        async move {
            let mut c = store.conn().await.unwrap();
            sched::book_queued(&mut c, &batch, limit)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        }
    };
    let one_patient = vec![queued(e, p(6).0, p(6).1), queued(d, p(6).0, p(6).1)];
    assert_eq!(
        twice(one_patient, 5).await,
        [BookOutcome::Booked, BookOutcome::Booked]
    );
    assert_eq!(written(&db.store, d, p(6).0, p(6).1).await, (1, 2, 2, 2, 2));
    let one_seat = vec![queued(g, p(7).0, p(7).1), queued(g, p(1).0, p(1).1)];
    assert_eq!(
        twice(one_seat, 5).await,
        [BookOutcome::Booked, BookOutcome::SlotFull]
    );
    assert_eq!(written(&db.store, g, p(7).0, p(7).1).await, (0, 1, 1, 1, 1));
    assert_eq!(written(&db.store, g, p(1).0, p(1).1).await, (0, 1, 1, 1, 1));
}
