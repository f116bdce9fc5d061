//! Chat benchmark: N concurrent consultations, each a patient and a doctor
//! WebSocket exchanging messages in a closed loop, against a running ihos
//! server (`run --mode ihos`) or, with the very same client, against a Node
//! `ws` echo server (`run --mode echo`). Reports delivered messages per
//! second and p50/p99 delivery latency (send -> the other side receives it;
//! for echo: send -> the echo comes back).
//!
//! `seed` prepares a database with N in-progress consultations and session
//! tokens (written straight through the store, bypassing password hashing).
//! Only ever point it at 127.0.0.1.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use ihos_store::consultation::{self as cstore, NewConsultation};
use ihos_store::identity::{self, NewAccount, NewPatient, NewPractitioner};
use ihos_store::{Store, now_ms, org, session};
use serde::{Deserialize, Serialize};
use tokio::sync::{Barrier, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser)]
#[command(name = "chat-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create N in-progress consultations with session tokens in a fresh database.
    Seed {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// Where to write the tokens (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Drive the sessions against a server on 127.0.0.1.
    Run {
        #[arg(long, value_enum)]
        mode: Mode,
        /// e.g. 127.0.0.1:8080
        #[arg(long)]
        addr: String,
        #[arg(long)]
        sessions_file: Option<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// Seconds of measured traffic.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Messages in flight per connection (closed loop).
        #[arg(long, default_value_t = 1)]
        window: usize,
        /// Instead of a closed loop, each connection sends one message every
        /// this many milliseconds (a paced, realistic chat load).
        #[arg(long, default_value_t = 0)]
        interval_ms: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Ihos,
    Echo,
}

#[derive(Serialize, Deserialize, Clone)]
struct SessionSpec {
    consultation_id: String,
    patient_token: String,
    doctor_token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Seed {
            database_url,
            sessions,
            out,
        } => seed(&database_url, sessions, &out).await,
        Command::Run {
            mode,
            addr,
            sessions_file,
            sessions,
            seconds,
            window,
            interval_ms,
        } => {
            if !addr.starts_with("127.0.0.1:") {
                bail!("benchmarks only target 127.0.0.1");
            }
            let specs = match (mode, sessions_file) {
                (Mode::Ihos, Some(f)) => {
                    let all: Vec<SessionSpec> = serde_json::from_slice(&std::fs::read(&f)?)?;
                    all.into_iter().take(sessions).collect()
                }
                (Mode::Ihos, None) => bail!("--sessions-file is needed for ihos mode"),
                (Mode::Echo, _) => (0..sessions)
                    .map(|i| SessionSpec {
                        consultation_id: format!("echo-{i}"),
                        patient_token: String::new(),
                        doctor_token: String::new(),
                    })
                    .collect(),
            };
            run(
                mode,
                &addr,
                specs,
                Duration::from_secs(seconds),
                window,
                interval_ms,
            )
            .await
        }
    }
}

async fn seed(url: &str, n: usize, out: &PathBuf) -> anyhow::Result<()> {
    let store = Store::connect(url, 4).await?;
    store.migrate().await?;
    let mut tx = store.begin().await?;
    let now = now_ms();
    let org_id = org::insert_org(
        &mut tx,
        &org::NewOrg {
            name: "压测医院".into(),
            kind: "hospital".into(),
            level: Some("三级甲等".into()),
            province: "浙江省".into(),
            city: "杭州市".into(),
        },
    )
    .await?;
    let account = |name: String, i: usize| NewAccount {
        display_name: name,
        phone_enc: format!("bench-enc-{i}"),
        phone_hash: format!("bench-hash-{i}"),
        password_hash: "not-a-login".into(),
    };
    let doctors = n.div_ceil(20).max(1);
    let mut doctor_ids = Vec::new();
    let mut doctor_tokens = Vec::new();
    for d in 0..doctors {
        let id =
            identity::insert_account(&mut tx, &account(format!("医生{d}"), 1_000_000 + d)).await?;
        identity::insert_practitioner(
            &mut tx,
            &id,
            &format!("医生{d}"),
            &NewPractitioner {
                role: "doctor".into(),
                title: "attending_physician".into(),
                licence_no: format!("BENCH{d:08}"),
                practising_since: "2010-01-01".into(),
                created_by: id.clone(),
                affiliations: vec![identity::NewAffiliation {
                    org_id: org_id.clone(),
                    department_id: None,
                    is_primary: true,
                }],
            },
        )
        .await?;
        let token = format!("bench-doctor-{d}-{}", ihos_store::new_id());
        session::insert_session(
            &mut tx,
            &ihos_server::crypto::token_hash(&token),
            &id,
            now,
            now + 86_400_000,
        )
        .await?;
        doctor_ids.push(id);
        doctor_tokens.push(token);
    }
    let mut specs = Vec::with_capacity(n);
    for i in 0..n {
        let acc = identity::insert_account(&mut tx, &account(format!("患者{i}"), i)).await?;
        identity::grant_role(&mut tx, &acc, "patient", "").await?;
        let patient_id = identity::insert_patient(
            &mut tx,
            Some(&acc),
            &NewPatient {
                name: format!("患者{i}"),
                resident_id_enc: format!("bench-rid-{i}"),
                resident_id_hash: format!("bench-rid-hash-{i}"),
                resident_id_masked: "330102********0000".into(),
                birth_date: "1980-01-01".into(),
                sex: "female".into(),
                phone_enc: None,
                guardian_account_id: None,
                guardian_relation: None,
            },
        )
        .await?;
        let token = format!("bench-patient-{i}-{}", ihos_store::new_id());
        session::insert_session(
            &mut tx,
            &ihos_server::crypto::token_hash(&token),
            &acc,
            now,
            now + 86_400_000,
        )
        .await?;
        let d = i % doctors;
        let cid = cstore::insert_consultation(
            &mut tx,
            &NewConsultation {
                patient_id,
                requester_id: acc,
                guardian_present: false,
                doctor_id: doctor_ids[d].clone(),
                org_id: org_id.clone(),
                department_id: None,
                tier: "gp".into(),
                parent_id: None,
                status: "in_progress".into(),
                complaint: "复诊".into(),
                suggested_specialty: None,
                evidence_kind: Some("outpatient_record".into()),
                evidence_ref: Some("bench".into()),
                evidence_note: None,
                first_visit_pilot: false,
                appointment_id: None,
                subscription_id: None,
                fee_fen: 0,
                created_at: now,
                expires_at: now + 86_400_000,
            },
        )
        .await?;
        specs.push(SessionSpec {
            consultation_id: cid,
            patient_token: token,
            doctor_token: doctor_tokens[d].clone(),
        });
    }
    tx.commit().await?;
    std::fs::write(out, serde_json::to_vec(&specs)?)?;
    println!("seeded {n} consultations with {doctors} doctors");
    Ok(())
}

#[derive(Default)]
struct Totals {
    delivered: AtomicU64,
    sent: AtomicU64,
    errors: AtomicU64,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    text: Option<&'a str>,
    #[serde(default)]
    sender_role: Option<&'a str>,
}

async fn run(
    mode: Mode,
    addr: &str,
    specs: Vec<SessionSpec>,
    duration: Duration,
    window: usize,
    interval_ms: u64,
) -> anyhow::Result<()> {
    let conns = specs.len() * 2;
    let totals = Arc::new(Totals::default());
    let barrier = Arc::new(Barrier::new(conns + 1));
    let origin = Instant::now();
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel::<Vec<u32>>();
    let measuring = Arc::new(tokio::sync::Notify::new());
    let mut handles = Vec::with_capacity(conns);
    for spec in specs {
        for role in ["patient", "doctor"] {
            let url = match mode {
                Mode::Ihos => format!(
                    "ws://{addr}/api/v1/consultations/{}/chat?after=999999999",
                    spec.consultation_id
                ),
                Mode::Echo => format!("ws://{addr}/"),
            };
            let token = if role == "patient" {
                spec.patient_token.clone()
            } else {
                spec.doctor_token.clone()
            };
            let ctx = ConnCtx {
                mode,
                role,
                url,
                token,
                totals: totals.clone(),
                barrier: barrier.clone(),
                origin,
                duration,
                window,
                interval: Duration::from_millis(interval_ms),
                lat_tx: lat_tx.clone(),
            };
            handles.push(tokio::spawn(connection(ctx)));
            // Do not stampede the accept queue.
            if handles.len() % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop(lat_tx);
    let _ = measuring;
    barrier.wait().await;
    let start = Instant::now();
    println!(
        "{conns} connections open ({} sessions), measuring for {} s...",
        conns / 2,
        duration.as_secs()
    );
    let sent_before = totals.sent.load(Ordering::Relaxed);
    tokio::time::sleep(duration).await;
    let delivered_in_window = totals.delivered.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let sent = totals.sent.load(Ordering::Relaxed) - sent_before;
    for h in handles {
        let _ = h.await;
    }
    let mut lat: Vec<u32> = Vec::new();
    while let Some(mut v) = lat_rx.recv().await {
        lat.append(&mut v);
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
            f64::from(lat[i]) / 1000.0
        }
    };
    println!(
        "mode={} sessions={} window={} interval_ms={} sent={} delivered={} errors={} throughput={:.0} msg/s p50={:.2} ms p99={:.2} ms max={:.2} ms",
        if mode == Mode::Ihos { "ihos" } else { "echo" },
        conns / 2,
        window,
        interval_ms,
        sent,
        delivered_in_window,
        totals.errors.load(Ordering::Relaxed),
        delivered_in_window as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    Ok(())
}

struct ConnCtx {
    mode: Mode,
    role: &'static str,
    url: String,
    token: String,
    totals: Arc<Totals>,
    barrier: Arc<Barrier>,
    origin: Instant,
    duration: Duration,
    window: usize,
    interval: Duration,
    lat_tx: mpsc::UnboundedSender<Vec<u32>>,
}

async fn connection(ctx: ConnCtx) {
    let ws = match open(&ctx).await {
        Ok(ws) => Some(ws),
        Err(e) => {
            eprintln!("connect failed: {e:#}");
            ctx.totals.errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    };
    ctx.barrier.wait().await;
    let Some(ws) = ws else {
        return;
    };
    let (mut w, mut r) = ws.split();
    let (credit_tx, mut credit_rx) = mpsc::unbounded_channel::<()>();
    let stop_at = Instant::now() + ctx.duration;
    let origin = ctx.origin;
    let mode = ctx.mode;
    let role = ctx.role;
    let totals = ctx.totals.clone();
    let reader = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(4096);
        let grace = stop_at + Duration::from_secs(2);
        loop {
            let next = tokio::time::timeout_at(grace.into(), r.next()).await;
            let Ok(Some(Ok(Message::Text(t)))) = next else {
                match next {
                    Ok(Some(Ok(_))) => continue,
                    _ => break,
                }
            };
            let Ok(f) = serde_json::from_str::<Frame>(t.as_str()) else {
                continue;
            };
            let now_us = origin.elapsed().as_micros() as u64;
            let stamp = |text: Option<&str>| {
                text.and_then(|s| s.strip_prefix('t'))
                    .and_then(|s| s.split('-').next())
                    .and_then(|s| s.parse::<u64>().ok())
            };
            match (mode, f.kind) {
                // The other side's message arrived: one delivery.
                (Mode::Ihos, "message") if f.sender_role != Some(role) => {
                    if let Some(t0) = stamp(f.text) {
                        if Instant::now() < stop_at {
                            totals.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        lat.push(now_us.saturating_sub(t0).min(u64::from(u32::MAX)) as u32);
                    }
                }
                // Our own message back from the room: it is committed, the next one may go.
                (Mode::Ihos, "message" | "ack") => {
                    let _ = credit_tx.send(());
                }
                (Mode::Ihos, "error") => {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                    let _ = credit_tx.send(());
                }
                (Mode::Echo, "send") => {
                    if let Some(t0) = stamp(f.text) {
                        if Instant::now() < stop_at {
                            totals.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        lat.push(now_us.saturating_sub(t0).min(u64::from(u32::MAX)) as u32);
                    }
                    let _ = credit_tx.send(());
                }
                _ => {}
            }
        }
        lat
    });
    let mut n: u64 = 0;
    let mut in_flight = 0usize;
    // Client ids are unique per run: a rerun on the same database must not look like resends.
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let frame_for = |w_n: u64| {
        let t = ctx.origin.elapsed().as_micros() as u64;
        format!(
            "{{\"type\":\"send\",\"client_id\":\"{}-{run_id}-{w_n}\",\"kind\":\"text\",\"text\":\"t{t}-{}\"}}",
            ctx.role, "血糖复查结果已上传请医生查看"
        )
    };
    if !ctx.interval.is_zero() {
        // Paced: spread the connections over the interval, then one message per tick.
        let offset = Duration::from_micros(
            (ctx.origin.elapsed().as_nanos() as u64 % 1000) * ctx.interval.as_micros() as u64
                / 1000,
        );
        tokio::time::sleep(offset).await;
        let mut tick = tokio::time::interval(ctx.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if Instant::now() >= stop_at {
                break;
            }
            n += 1;
            if w.send(Message::Text(frame_for(n).into())).await.is_err() {
                ctx.totals.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
            ctx.totals.sent.fetch_add(1, Ordering::Relaxed);
            while credit_rx.try_recv().is_ok() {}
        }
    } else {
        loop {
            while in_flight < ctx.window && Instant::now() < stop_at {
                n += 1;
                if w.send(Message::Text(frame_for(n).into())).await.is_err() {
                    ctx.totals.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                ctx.totals.sent.fetch_add(1, Ordering::Relaxed);
                in_flight += 1;
            }
            if Instant::now() >= stop_at {
                break;
            }
            match tokio::time::timeout_at(stop_at.into(), credit_rx.recv()).await {
                Ok(Some(())) => in_flight = in_flight.saturating_sub(1),
                _ => break,
            }
        }
    }
    let lat = reader.await.unwrap_or_default();
    let _ = w.close().await;
    let _ = ctx.lat_tx.send(lat);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(ctx: &ConnCtx) -> anyhow::Result<Ws> {
    let mut req = ctx.url.as_str().into_client_request()?;
    if ctx.mode == Mode::Ihos {
        req.headers_mut()
            .insert("authorization", format!("Bearer {}", ctx.token).parse()?);
    }
    // The same small read buffer as the ihos server (tungstenite zeroes it on every read).
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), false)
        .await
        .with_context(|| format!("connecting {}", ctx.url))?;
    if ctx.mode == Mode::Ihos {
        // Wait until the server has sent the backlog and the room is live.
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains("\"ready\"") => break,
                Some(Ok(_)) => {}
                _ => bail!("closed before ready"),
            }
        }
    }
    Ok(ws)
}
