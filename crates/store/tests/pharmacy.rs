//! Storage contract for prescriptions and payment, on SQLite and (with
//! `IHOS_TEST_PG`) PostgreSQL: one order per visit whose totals are the sums
//! of its items, nothing added once payment starts, each provider event
//! recorded once, and exactly one of concurrent dispense attempts wins.

use ihos_store::now_ms;
use ihos_store::payment::{self as pay, NewOrderItem};
use ihos_store::pharmacy::{self as rx, NewItem, NewPrescription};

mod common;
use common::fixture;

fn item(kind: &str, ref_id: &str, amount: i64, insured: i64) -> NewOrderItem {
    NewOrderItem {
        kind: kind.into(),
        ref_id: ref_id.into(),
        description: "x".into(),
        quantity: 1,
        unit_price_fen: amount,
        reimburse_permille: 0,
        amount_fen: amount,
        insured_fen: insured,
        self_fen: amount - insured,
    }
}

#[tokio::test]
async fn one_order_per_visit_with_totals_summed_and_locked_once_paying() {
    let f = fixture().await;
    let mut conn = f.store.conn().await.unwrap();
    let now = now_ms();
    let a = pay::open_order(
        &mut conn,
        "consultation",
        &f.consultation_id,
        &f.patient_id,
        &f.org_id,
        now + 1000,
        now,
    )
    .await
    .unwrap();
    let b = pay::open_order(
        &mut conn,
        "consultation",
        &f.consultation_id,
        &f.patient_id,
        &f.org_id,
        now + 1000,
        now,
    )
    .await
    .unwrap();
    assert_eq!(a.id, b.id, "one order per visit");
    assert!(
        pay::put_item(
            &mut conn,
            &a.id,
            &item("consultation_fee", "c", 2000, 0),
            now + 1000,
            now
        )
        .await
        .unwrap()
    );
    assert!(
        pay::put_item(
            &mut conn,
            &a.id,
            &item("drug", "r:1", 294, 235),
            now + 1000,
            now
        )
        .await
        .unwrap()
    );
    // Putting the same item again replaces it.
    assert!(
        pay::put_item(
            &mut conn,
            &a.id,
            &item("drug", "r:1", 294, 235),
            now + 1000,
            now
        )
        .await
        .unwrap()
    );
    let o = pay::order(&mut conn, &a.id).await.unwrap().unwrap();
    assert_eq!((o.amount_fen, o.insured_fen, o.self_fen), (2294, 235, 2059));
    assert!(
        pay::change_status(&mut conn, &a.id, "open", "paying", now)
            .await
            .unwrap()
    );
    assert!(
        !pay::change_status(&mut conn, &a.id, "open", "paying", now)
            .await
            .unwrap()
    );
    assert!(
        !pay::put_item(
            &mut conn,
            &a.id,
            &item("drug", "r:2", 100, 0),
            now + 1000,
            now
        )
        .await
        .unwrap()
    );
    assert_eq!(pay::items(&mut conn, &a.id).await.unwrap().len(), 2);
    let t = pay::insert_transaction(&mut conn, &a.id, "sandbox", 2059, now + 1000, now)
        .await
        .unwrap();
    assert!(
        pay::record_callback(&mut conn, "sandbox", "evt-1", &t, "succeeded", now)
            .await
            .unwrap()
    );
    assert!(
        !pay::record_callback(&mut conn, "sandbox", "evt-1", &t, "succeeded", now)
            .await
            .unwrap()
    );
    assert_eq!(pay::callback_count(&mut conn, &t).await.unwrap(), 1);
}

#[tokio::test]
async fn exactly_one_of_concurrent_dispense_attempts_wins() {
    let f = fixture().await;
    let mut conn = f.store.conn().await.unwrap();
    let now = now_ms();
    let rx_id = rx::insert_prescription(
        &mut conn,
        &NewPrescription {
            consultation_id: f.consultation_id.clone(),
            patient_id: f.patient_id.clone(),
            doctor_id: f.doctor_id.clone(),
            org_id: f.org_id.clone(),
            root_id: None,
            version: 1,
            previous_id: None,
            kind: "acute".into(),
            diagnosis: "胃炎".into(),
            weight_g: None,
            note: None,
            signed_at: now,
            signature_method: "sha256".into(),
            signature: "s".into(),
            items: vec![NewItem {
                drug_code: "D0034".into(),
                generic_name: "多潘立酮片".into(),
                form: "片剂".into(),
                strength: "10mg".into(),
                unit: "片".into(),
                quantity: 7,
                dosage: "1片".into(),
                frequency: "每日3次".into(),
                days: 3,
                unit_price_fen: 42,
                insurance: "乙".into(),
                reimburse_permille: 800,
            }],
        },
    )
    .await
    .unwrap();
    assert!(
        rx::change_status(
            &mut conn,
            &rx_id,
            "pending_review",
            "approved",
            Some(&f.doctor_id),
            None,
            now
        )
        .await
        .unwrap()
    );
    let o = pay::open_order(
        &mut conn,
        "consultation",
        &f.consultation_id,
        &f.patient_id,
        &f.org_id,
        now + 1000,
        now,
    )
    .await
    .unwrap();
    rx::insert_fulfilment(&mut conn, &rx_id, &o.id, &f.org_id, now)
        .await
        .unwrap();
    // Not ready before payment: nothing to dispense.
    assert!(
        !rx::dispense(&mut conn, &rx_id, &f.org_id, &f.doctor_id, now)
            .await
            .unwrap()
    );
    rx::choose_method(&mut conn, &rx_id, "pharmacy_transfer", None, now)
        .await
        .unwrap();
    assert!(
        rx::mark_ready(&mut conn, &rx_id, Some("ABCDEFGHJK"), now)
            .await
            .unwrap()
    );
    drop(conn);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = f.store.clone();
        let rx_id = rx_id.clone();
        let org_id = f.org_id.clone();
        let who = f.doctor_id.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let won = rx::dispense(&mut tx, &rx_id, &org_id, &who, now_ms())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            won
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    let mut conn = f.store.conn().await.unwrap();
    let fl = rx::fulfilment(&mut conn, &rx_id).await.unwrap().unwrap();
    assert_eq!(fl.status, "dispensed");
}
