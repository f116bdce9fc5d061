//! Assembly: state, routers, middleware, and serving with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ihos_domain::ErrorCode;
use ihos_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::crypto::Vault;
use crate::jobs;
use crate::referral;
use crate::settings::Settings;
use crate::state::{AppState, Parts};
use crate::{consultation, identity, imaging, org, portal, scheduling, web};
use crate::{followup, nursing};
use crate::{payment, pharmacy};

#[derive(OpenApi)]
#[openapi(
    info(title = "ihos API", description = "Internet hospital platform: identity, organisations and care services."),
    paths(
        identity::sign_up, identity::login, identity::logout, identity::me,
        identity::add_dependant, identity::read_patient, identity::patient_audit,
        org::specialties, org::list_orgs, org::create_org, org::org_detail,
        org::add_department, org::org_staff, org::create_practitioner, org::add_affiliation,
        org::practitioner, org::create_consortium, org::consortium, org::add_member,
        org::create_staff_account,
        scheduling::create_template, scheduling::doctor_templates, scheduling::change_template,
        scheduling::remove_template, scheduling::add_extra_hours, scheduling::take_leave,
        scheduling::search, scheduling::book, scheduling::my_appointments, scheduling::appointment,
        scheduling::cancel, scheduling::attendance, scheduling::doctor_day, scheduling::notifications,
        imaging::stow, imaging::qido_studies, imaging::metadata_study, imaging::retrieve_study,
        imaging::rendered_frame, imaging::list_studies, imaging::study, imaging::write_report,
        imaging::link_patient, imaging::send_patient_link, imaging::review, imaging::list_consents,
        imaging::grant_consent, imaging::revoke_consent, imaging::send_code, imaging::verify_code,
        consultation::triage_complaint, consultation::request_consultation,
        consultation::my_consultations, consultation::doctor_queue, consultation::consultation,
        consultation::accept, consultation::decline, consultation::start, consultation::complete,
        consultation::cancel, consultation::refer_offline, consultation::escalate,
        consultation::messages, consultation::send_message, consultation::chat_socket,
        consultation::thread, consultation::patient_history, consultation::upload_picture,
        consultation::upload_evidence, consultation::download, consultation::review,
        consultation::reply, consultation::doctor_reviews, consultation::doctor_packages,
        consultation::create_package, consultation::subscribe, consultation::subscription,
        consultation::policy, consultation::set_policy,
        pharmacy::drugs, pharmacy::allergies, pharmacy::add_allergy, pharmacy::prescribe,
        pharmacy::consultation_prescriptions, pharmacy::prescription, pharmacy::revise,
        pharmacy::review_queue, pharmacy::approve, pharmacy::reject, pharmacy::choose_fulfilment,
        pharmacy::lookup, pharmacy::dispense, pharmacy::track, pharmacy::patient_prescriptions,
        pharmacy::consultation_order,
        payment::my_orders, payment::order, payment::pay, payment::cancel, payment::callback,
        payment::sandbox_confirm,
        referral::create_referral, referral::my_referrals, referral::referral, referral::referral_step,
        referral::exam_history, referral::list_privileges, referral::grant_privilege,
        referral::list_exam_slots, referral::add_exam_slot, referral::add_ward, referral::wards,
        referral::dashboard, referral::bed_requests, referral::request_bed, referral::review_bed,
        referral::remote_consults, referral::ask_expert, referral::remote_consult, referral::answer,
        nursing::list_services, nursing::create_service, nursing::list_nurses,
        nursing::put_qualifications, nursing::hospital_orders, nursing::create_assessment,
        nursing::create_order, nursing::my_orders, nursing::assigned_orders, nursing::order_record,
        nursing::assign_nurse, nursing::accept_order, nursing::decline_order,
        nursing::check_in_visit, nursing::check_out_visit, nursing::cancel_order,
        nursing::raise_safety_alert, nursing::review_visit,
        followup::list_templates, followup::assign_plan, followup::my_plans, followup::doctor_plans,
        followup::plan, followup::complete_task, followup::alerts, followup::acknowledge,
        followup::figures,
    ),
    tags((name = "identity"), (name = "organisations"), (name = "scheduling"), (name = "imaging"), (name = "consultation"))
)]
pub struct ApiDoc;

/// Open the database, apply migrations and build the shared state.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let key = settings.resolve_data_key()?;
    let store = Store::connect(
        settings.database_url.expose_secret(),
        settings.max_connections,
    )
    .await?;
    store.migrate().await?;
    let drugs = Arc::new(pharmacy::load_catalogue(&settings.pharmacy)?);
    // What other capabilities do inside payment's transactions.
    let order_hooks = payment::hooks::OrderHooks::default()
        .with(pharmacy::payment_hook::PharmacyPayments)
        .with(nursing::payment_hook::NursingPayments);
    let parts = Parts::default()
        .with(payment::Payments::from_settings(
            &settings.payment,
            order_hooks,
        ))
        .with(scheduling::runtime::Booking::start(
            &store,
            settings.scheduling.daily_limit,
        )?)
        .with(consultation::chat::ChatHub::start(store.clone()))
        .with(pharmacy::signature::RxSigner(Box::new(
            pharmacy::signature::HashSigner,
        )));
    let texts = crate::i18n::Texts::new(&[
        crate::i18n::TEXT,
        scheduling::TEXT,
        imaging::TEXT,
        consultation::TEXT,
        pharmacy::TEXT,
        payment::TEXT,
        referral::TEXT,
        nursing::TEXT,
        followup::TEXT,
    ])
    .map_err(|e| anyhow::anyhow!(e))?;
    Ok(AppState::new(crate::state::Shared {
        texts: Arc::new(texts),
        triage: Arc::new(ihos_triage::Triage::load()?),
        store,
        vault: Vault::new(&key),
        settings: Arc::new(settings),
        metrics: std::sync::OnceLock::new(),
        drugs,
        parts,
    }))
}

/// Install the Prometheus recorder once per process; later calls reuse it.
pub fn install_metrics() -> Option<PrometheusHandle> {
    PrometheusBuilder::new().install_recorder().ok()
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(identity::router())
        .merge(org::router())
        .merge(scheduling::router())
        .merge(imaging::router())
        .merge(consultation::router())
        .merge(pharmacy::router())
        .merge(payment::router())
        .merge(referral::router())
        .merge(nursing::router())
        .merge(followup::router())
        .fallback(api_not_found);
    // DICOM uploads are large: their own body limit instead of the 2 MiB one.
    let dicom_limit = state.settings.dicom_max_upload_mb as usize * 1024 * 1024;
    let dicom = imaging::dicom_router()
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(dicom_limit));
    let limited = Router::new()
        .merge(api)
        .merge(web::router())
        .merge(portal::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            2 * 1024 * 1024,
        ));
    Router::new()
        .merge(limited)
        .merge(dicom)
        .layer(middleware::from_fn(crate::auth::same_origin_writes))
        .layer(middleware::from_fn(crate::error::localize))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(track_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            // Paths carry ids only; query strings are left out of logs.
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(SequentialRequestId::new()))
        .with_state(state)
}

async fn api_not_found() -> crate::error::ApiError {
    crate::error::ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NoSuchEndpoint,
        ErrorCode::NoSuchEndpoint.en(),
    )
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Prometheus figures: to a scraper on this machine, or to one that sends
/// the configured `metrics_token`; anyone else gets 404, like any route they
/// may not see.
async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !may_scrape(&state, peer, &headers) {
        return crate::error::ApiError::not_found().into_response();
    }
    match state.metrics.get() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed",
        )
            .into_response(),
    }
}

fn may_scrape(state: &AppState, peer: SocketAddr, headers: &axum::http::HeaderMap) -> bool {
    use secrecy::ExposeSecret;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    scrape_allowed(
        state.settings.metrics_token.expose_secret(),
        peer.ip(),
        authorization,
    )
}

/// Loopback may always scrape; another address only with the configured
/// token (none configured: nobody else).
fn scrape_allowed(token: &str, peer: std::net::IpAddr, authorization: Option<&str>) -> bool {
    let bearer = authorization.and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(given) if !token.is_empty() => crate::crypto::same_secret(given.trim(), token),
        _ => peer.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::scrape_allowed;

    #[test]
    fn metrics_go_to_loopback_or_to_the_token_holder() {
        let here = "127.0.0.1".parse().unwrap();
        let away = "10.1.2.3".parse().unwrap();
        assert!(scrape_allowed("", here, None));
        assert!(!scrape_allowed("", away, None));
        assert!(!scrape_allowed("", away, Some("Bearer anything")));
        assert!(scrape_allowed("s3cret", away, Some("Bearer s3cret")));
        assert!(!scrape_allowed("s3cret", away, Some("Bearer wrong")));
        assert!(!scrape_allowed("s3cret", away, None));
        // A wrong token is refused even from loopback.
        assert!(!scrape_allowed("s3cret", here, Some("Bearer wrong")));
    }
}

/// Request ids: a random prefix per process and a counter. Unique like a
/// UUID, without a `getrandom` system call per request (a rush's refusals
/// are a few microseconds each).
#[derive(Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        Self {
            prefix: uuid::Uuid::new_v4().simple().to_string()[..12].into(),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

fn method_label(m: &axum::http::Method) -> metrics::SharedString {
    use axum::http::Method;
    let known = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    known
        .iter()
        .find(|(k, _)| k == m)
        .map_or_else(|| m.as_str().to_string().into(), |(_, s)| (*s).into())
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route: metrics::SharedString = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".into(), |p| p.as_str().to_string().into());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let status: metrics::SharedString = resp.status().as_u16().to_string().into();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("ihos_http_requests_total", &labels).increment(1);
    metrics::histogram!("ihos_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Patient data must not be cached by browsers or proxies; pages load only our own scripts.
async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Bind, print the address, serve until `shutdown` resolves, then drain.
/// Runs every background job, the scheduling pass once a minute.
pub async fn serve(
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&state.settings.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.settings.bind))?;
    let extra = jobs::Extra {
        scheduling_every: Some(std::time::Duration::from_secs(60)),
    };
    serve_with(listener, state, shutdown, extra).await
}

/// Serve on an already bound listener (tests bind port 0 themselves and run
/// the scheduling pass when they want it).
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, state, shutdown, jobs::Extra::default()).await
}

async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    extra: jobs::Extra,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    // Chat sockets close when shutdown starts, so the drain does not wait on
    // them; the booking writers give their connections back.
    let on_shutdown = state.clone();
    let shutdown = async move {
        shutdown.await;
        consultation::chat::hub(&on_shutdown).shutdown();
        scheduling::runtime::booking(&on_shutdown).shutdown();
    };
    // Tests and scripts read this line to find the port.
    println!("ihos listening on http://{addr}");
    tracing::info!(%addr, backend = ?state.store.backend(), "listening");
    let store = state.store.clone();
    payment::payments(&state).bind_callback_base(addr);
    let jobs = jobs::start(&state, extra);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    drop(jobs);
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("IHOS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
