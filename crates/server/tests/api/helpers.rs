use std::sync::atomic::{AtomicU32, Ordering};

use ihos_domain::identity::check_char;
use ihos_server::{AppState, Settings};
use ihos_store::testing::fresh_database_url;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub client: Client,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A valid resident ID number, unique within the test run.
pub fn resident_id(birth: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed) + std::process::id() % 500;
    let first17 = format!("330102{birth}{:03}", n % 1000);
    format!("{first17}{}", check_char(&first17))
}

/// A valid mobile number, unique within the test run.
pub fn phone() -> String {
    format!(
        "135{:08}",
        SEQ.fetch_add(1, Ordering::Relaxed) * 7919 + std::process::id()
    )
}

pub const PASSWORD: &str = "Kangfu-2026-ok";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        database_url: fresh_database_url(dir.path()).await.into(),
        bind: "127.0.0.1:0".into(),
        data_key: "11".repeat(32).into(),
        max_connections: 8,
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    adjust(&mut settings);
    serve_test_app(settings, dir).await
}

async fn serve_test_app(settings: Settings, dir: tempfile::TempDir) -> TestApp {
    let state = ihos_server::build_state(settings)
        .await
        .expect("server state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = state.clone();
    let server = tokio::spawn(async move {
        ihos_server::serve_on(listener, served, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        state,
        client: Client::new(),
        _dir: dir,
        _shutdown: tx,
        server,
    }
}

impl TestApp {
    /// Stop this server and start a new one (new port, new in-memory state)
    /// on the same database and blob directory.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            state,
            _dir,
            _shutdown,
            server,
            ..
        } = self;
        let settings = (*state.settings).clone();
        let _ = _shutdown.send(());
        drop(state);
        // A stopped server has given back every database connection.
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the old server stops within 10 s")
            .expect("the old server stops cleanly");
        serve_test_app(settings, _dir).await
    }
}

/// A logged-in caller's bearer token.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    pub account_id: String,
}

pub struct SignedUpPatient {
    pub session: Session,
    pub patient_id: String,
    pub phone: String,
    pub resident_id: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, who: Option<&Session>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(s) = who {
            req = req.bearer_auth(&s.token);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, who: Option<&Session>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(s) = who {
            req = req.bearer_auth(&s.token);
        }
        req.send().await.unwrap()
    }

    pub async fn sign_up(&self, body: Value) -> Response {
        self.post("/api/v1/patients", None, &body).await
    }

    pub async fn sign_up_patient(&self, name: &str) -> SignedUpPatient {
        let phone = phone();
        let rid = resident_id("19800101");
        let resp = self
            .sign_up(
                json!({"name": name, "resident_id": rid, "phone": phone, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        SignedUpPatient {
            session: Session {
                token: s(&body["token"]),
                account_id: s(&body["account_id"]),
            },
            patient_id: s(&body["patient_id"]),
            phone,
            resident_id: rid,
        }
    }

    pub async fn login(&self, phone: &str, password: &str) -> Response {
        self.post(
            "/api/v1/sessions",
            None,
            &json!({"phone": phone, "password": password}),
        )
        .await
    }

    pub async fn login_ok(&self, phone: &str) -> Session {
        let resp = self.login(phone, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        Session {
            token: s(&body["token"]),
            account_id: s(&body["account_id"]),
        }
    }

    pub async fn platform_admin(&self) -> Session {
        let phone = phone();
        ihos_server::identity::service::create_platform_admin(
            &self.state,
            "平台管理员",
            &phone,
            PASSWORD,
        )
        .await
        .unwrap();
        self.login_ok(&phone).await
    }

    pub async fn count(&self, table: ihos_store::identity::Table) -> i64 {
        let mut c = self.state.store.conn().await.unwrap();
        ihos_store::identity::count_rows(&mut c, table)
            .await
            .unwrap()
    }

    /// Create a hospital as the platform admin; answers its id.
    pub async fn hospital(&self, admin: &Session, name: &str) -> String {
        let resp = self
            .post(
                "/api/v1/organisations",
                Some(admin),
                &json!({"name": name, "kind": "hospital", "level": "三级甲等", "province": "浙江省", "city": "杭州市"}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        s(&resp.json::<Value>().await.unwrap()["id"])
    }

    /// An org admin account for `org_id`, logged in.
    pub async fn org_admin(&self, admin: &Session, org_id: &str) -> Session {
        let phone = phone();
        let resp = self
            .post(
                "/api/v1/accounts",
                Some(admin),
                &json!({"name": "管理员", "phone": phone, "password": PASSWORD, "role": "org_admin", "scope_id": org_id}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        self.login_ok(&phone).await
    }

    /// A doctor created by `org_admin` at `org_id`; answers (doctor id, phone).
    pub async fn doctor(&self, org_admin: &Session, org_id: &str, since: &str) -> (String, String) {
        let phone = phone();
        let licence = format!(
            "11033{:010}",
            SEQ.fetch_add(1, Ordering::Relaxed) as u64 * 7 + u64::from(std::process::id())
        );
        let resp = self
            .post(
                &format!("/api/v1/organisations/{org_id}/practitioners"),
                Some(org_admin),
                &json!({"name": "王医生", "phone": phone, "password": PASSWORD, "title": "主任医师",
                        "licence_no": licence, "practising_since": since}),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        (s(&resp.json::<Value>().await.unwrap()["id"]), phone)
    }
}

pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// Assert an error response's status and stable code; answers the body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}
