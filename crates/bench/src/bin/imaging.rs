//! Cloud imaging benchmark: STOW-RS ingest throughput (N concurrent clients,
//! one instance per request) and WADO-RS study-metadata latency, for ihos
//! and, side by side on the same files and machine, Orthanc from Debian's
//! packages; plus ihos ingest throughput from an empty store up to a large
//! one. Only 127.0.0.1 is targeted. Not part of `cargo test`.
//!
//! cargo run --release -p ihos-bench --bin imaging -- [--instances 3000]
//!     [--clients 5] [--size 128] [--per-study 20] [--meta 1000]
//!     [--fill 100000] [--window 5000] [--skip-orthanc] [--minutes 25]

// The server runs in this process: the same allocator as `ihos serve`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use ihos_server::imaging::dicom::{Synth, new_uid, synth_ct};
use ihos_server::{AppState, Settings};

/// Cloud imaging benchmark: STOW-RS ingest and WADO-RS metadata latency,
/// ihos beside Orthanc, and ingest from an empty store up to a large one
/// (127.0.0.1 only).
#[derive(Debug, Clone, Parser)]
#[command(name = "imaging")]
struct Opts {
    /// Instances sent in the side-by-side comparison.
    #[arg(long, default_value_t = 3000)]
    instances: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Rows and columns of each synthetic CT image.
    #[arg(long, default_value_t = 128)]
    size: u16,
    /// Instances per study.
    #[arg(long, default_value_t = 20)]
    per_study: usize,
    /// Study-metadata requests measured.
    #[arg(long, default_value_t = 1000)]
    meta: usize,
    /// Fill ihos alone up to this many instances (0: skip).
    #[arg(long, default_value_t = 0)]
    fill: usize,
    /// Instances per measured window while filling.
    #[arg(long, default_value_t = 5000)]
    window: usize,
    /// Run ihos only.
    #[arg(long)]
    skip_orthanc: bool,
    /// Stop filling after this many minutes.
    #[arg(long, default_value_t = 25)]
    minutes: u64,
}

fn opts() -> anyhow::Result<Opts> {
    Ok(Opts::parse())
}

/// A template instance with fixed-length UIDs, patched per instance (cheap:
/// the client must not eat the CPU the servers need).
struct Template {
    bytes: Vec<u8>,
    study_at: Vec<usize>,
    series_at: Vec<usize>,
    sop_at: Vec<usize>,
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

impl Template {
    fn new(size: u16) -> Self {
        let (study, series, sop) = (new_uid(), new_uid(), new_uid());
        let bytes = synth_ct(&Synth {
            study_uid: study.clone(),
            series_uid: series.clone(),
            sop_uid: sop.clone(),
            patient_id: "BENCH-0001".into(),
            patient_name: "Bench^Patient".into(),
            study_date: "20261120".into(),
            accession_number: "BENCH".into(),
            modality: "CT".into(),
            series_number: 1,
            instance_number: 1,
            size,
        });
        Self {
            study_at: find_all(&bytes, study.as_bytes()),
            series_at: find_all(&bytes, series.as_bytes()),
            sop_at: find_all(&bytes, sop.as_bytes()),
            bytes,
        }
    }

    fn instance(&self, study: &str, series: &str) -> (String, Vec<u8>) {
        let sop = new_uid();
        let mut b = self.bytes.clone();
        for (at, v) in [
            (&self.study_at, study),
            (&self.series_at, series),
            (&self.sop_at, sop.as_str()),
        ] {
            for &i in at {
                b[i..i + v.len()].copy_from_slice(v.as_bytes());
            }
        }
        (sop, b)
    }
}

/// Instance `n` belongs to study `n / per_study`; study UIDs are derived
/// so every client agrees without coordination.
struct Plan {
    studies: Vec<(String, String)>,
    per_study: usize,
}

impl Plan {
    fn new(total: usize, per_study: usize) -> Self {
        Self {
            studies: (0..total.div_ceil(per_study))
                .map(|_| (new_uid(), new_uid()))
                .collect(),
            per_study,
        }
    }
}

struct Target {
    name: &'static str,
    base: String,
    token: Option<String>,
}

fn multipart(file: &[u8]) -> (String, Vec<u8>) {
    let b = "ihos-bench-boundary";
    let mut body = Vec::with_capacity(file.len() + 128);
    body.extend_from_slice(format!("--{b}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (
        format!("multipart/related; type=\"application/dicom\"; boundary={b}"),
        body,
    )
}

/// Store instances `from..to` of the plan with `clients` concurrent
/// clients; answers instances per second.
async fn ingest(
    t: &Target,
    client: &reqwest::Client,
    tpl: &Arc<Template>,
    plan: &Arc<Plan>,
    from: usize,
    to: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(from));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, tpl, plan, client) = (next.clone(), tpl.clone(), plan.clone(), client.clone());
        let url = format!("{}/dicom-web/studies", t.base);
        let token = t.token.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= to {
                    return Ok::<(), anyhow::Error>(());
                }
                let (study, series) = &plan.studies[n / plan.per_study];
                let (_, file) = tpl.instance(study, series);
                let (ct, body) = multipart(&file);
                let mut req = client
                    .post(&url)
                    .header("Content-Type", ct)
                    .header("Accept", "application/dicom+json")
                    .body(body);
                if let Some(tok) = &token {
                    req = req.bearer_auth(tok);
                }
                let resp = req.send().await?;
                if !resp.status().is_success() {
                    bail!("STOW {} -> {}: {}", n, resp.status(), resp.text().await?);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((to - from) as f64 / start.elapsed().as_secs_f64())
}

/// `requests` study-metadata GETs over random studies among the first
/// `stored_studies`, `clients` at a time; answers sorted latencies in ms.
async fn metadata(
    t: &Target,
    client: &reqwest::Client,
    plan: &Arc<Plan>,
    stored_studies: usize,
    requests: usize,
    clients: usize,
) -> anyhow::Result<Vec<f64>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (next, plan, client) = (next.clone(), plan.clone(), client.clone());
        let base = t.base.clone();
        let token = t.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1);
            loop {
                if next.fetch_add(1, Ordering::Relaxed) >= requests {
                    return Ok::<_, anyhow::Error>(lat);
                }
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (study, _) = &plan.studies[(x as usize) % stored_studies];
                let mut req = client
                    .get(format!("{base}/dicom-web/studies/{study}/metadata"))
                    .header("Accept", "application/dicom+json");
                if let Some(tok) = &token {
                    req = req.bearer_auth(tok);
                }
                let start = Instant::now();
                let resp = req.send().await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                lat.push(start.elapsed().as_secs_f64() * 1000.0);
                if !status.is_success() || body.len() < 100 {
                    bail!("metadata {study} -> {status}");
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// ihos on its own runtime (2 workers), over SQLite in a temp dir.
async fn start_ihos(dir: &std::path::Path) -> anyhow::Result<(Target, AppState)> {
    let settings = Settings {
        database_url: format!("sqlite://{}/ihos.db", dir.display()).into(),
        bind: "127.0.0.1:0".into(),
        data_key: "42".repeat(32).into(),
        key_file: Some(dir.join("ihos.key")),
        data_dir: dir.join("data"),
        max_connections: 16,
        ..Settings::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(anyhow::anyhow!(e)));
                return;
            }
        };
        rt.block_on(async move {
            let state = match ihos_server::build_state(settings).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                    return;
                }
            };
            let addr = listener.local_addr().map(|a| a.to_string());
            let _ = tx.send(addr.map(|a| (a, state.clone())).map_err(Into::into));
            let _ = ihos_server::serve_on(listener, state, std::future::pending()).await;
        });
    });
    let (addr, state) = tokio::task::spawn_blocking(move || rx.recv())
        .await??
        .context("ihos did not start")?;
    let base = format!("http://{addr}");
    // An uploader: a practitioner of a hospital.
    let phone = "13900009999";
    ihos_server::identity::service::create_platform_admin(
        &state,
        "基准管理员",
        phone,
        "Bench-2026-ok",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let client = reqwest::Client::new();
    let login = |phone: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let v: serde_json::Value = client
                .post(format!("{base}/api/v1/sessions"))
                .json(&serde_json::json!({"phone": phone, "password": "Bench-2026-ok"}))
                .send()
                .await?
                .json()
                .await?;
            v["token"]
                .as_str()
                .map(str::to_string)
                .context("login failed")
        }
    };
    let admin = login(phone).await?;
    let org: serde_json::Value = client
        .post(format!("{base}/api/v1/organisations"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "基准医院", "kind": "hospital", "level": "三级甲等", "province": "浙江省", "city": "杭州市"}))
        .send()
        .await?
        .json()
        .await?;
    let org_id = org["id"].as_str().context("no org")?;
    let resp = client
        .post(format!("{base}/api/v1/organisations/{org_id}/practitioners"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "影像技师", "phone": "13900008888", "password": "Bench-2026-ok",
            "title": "主治医师", "licence_no": "220300000000888", "practising_since": "2010-07-01"}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("practitioner: {}", resp.text().await?);
    }
    let token = login("13900008888").await?;
    Ok((
        Target {
            name: "ihos",
            base,
            token: Some(token),
        },
        state,
    ))
}

struct Orthanc {
    child: std::process::Child,
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_orthanc(dir: &std::path::Path) -> anyhow::Result<(Target, Orthanc)> {
    let port = 18_000 + (std::process::id() % 2000) as u16;
    let config = serde_json::json!({
        "Name": "ihos-bench",
        "StorageDirectory": dir.join("storage"),
        "IndexDirectory": dir.join("index"),
        "HttpPort": port,
        "DicomServerEnabled": false,
        "DicomPort": port + 1,
        "RemoteAccessAllowed": false,
        "AuthenticationEnabled": false,
        "StorageCompression": false,
        "SaveJobs": false,
        "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
        "DicomWeb": { "Enable": true, "Root": "/dicom-web/" }
    });
    let path = dir.join("orthanc.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    let log = std::fs::File::create(dir.join("orthanc.log"))?;
    let child = std::process::Command::new("Orthanc")
        .arg(&path)
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start Orthanc: apt-get install orthanc orthanc-dicomweb")?;
    let guard = Orthanc { child };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/system")).send().await
            && r.status().is_success()
        {
            return Ok((
                Target {
                    name: "orthanc",
                    base,
                    token: None,
                },
                guard,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "Orthanc did not answer on {base}; see {}",
        dir.join("orthanc.log").display()
    )
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
}

async fn compare_one(t: &Target, o: &Opts, tpl: &Arc<Template>) -> anyhow::Result<Figures> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.clients * 2)
        .build()?;
    let plan = Arc::new(Plan::new(o.instances, o.per_study));
    // Warm-up: the first study, not counted.
    ingest(t, &client, tpl, &plan, 0, o.per_study, o.clients).await?;
    let rate = ingest(t, &client, tpl, &plan, o.per_study, o.instances, o.clients).await?;
    let lat = metadata(
        t,
        &client,
        &plan,
        o.instances / o.per_study,
        o.meta,
        o.clients,
    )
    .await?;
    let f = Figures {
        rate,
        p50: pct(&lat, 0.50),
        p99: pct(&lat, 0.99),
    };
    println!(
        "{:<8} STOW-RS ingest {:>8.1} instances/s ({} instances, {} clients) | WADO-RS study metadata ({} instances/study, {} requests, {} clients): p50 {:>7.2} ms  p99 {:>7.2} ms",
        t.name,
        f.rate,
        o.instances - o.per_study,
        o.clients,
        o.per_study,
        o.meta,
        o.clients,
        f.p50,
        f.p99
    );
    Ok(f)
}

/// A scratch directory, removed at the end: under `IHOS_BENCH_DIR` if set,
/// else the system temp dir, with a recognisable name.
fn scratch(what: &str) -> anyhow::Result<tempfile::TempDir> {
    let base = std::env::var_os("IHOS_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::Builder::new()
        .prefix(&format!("ihos-bench-{what}-"))
        .tempdir_in(base)?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let o = opts()?;
    let tpl = Arc::new(Template::new(o.size));
    println!(
        "imaging benchmark: {}x{} 16-bit CT instances of {} bytes, {} per study",
        o.size,
        o.size,
        tpl.bytes.len(),
        o.per_study
    );

    // 1. Side by side on the same generated files.
    let dir = scratch("ihos")?;
    let (ihos, _state) = start_ihos(dir.path()).await?;
    let ih = compare_one(&ihos, &o, &tpl).await?;
    if !o.skip_orthanc {
        let odir = scratch("orthanc")?;
        let (orthanc, _guard) = start_orthanc(odir.path()).await?;
        let or = compare_one(&orthanc, &o, &tpl).await?;
        println!(
            "ratio    ingest ihos/orthanc = {:.2}x (target >= 1.5x) | metadata p99 ihos/orthanc = {:.2}x (target <= 0.5x)",
            ih.rate / or.rate,
            ih.p99 / or.p99
        );
    }

    // 2. ihos from an empty store to `fill` instances.
    if o.fill > 0 {
        let dir = scratch("ihos-fill")?;
        let (t, state) = start_ihos(dir.path()).await?;
        let client = reqwest::Client::new();
        let plan = Arc::new(Plan::new(o.fill, o.per_study));
        let deadline = Instant::now() + Duration::from_secs(o.minutes * 60);
        let mut at = 0;
        let mut rates = Vec::new();
        println!(
            "fill: ihos ingest rate per window of {} instances",
            o.window
        );
        while at < o.fill {
            let to = (at + o.window).min(o.fill);
            let r = ingest(&t, &client, &tpl, &plan, at, to, o.clients).await?;
            println!(
                "  {:>7} -> {:>7} instances in store: {:>8.1} instances/s",
                at, to, r
            );
            rates.push(r);
            at = to;
            if Instant::now() > deadline {
                println!(
                    "  stopped at {at} instances: the time budget of {} minutes is spent",
                    o.minutes
                );
                break;
            }
        }
        let lat = metadata(&t, &client, &plan, at / o.per_study, o.meta, o.clients).await?;
        let mut c = state.store.conn().await?;
        let (studies, series, instances) = ihos_store::imaging::counts(&mut c).await?;
        println!(
            "  store holds {studies} studies, {series} series, {instances} instances; metadata at that size: p50 {:.2} ms p99 {:.2} ms",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        if let (Some(first), Some(last)) = (rates.first(), rates.last()) {
            println!(
                "  throughput change from the empty store to {at} instances: {:+.1}% (target: drop < 20%)",
                (last / first - 1.0) * 100.0
            );
        }
    }
    Ok(())
}
