use chrono::Duration;
use ihos_domain::scheduling::{local_date, weekday_number};
use ihos_server::Settings;
use ihos_store::now_ms;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

struct Clinic {
    app: TestApp,
    org: String,
    org_admin: Session,
    doctor: String,
}

async fn clinic_with(adjust: impl FnOnce(&mut Settings)) -> Clinic {
    let app = spawn_app_with(adjust).await;
    let admin = app.platform_admin().await;
    let org = app.hospital(&admin, "城东医院").await;
    let org_admin = app.org_admin(&admin, &org).await;
    let (doctor, _) = app.doctor(&org_admin, &org, "2008-07-01").await;
    Clinic {
        app,
        org,
        org_admin,
        doctor,
    }
}

async fn clinic() -> Clinic {
    clinic_with(|_| {}).await
}

/// The local (Asia/Shanghai) date `n` days from today.
fn day(n: i64) -> String {
    (local_date(now_ms()) + Duration::days(n))
        .format("%Y-%m-%d")
        .to_string()
}

impl Clinic {
    async fn extra_hours(
        &self,
        doctor: &str,
        date: &str,
        start: &str,
        end: &str,
        capacity: i64,
    ) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/doctors/{doctor}/extra-hours"),
                Some(&self.org_admin),
                &json!({"org_id": self.org, "date": date, "start": start, "end": end,
                        "slot_minutes": 15, "capacity": capacity, "slot_type": "expert",
                        "fee_fen": 5000, "mode": "offline"}),
            )
            .await
    }

    /// Slots of `doctor` on `date` from the public search, in time order.
    async fn slots(&self, doctor: &str, date: &str) -> Vec<Value> {
        let found: Value = self
            .app
            .get(&format!("/api/v1/schedule?date={date}"), None)
            .await
            .json()
            .await
            .unwrap();
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["doctor_id"] == doctor)
            .map(|d| d["slots"].as_array().unwrap().clone())
            .unwrap_or_default()
    }

    async fn one_slot(&self, date: &str, start: &str, capacity: i64) -> String {
        let (h, m) = start.split_once(':').unwrap();
        let end_min = h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap() + 15;
        let end = format!("{:02}:{:02}", end_min / 60, end_min % 60);
        let resp = self
            .extra_hours(&self.doctor, date, start, &end, capacity)
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        let slots = self.slots(&self.doctor, date).await;
        let slot = slots.iter().find(|s| s["start"] == start).unwrap();
        s(&slot["id"])
    }

    async fn book(&self, who: &Session, slot: &str) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/v1/slots/{slot}/bookings"),
                Some(who),
                &json!({}),
            )
            .await
    }
}

/// Every (patient, slot) booking sent at once; answers (slot, status, body).
async fn book_all(
    c: &Clinic,
    attempts: Vec<(Session, String)>,
) -> Vec<(String, StatusCode, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for (who, slot) in attempts {
        let (client, url) = (
            c.app.client.clone(),
            c.app.url(&format!("/api/v1/slots/{slot}/bookings")),
        );
        set.spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(&who.token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            (slot, status, body)
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = set.join_next().await {
        answers.push(r.unwrap());
    }
    answers
}

#[tokio::test]
async fn fifty_concurrent_bookings_for_five_seats_confirm_exactly_five() {
    let c = clinic().await;
    let slot = c.one_slot(&day(2), "10:00", 5).await;
    let mut patients = Vec::new();
    for i in 0..50 {
        let name = format!("患者{}", ["甲", "乙", "丙", "丁", "戊"][i % 5]);
        patients.push(c.app.sign_up_patient(&name).await.session);
    }
    let attempts = patients.into_iter().map(|p| (p, slot.clone())).collect();
    let (mut confirmed, mut refused, mut codes) = (0, 0, std::collections::HashSet::new());
    for (_, status, body) in book_all(&c, attempts).await {
        match status {
            StatusCode::CREATED => {
                confirmed += 1;
                codes.insert(s(&body["code"]));
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["error"], "slot_unavailable", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((confirmed, refused), (5, 45));
    assert_eq!(codes.len(), 5, "every booking has its own code");
    let slots = c.slots(&c.doctor, &day(2)).await;
    assert_eq!(slots[0]["remaining"], 0);
    let mut conn = c.app.state.store.conn().await.unwrap();
    let (booked, oversold, duplicates, mismatched) =
        ihos_store::scheduling::rush_invariants(&mut conn, &c.doctor)
            .await
            .unwrap();
    assert_eq!((booked, oversold, duplicates, mismatched), (5, 0, 0, 0));
}

/// Bookings for many slots at once (on PostgreSQL they are written in
/// batches): two patients per seat, and one patient trying two doctors at
/// the same time. Every seat goes once and the patient gets one of the two.
#[tokio::test]
async fn many_slots_booked_at_once_each_go_once_and_a_double_booking_race_has_one_winner() {
    let c = clinic().await;
    let resp = c.extra_hours(&c.doctor, &day(2), "08:00", "12:00", 1).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let slots: Vec<String> = c
        .slots(&c.doctor, &day(2))
        .await
        .iter()
        .map(|x| s(&x["id"]))
        .collect();
    assert_eq!(slots.len(), 16);
    let (other_doctor, _) = c.app.doctor(&c.org_admin, &c.org, "2009-07-01").await;
    let resp = c
        .extra_hours(&other_doctor, &day(2), "08:00", "08:15", 1)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let same_time = s(&c.slots(&other_doctor, &day(2)).await[0]["id"]);
    let mut attempts = Vec::new();
    for (i, slot) in slots.iter().enumerate().skip(1) {
        for k in 0..2 {
            let name = format!("患者{}", ["甲", "乙", "丙", "丁"][(2 * i + k) % 4]);
            attempts.push((c.app.sign_up_patient(&name).await.session, slot.clone()));
        }
    }
    let both = c.app.sign_up_patient("王五").await.session;
    attempts.push((both.clone(), slots[0].clone()));
    attempts.push((both.clone(), same_time.clone()));
    let mut won = std::collections::HashMap::new();
    let mut refusals = std::collections::HashMap::new();
    for (slot, status, body) in book_all(&c, attempts).await {
        match status {
            StatusCode::CREATED => *won.entry(slot).or_insert(0) += 1,
            StatusCode::CONFLICT => *refusals.entry(s(&body["error"])).or_insert(0) += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    // 15 contested seats, one each; the double-booker got exactly one of theirs.
    assert!(slots[1..].iter().all(|x| won.get(x) == Some(&1)), "{won:?}");
    assert_eq!(
        won.get(&slots[0]).unwrap_or(&0) + won.get(&same_time).unwrap_or(&0),
        1,
        "{won:?}"
    );
    assert_eq!(refusals.get("slot_unavailable"), Some(&15), "{refusals:?}");
    assert_eq!(refusals.get("double_booking"), Some(&1), "{refusals:?}");
    let mut conn = c.app.state.store.conn().await.unwrap();
    for doctor in [&c.doctor, &other_doctor] {
        let (_, oversold, duplicates, mismatched) =
            ihos_store::scheduling::rush_invariants(&mut conn, doctor)
                .await
                .unwrap();
        assert_eq!((oversold, duplicates, mismatched), (0, 0, 0));
    }
}

/// On PostgreSQL the booking writers keep connections of their own: a
/// server that has taken bookings still stops and gives every connection
/// back, and the next one goes on from what was written.
#[tokio::test]
async fn a_server_that_took_bookings_stops_cleanly_and_the_next_goes_on() {
    let c = clinic().await;
    let slot = c.one_slot(&day(2), "10:00", 2).await;
    let p = c.app.sign_up_patient("张三").await;
    assert_eq!(
        c.book(&p.session, &slot).await.status(),
        StatusCode::CREATED
    );
    let Clinic {
        app,
        org,
        org_admin,
        doctor,
    } = c;
    let c = Clinic {
        app: app.restart().await,
        org,
        org_admin,
        doctor,
    };
    let q = c.app.sign_up_patient("李四").await;
    assert_eq!(
        c.book(&q.session, &slot).await.status(),
        StatusCode::CREATED
    );
    let r = c.app.sign_up_patient("王五").await;
    let full = c.book(&r.session, &slot).await;
    assert_error(full, StatusCode::CONFLICT, "slot_unavailable").await;
}

#[tokio::test]
async fn a_patient_cannot_hold_two_bookings_at_the_same_time() {
    let c = clinic().await;
    let (other_doctor, _) = c.app.doctor(&c.org_admin, &c.org, "2009-07-01").await;
    let slot_a = c.one_slot(&day(2), "10:00", 3).await;
    let resp = c
        .extra_hours(&other_doctor, &day(2), "10:00", "10:30", 3)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let slot_b = s(&c.slots(&other_doctor, &day(2)).await[0]["id"]);
    let p = c.app.sign_up_patient("张三").await;

    let first = c.book(&p.session, &slot_a).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let booked: Value = first.json().await.unwrap();
    assert_eq!(booked["status"], "booked");
    assert_eq!(s(&booked["code"]).len(), 8);

    let again = c.book(&p.session, &slot_a).await;
    assert_error(again, StatusCode::CONFLICT, "double_booking").await;
    let elsewhere = c.book(&p.session, &slot_b).await;
    assert_error(elsewhere, StatusCode::CONFLICT, "double_booking").await;
    // Nothing was taken by the refused attempts.
    assert_eq!(c.slots(&c.doctor, &day(2)).await[0]["remaining"], 2);
    assert_eq!(c.slots(&other_doctor, &day(2)).await[0]["remaining"], 3);
}

#[tokio::test]
async fn the_per_day_limit_holds_until_a_booking_is_cancelled() {
    let c = clinic_with(|s| s.scheduling.daily_limit = 2).await;
    let resp = c.extra_hours(&c.doctor, &day(3), "09:00", "10:00", 2).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let slots = c.slots(&c.doctor, &day(3)).await;
    assert_eq!(slots.len(), 4);
    let p = c.app.sign_up_patient("李四").await;
    let first: Value = c
        .book(&p.session, &s(&slots[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        c.book(&p.session, &s(&slots[1]["id"])).await.status(),
        StatusCode::CREATED
    );
    let third = c.book(&p.session, &s(&slots[2]["id"])).await;
    assert_error(third, StatusCode::CONFLICT, "daily_limit_reached").await;
    // Another day is not limited by this one.
    let resp = c.extra_hours(&c.doctor, &day(4), "09:00", "09:15", 2).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let next_day = s(&c.slots(&c.doctor, &day(4)).await[0]["id"]);
    assert_eq!(
        c.book(&p.session, &next_day).await.status(),
        StatusCode::CREATED
    );

    let cancel = c
        .app
        .post(
            &format!("/api/v1/appointments/{}/cancel", s(&first["id"])),
            Some(&p.session),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    assert_eq!(
        c.book(&p.session, &s(&slots[2]["id"])).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn booking_before_release_is_refused() {
    let c = clinic().await;
    // Released 7 days ahead at 07:00: ten days ahead is not open yet.
    let slot = c.one_slot(&day(10), "10:00", 3).await;
    let shown = c.slots(&c.doctor, &day(10)).await;
    assert_eq!(shown[0]["released"], false);
    let p = c.app.sign_up_patient("王五").await;
    let body = assert_error(
        c.book(&p.session, &slot).await,
        StatusCode::CONFLICT,
        "slot_not_released",
    )
    .await;
    assert!(s(&body["detail"]).contains("07:00"), "{body}");
    assert_eq!(c.slots(&c.doctor, &day(10)).await[0]["remaining"], 3);
    // Without a session nothing is booked either.
    let anon = c
        .app
        .post(&format!("/api/v1/slots/{slot}/bookings"), None, &json!({}))
        .await;
    assert_error(anon, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn cancelling_before_the_cut_off_refunds_in_full_and_gives_the_seat_back() {
    let c = clinic().await;
    let slot = c.one_slot(&day(3), "10:00", 1).await;
    let p = c.app.sign_up_patient("赵六").await;
    let booked: Value = c.book(&p.session, &slot).await.json().await.unwrap();
    let q = c.app.sign_up_patient("钱七").await;
    assert_error(
        c.book(&q.session, &slot).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;

    let resp = c
        .app
        .post(
            &format!("/api/v1/appointments/{}/cancel", s(&booked["id"])),
            Some(&p.session),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cancelled: Value = resp.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["refund_fen"], 5000);
    let twice = c
        .app
        .post(
            &format!("/api/v1/appointments/{}/cancel", s(&booked["id"])),
            Some(&p.session),
            &json!({}),
        )
        .await;
    assert_error(twice, StatusCode::CONFLICT, "not_cancellable").await;
    // The freed seat is bookable at once by the patient who was refused.
    assert_eq!(
        c.book(&q.session, &slot).await.status(),
        StatusCode::CREATED
    );
    // Someone else's appointment is not yours to cancel.
    let mine: Value = c
        .app
        .get("/api/v1/me/appointments", Some(&q.session))
        .await
        .json()
        .await
        .unwrap();
    let theirs = c
        .app
        .post(
            &format!("/api/v1/appointments/{}/cancel", s(&mine[0]["id"])),
            Some(&p.session),
            &json!({}),
        )
        .await;
    assert_error(theirs, StatusCode::NOT_FOUND, "not_found").await;
}

/// A cancel posted with the patient's session cookie from a page on another
/// origin (another port of the same host counts) is refused and changes
/// nothing; the same request from the platform's own page goes through.
#[tokio::test]
async fn a_page_on_another_origin_cannot_cancel_a_booking_with_the_patients_cookie() {
    let c = clinic().await;
    let slot = c.one_slot(&day(3), "10:00", 1).await;
    let p = c.app.sign_up_patient("孙八").await;
    let booked: Value = c.book(&p.session, &slot).await.json().await.unwrap();
    let cancel = c
        .app
        .url(&format!("/api/v1/appointments/{}/cancel", s(&booked["id"])));
    let own_origin = c.app.url("").trim_end_matches('/').to_string();
    let cookie = format!("ihos_session={}", p.session.token);
    let client = reqwest::Client::new();
    let from = |headers: &[(&'static str, &str)]| {
        let mut req = client.post(&cancel).header("cookie", &cookie);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };

    let other_port = "http://127.0.0.1:1";
    for headers in [
        vec![("origin", other_port), ("sec-fetch-site", "same-site")],
        vec![
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        // An older browser that sends only Origin.
        vec![("origin", other_port)],
    ] {
        let refused = from(&headers).await.unwrap();
        assert_error(refused, StatusCode::FORBIDDEN, "cross_site_request").await;
    }
    let still: Value = c
        .app
        .get(
            &format!("/api/v1/appointments/{}", s(&booked["id"])),
            Some(&p.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "booked", "{still}");

    let ok = from(&[("origin", &own_origin), ("sec-fetch-site", "same-origin")])
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let cancelled: Value = ok.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
}

#[tokio::test]
async fn cancelling_after_the_cut_off_counts_as_late_without_refund() {
    // A cut-off of 30 days makes a booking three days ahead "late".
    let c = clinic_with(|s| s.scheduling.cancel_cutoff_hours = 24 * 30).await;
    let slot = c.one_slot(&day(3), "10:00", 2).await;
    let p = c.app.sign_up_patient("孙八").await;
    let booked: Value = c.book(&p.session, &slot).await.json().await.unwrap();
    let resp = c
        .app
        .post(
            &format!("/api/v1/appointments/{}/cancel", s(&booked["id"])),
            Some(&p.session),
            &json!({}),
        )
        .await;
    let late: Value = resp.json().await.unwrap();
    assert_eq!(late["status"], "late_cancelled");
    assert_eq!(late["refund_fen"], 0);
    assert_eq!(c.slots(&c.doctor, &day(3)).await[0]["remaining"], 2);
    // The doctor's day list shows the late cancellation on the patient's record.
    let rebooked: Value = c.book(&p.session, &slot).await.json().await.unwrap();
    assert_eq!(rebooked["status"], "booked");
    let day_view: Value = c
        .app
        .get(
            &format!("/api/v1/doctors/{}/day?date={}", c.doctor, day(3)),
            Some(&c.org_admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let row = day_view["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"] == "booked")
        .unwrap();
    assert_eq!(row["late_cancellations"], 1);
}

#[tokio::test]
async fn changing_a_template_notifies_the_patients_it_displaces_and_keeps_the_rest() {
    let c = clinic().await;
    let date = local_date(now_ms()) + Duration::days(2);
    let weekday = i64::from(weekday_number(date));
    let template = json!({"org_id": c.org, "weekday": weekday, "start": "08:00", "end": "09:00",
                          "slot_minutes": 15, "capacity": 2, "slot_type": "specialist", "fee_fen": 3000, "mode": "offline"});
    let resp = c
        .app
        .post(
            &format!("/api/v1/doctors/{}/templates", c.doctor),
            Some(&c.org_admin),
            &template,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    let template_id = s(&created["template"]["id"]);
    assert!(created["slots_created"].as_i64().unwrap() >= 4);
    let slots = c.slots(&c.doctor, &day(2)).await;
    assert_eq!(slots.len(), 4);
    assert_eq!(slots[0]["start"], "08:00");

    let early = c.app.sign_up_patient("周九").await;
    let later = c.app.sign_up_patient("吴十").await;
    let displaced: Value = c
        .book(&early.session, &s(&slots[0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    let kept: Value = c
        .book(&later.session, &s(&slots[1]["id"]))
        .await
        .json()
        .await
        .unwrap();

    // Hours move from 08:00-09:00 to 08:15-09:15: the 08:00 slot goes away.
    let mut changed = template.clone();
    changed["start"] = json!("08:15");
    changed["end"] = json!("09:15");
    let resp = c
        .app
        .client
        .put(
            c.app
                .url(&format!("/api/v1/schedule-templates/{template_id}")),
        )
        .bearer_auth(&c.org_admin.token)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let change: Value = resp.json().await.unwrap();
    assert_eq!(change["appointments_displaced"], 1, "{change}");
    assert!(change["slots_kept"].as_i64().unwrap() >= 3);

    let mine: Value = c
        .app
        .get("/api/v1/me/appointments", Some(&early.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["id"], displaced["id"]);
    assert_eq!(mine[0]["status"], "displaced");
    assert_eq!(mine[0]["refund_fen"], 3000);
    let inbox: Value = c
        .app
        .get("/api/v1/me/notifications", Some(&early.session))
        .await
        .json()
        .await
        .unwrap();
    let notice = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["topic"] == "appointment.displaced")
        .expect("the displaced patient is notified");
    assert_eq!(notice["payload"]["appointment_id"], displaced["id"]);
    assert_eq!(notice["payload"]["start"], "08:00");

    let theirs: Value = c
        .app
        .get("/api/v1/me/appointments", Some(&later.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs[0]["id"], kept["id"]);
    assert_eq!(theirs[0]["status"], "booked");

    // The displaced patient may rebook the new hours that day.
    let now_slots = c.slots(&c.doctor, &day(2)).await;
    assert_eq!(now_slots.last().unwrap()["start"], "09:00");
    let rebook = c
        .book(&early.session, &s(&now_slots.last().unwrap()["id"]))
        .await;
    assert_eq!(rebook.status(), StatusCode::CREATED);

    // The job makes slots only for days that newly enter the horizon.
    let jobs = ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(jobs.slots_created, 0);
    let week_later = now_ms() + 7 * 86_400_000;
    let jobs = ihos_server::scheduling::jobs::run_at(&c.app.state, week_later)
        .await
        .unwrap();
    assert_eq!(jobs.slots_created, 4, "one more week of 08:15-09:15");
}

#[tokio::test]
async fn only_the_doctor_or_their_org_admin_manages_the_schedule() {
    let c = clinic().await;
    let p = c.app.sign_up_patient("郑十一").await;
    let resp = c
        .app
        .post(
            &format!("/api/v1/doctors/{}/extra-hours", c.doctor),
            Some(&p.session),
            &json!({"org_id": c.org, "date": day(2), "start": "10:00", "end": "11:00", "slot_minutes": 15,
                    "capacity": 2, "slot_type": "expert", "fee_fen": 5000, "mode": "offline"}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let bad = c
        .app
        .post(
            &format!("/api/v1/doctors/{}/extra-hours", c.doctor),
            Some(&c.org_admin),
            &json!({"org_id": c.org, "date": day(2), "start": "11:00", "end": "10:00", "slot_minutes": 15,
                    "capacity": 2, "slot_type": "expert", "fee_fen": 5000, "mode": "offline"}),
        )
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_hours").await;
}

#[tokio::test]
async fn the_job_reminds_the_day_before_and_tells_the_queue_position_on_the_day() {
    let c = clinic().await;
    let slot = c.one_slot(&day(1), "10:00", 3).await;
    let first = c.app.sign_up_patient("冯一").await;
    let second = c.app.sign_up_patient("陈二").await;
    c.book(&first.session, &slot).await;
    c.book(&second.session, &slot).await;

    let report = ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(report.reminders, 2);
    assert!(report.delivered >= 2);
    let again = ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(again.reminders, 0, "one reminder per appointment");
    let inbox: Value = c
        .app
        .get("/api/v1/me/notifications", Some(&second.session))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["topic"] == "appointment.reminder")
    );

    // On the day at 07:00, two hours before the slot: queue position and wait.
    let tomorrow = local_date(now_ms()) + Duration::days(1);
    let seven = ihos_domain::scheduling::local_ms(tomorrow, 7 * 60);
    let report = ihos_server::scheduling::jobs::run_at(&c.app.state, seven)
        .await
        .unwrap();
    assert_eq!(report.queue_notices, 2);
    let inbox: Value = c
        .app
        .get("/api/v1/me/notifications", Some(&second.session))
        .await
        .json()
        .await
        .unwrap();
    let queue = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["topic"] == "appointment.queue")
        .unwrap();
    assert_eq!(queue["payload"]["queue_position"], 2);
    // 180 minutes until 10:00, then one patient (15 min / 3 seats) ahead.
    assert_eq!(queue["payload"]["estimated_wait_minutes"], 185);
}

#[tokio::test]
async fn leave_withdraws_the_days_slots_notifies_patients_and_stays_in_force() {
    let c = clinic().await;
    let date = local_date(now_ms()) + Duration::days(2);
    let template = json!({"org_id": c.org, "weekday": i64::from(weekday_number(date)), "start": "14:00", "end": "15:00",
                          "slot_minutes": 30, "capacity": 1, "slot_type": "general", "fee_fen": 1000, "mode": "offline"});
    let resp = c
        .app
        .post(
            &format!("/api/v1/doctors/{}/templates", c.doctor),
            Some(&c.org_admin),
            &template,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let slots = c.slots(&c.doctor, &day(2)).await;
    let p = c.app.sign_up_patient("褚十二").await;
    let booked: Value = c
        .book(&p.session, &s(&slots[0]["id"]))
        .await
        .json()
        .await
        .unwrap();

    let resp = c
        .app
        .post(
            &format!("/api/v1/doctors/{}/leave", c.doctor),
            Some(&c.org_admin),
            &json!({"from": day(2), "to": day(2), "reason": "外出会诊"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let change: Value = resp.json().await.unwrap();
    assert_eq!(change["slots_withdrawn"], 2);
    assert_eq!(change["appointments_displaced"], 1);
    let inbox: Value = c
        .app
        .get("/api/v1/me/notifications", Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    let notice = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["topic"] == "appointment.displaced")
        .unwrap();
    assert_eq!(notice["payload"]["appointment_id"], booked["id"]);
    assert_eq!(notice["payload"]["reason"], "外出会诊");
    assert!(c.slots(&c.doctor, &day(2)).await.is_empty());
    // The job that extends templates does not bring the day back.
    ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert!(c.slots(&c.doctor, &day(2)).await.is_empty());
    let booked_slot = s(&slots[0]["id"]);
    assert_error(
        c.book(&p.session, &booked_slot).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
}

#[tokio::test]
async fn attendance_waits_for_the_slot_and_a_full_slot_is_refused_before_login() {
    let c = clinic().await;
    let slot = c.one_slot(&day(2), "10:00", 1).await;
    let p = c.app.sign_up_patient("卫十三").await;
    let booked: Value = c.book(&p.session, &slot).await.json().await.unwrap();
    let path = format!("/api/v1/appointments/{}/attendance", s(&booked["id"]));
    let by_patient = c
        .app
        .post(&path, Some(&p.session), &json!({"attended": false}))
        .await;
    assert_error(by_patient, StatusCode::NOT_FOUND, "not_found").await;
    let early = c
        .app
        .post(&path, Some(&c.org_admin), &json!({"attended": false}))
        .await;
    assert_error(early, StatusCode::CONFLICT, "not_started").await;
    // The appointment itself, for its patient: still booked, not yet on the day.
    let one: Value = c
        .app
        .get(
            &format!("/api/v1/appointments/{}", s(&booked["id"])),
            Some(&p.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["status"], "booked");
    assert!(one["queue_position"].is_null());
    // Fullness is public: no session is needed to be told the slot is gone.
    let anon = c
        .app
        .post(&format!("/api/v1/slots/{slot}/bookings"), None, &json!({}))
        .await;
    assert_error(anon, StatusCode::CONFLICT, "slot_unavailable").await;
}

/// A stand-in SMS/email gateway: records what it is sent; answers `status`.
async fn gateway(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/sms",
        post(move |axum::Json(v): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(v);
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn notifications_go_to_the_configured_gateway_and_are_retried_when_it_fails() {
    let (url, seen) = gateway(200).await;
    let c = clinic_with(|s| s.notify_channel = url).await;
    let slot = c.one_slot(&day(1), "10:00", 2).await;
    let p = c.app.sign_up_patient("蒋十四").await;
    c.book(&p.session, &slot).await;
    let report = ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(report.delivered, 2, "booking confirmation and reminder");
    let sent = seen.lock().unwrap().clone();
    let reminder = sent
        .iter()
        .find(|n| n["topic"] == "appointment.reminder")
        .unwrap();
    assert_eq!(reminder["phone"], p.phone.as_str());
    assert_eq!(reminder["payload"]["start"], "10:00");
    let again = ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(again.delivered, 0, "each notification is delivered once");

    let (down, tried) = gateway(503).await;
    let c = clinic_with(|s| s.notify_channel = down).await;
    let slot = c.one_slot(&day(3), "10:00", 2).await;
    let p = c.app.sign_up_patient("沈十五").await;
    c.book(&p.session, &slot).await;
    let report = ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(report.delivered, 0);
    ihos_server::scheduling::jobs::run_once(&c.app.state)
        .await
        .unwrap();
    assert_eq!(
        tried.lock().unwrap().len(),
        2,
        "tried again on the next pass"
    );
    let inbox: Value = c
        .app
        .get("/api/v1/me/notifications", Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox[0]["topic"], "appointment.booked");
    assert_eq!(inbox[0]["delivered"], false, "still in the in-app inbox");
}
