//! Storage contract for consultations, on SQLite and (with `IHOS_TEST_PG`)
//! PostgreSQL: gapless idempotent chat sequence numbers, status changes that
//! only one actor wins, and package uses that never go below zero.

use ihos_store::consultation::{self as c, Appended, NewMessage, StatusChange};
use ihos_store::identity;
use ihos_store::now_ms;

mod common;
use common::{Fixture, fixture, fixture_before_upgrade, open_consultations};

fn msg(f: &Fixture, client_id: &str) -> NewMessage {
    NewMessage {
        consultation_id: f.consultation_id.clone(),
        sender_id: f.doctor_id.clone(),
        sender_role: "doctor".into(),
        client_id: client_id.into(),
        kind: "text".into(),
        body: Some("你好".into()),
        attachment_id: None,
        created_at: now_ms(),
    }
}

#[tokio::test]
async fn chat_is_closed_until_accepted_then_numbers_messages_once_each() {
    let f = fixture().await;
    let mut conn = f.store.conn().await.unwrap();
    assert!(matches!(
        c::append_message(&mut conn, &msg(&f, "a")).await.unwrap(),
        Appended::Closed
    ));
    let ok = c::change_status(
        &mut conn,
        &f.consultation_id,
        "requested",
        "accepted",
        now_ms(),
        &StatusChange {
            accepted: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(ok);
    // The second actor loses: the status is no longer "requested".
    let again = c::change_status(
        &mut conn,
        &f.consultation_id,
        "requested",
        "declined",
        now_ms(),
        &StatusChange::default(),
    )
    .await
    .unwrap();
    assert!(!again);

    let Appended::New(a) = c::append_message(&mut conn, &msg(&f, "a")).await.unwrap() else {
        panic!("first send is new")
    };
    let Appended::New(b) = c::append_message(&mut conn, &msg(&f, "b")).await.unwrap() else {
        panic!("second send is new")
    };
    let Appended::Repeat(a2) = c::append_message(&mut conn, &msg(&f, "a")).await.unwrap() else {
        panic!("a resend is recognised")
    };
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(a2, a);
    let after: Vec<i64> = c::messages_after(&mut conn, &f.consultation_id, 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(after, vec![2]);
}

#[tokio::test]
async fn a_package_is_never_used_below_zero() {
    let f = fixture().await;
    let mut conn = f.store.conn().await.unwrap();
    let now = now_ms();
    c::insert_package(
        &mut conn,
        &c::PackageRow {
            id: "pkg".into(),
            doctor_id: f.doctor_id.clone(),
            org_id: f.org_id.clone(),
            name: "包".into(),
            period_days: 30,
            consultations: 1,
            price_fen: 100,
            active: 1,
            created_at: now,
        },
    )
    .await
    .unwrap();
    let acc = identity::patient(&mut conn, &f.patient_id)
        .await
        .unwrap()
        .unwrap()
        .account_id
        .unwrap();
    c::insert_subscription(
        &mut conn,
        &c::SubscriptionRow {
            id: "sub".into(),
            package_id: "pkg".into(),
            patient_id: f.patient_id.clone(),
            account_id: acc,
            doctor_id: f.doctor_id.clone(),
            starts_at: now - 1,
            ends_at: now + 86_400_000,
            remaining: 1,
            created_at: now,
        },
    )
    .await
    .unwrap();
    drop(conn);
    let mut wins = 0;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = f.store.clone();
        let (p, d) = (f.patient_id.clone(), f.doctor_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = store.conn().await.unwrap();
            c::use_subscription(&mut conn, "sub", &p, &d, now_ms())
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        wins += i32::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    let mut conn = f.store.conn().await.unwrap();
    assert_eq!(
        c::subscription(&mut conn, "sub")
            .await
            .unwrap()
            .unwrap()
            .remaining,
        0
    );
}

#[tokio::test]
async fn a_batch_numbers_like_one_by_one_and_leaves_resends_and_closed_chats_to_the_slow_path() {
    let f = fixture().await;
    // The fixture's consultation is only requested: not open for chat.
    let mut tx = f.store.begin().await.unwrap();
    assert!(
        c::append_batch(&mut tx, &[&msg(&f, "x")])
            .await
            .unwrap()
            .is_none()
    );
    tx.rollback().await.unwrap();

    // 70 messages over 40 chats: more than one counter chunk (32 chats) and
    // an insert split 64 + 4 + 1 + 1; chat 0 already holds one message.
    let chats = common::open_consultations(&f, 40).await;
    let to = |chat: usize, client_id: &str| NewMessage {
        consultation_id: chats[chat].clone(),
        ..msg(&f, client_id)
    };
    let mut tx = f.store.begin().await.unwrap();
    assert!(matches!(
        c::append_message(&mut tx, &to(0, "earlier")).await.unwrap(),
        Appended::New(_)
    ));
    let msgs: Vec<NewMessage> = (0..70).map(|i| to(i % 40, &format!("m{i}"))).collect();
    let rows = c::append_batch(&mut tx, &msgs.iter().collect::<Vec<_>>())
        .await
        .unwrap()
        .expect("all new, all open");
    tx.commit().await.unwrap();
    let expected_seq = |i: usize| (i / 40) as i64 + 1 + i64::from(i.is_multiple_of(40));
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            (r.consultation_id.as_str(), r.client_id.as_str(), r.seq),
            (
                chats[i % 40].as_str(),
                format!("m{i}").as_str(),
                expected_seq(i)
            )
        );
    }
    let mut conn = f.store.conn().await.unwrap();
    for (k, chat) in chats.iter().enumerate() {
        let stored: Vec<i64> = c::messages_after(&mut conn, chat, 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        let count = if k == 0 {
            3
        } else if k < 30 {
            2
        } else {
            1
        };
        assert_eq!(stored, (1..=count).collect::<Vec<_>>(), "chat {k}");
        let row = c::consultation(&mut conn, chat).await.unwrap().unwrap();
        assert_eq!(row.next_seq, count, "chat {k}");
    }
    drop(conn);

    // A resend of a stored message, or the same client id twice in one
    // batch: the caller rolls back and nothing of the batch remains.
    for batch in [
        vec![to(5, "new-1"), to(5, "m5")],
        vec![to(6, "new-2"), to(6, "new-2")],
    ] {
        let mut tx = f.store.begin().await.unwrap();
        assert!(
            c::append_batch(&mut tx, &batch.iter().collect::<Vec<_>>())
                .await
                .unwrap()
                .is_none()
        );
        tx.rollback().await.unwrap();
    }
    let mut conn = f.store.conn().await.unwrap();
    for k in [5, 6] {
        assert_eq!(
            c::messages_after(&mut conn, &chats[k], 0, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        let row = c::consultation(&mut conn, &chats[k])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.next_seq, 2);
    }
}

#[tokio::test]
async fn messages_stored_before_migration_0010_survive_it_and_stay_idempotent() {
    // 0010 rebuilds the message table on SQLite to re-key its idempotency index.
    let f = fixture_before_upgrade(9).await;
    let cid = open_consultations(&f, 1).await.remove(0);
    let patient_account = {
        let mut conn = f.store.conn().await.unwrap();
        identity::patient(&mut conn, &f.patient_id)
            .await
            .unwrap()
            .unwrap()
            .account_id
            .unwrap()
    };
    let send = |sender: &str, role: &str, client_id: &str, body: &str| NewMessage {
        consultation_id: cid.clone(),
        sender_id: sender.into(),
        sender_role: role.into(),
        client_id: client_id.into(),
        kind: "text".into(),
        body: Some(body.into()),
        attachment_id: None,
        created_at: now_ms(),
    };
    let before = [
        send(&patient_account, "patient", "c-1", "医生您好"),
        // The same client id from the other side is another message.
        send(&f.doctor_id, "doctor", "c-1", "请讲"),
        send(&patient_account, "patient", "c-2", "血糖复查结果已上传"),
    ];
    {
        let mut conn = f.store.conn().await.unwrap();
        for m in &before {
            assert!(matches!(
                c::append_message(&mut conn, m).await.unwrap(),
                Appended::New(_)
            ));
        }
    }

    f.store.migrate().await.unwrap();

    let mut conn = f.store.conn().await.unwrap();
    let kept: Vec<(i64, String, String)> = c::messages_after(&mut conn, &cid, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.seq, m.client_id, m.body.unwrap_or_default()))
        .collect();
    assert_eq!(
        kept,
        vec![
            (1, "c-1".to_string(), "医生您好".to_string()),
            (2, "c-1".to_string(), "请讲".to_string()),
            (3, "c-2".to_string(), "血糖复查结果已上传".to_string()),
        ]
    );
    // A resend of a message stored before the upgrade is still recognised...
    let Appended::Repeat(again) = c::append_message(&mut conn, &before[2]).await.unwrap() else {
        panic!("a resend after the upgrade is recognised")
    };
    assert_eq!(again.seq, 3);
    // ...and numbering goes on without a gap.
    let Appended::New(next) =
        c::append_message(&mut conn, &send(&patient_account, "patient", "c-3", "谢谢"))
            .await
            .unwrap()
    else {
        panic!("a new message after the upgrade is stored")
    };
    assert_eq!(next.seq, 4);
}
