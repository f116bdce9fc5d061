use std::sync::Arc;

use ihos_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::crypto::Vault;
use crate::settings::Settings;

/// The shared state handed to every handler. One `Arc`: axum clones the
/// state for every request and middleware layer, and cloning the fields one
/// by one (the cipher's key schedule among them) cost a tenth of the CPU of
/// a registration rush's refusals.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub vault: Vault,
    pub settings: Arc<Settings>,
    /// Set once at start when the Prometheus recorder is installed.
    pub metrics: std::sync::OnceLock<PrometheusHandle>,
    /// In-process admission gate for bookings (a hint; the database decides).
    pub booking_gate: Arc<crate::scheduling::gate::Gate>,
    /// On SQLite, the thread booking transactions run on (see `scheduling::lane`).
    pub booking_lane: Option<Arc<crate::scheduling::lane::Lane>>,
    /// On PostgreSQL, group commit for bookings (see `scheduling::batch`).
    pub booking_batch: Option<Arc<crate::scheduling::batch::Batcher>>,
    /// Chat fan-out and the batching message writer.
    pub chat: Arc<crate::consultation::chat::ChatHub>,
    /// Smart triage: red-flag rules and department knowledge (crates/triage, loaded once).
    pub triage: Arc<ihos_triage::Triage>,
    /// The drug catalogue, loaded and validated at start.
    pub drugs: Arc<ihos_domain::pharmacy::Catalogue>,
    /// The prescriber's electronic-signature hook.
    pub rx_signer: Arc<dyn crate::pharmacy::signature::Signer>,
    /// The payment provider and its callback address.
    pub payments: Arc<crate::payment::Payments>,
}
