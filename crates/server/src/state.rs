use std::sync::Arc;

use ihos_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::crypto::Vault;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub vault: Vault,
    pub settings: Arc<Settings>,
    pub metrics: Option<PrometheusHandle>,
    /// In-process admission gate for bookings (a hint; the database decides).
    pub booking_gate: Arc<crate::scheduling::gate::Gate>,
    /// On SQLite, the thread booking transactions run on (see `scheduling::lane`).
    pub booking_lane: Option<Arc<crate::scheduling::lane::Lane>>,
    /// Chat fan-out and the batching message writer.
    pub chat: Arc<crate::consultation::chat::ChatHub>,
    /// Complaint-to-department suggestions (jieba segmentation, loaded once).
    pub triage: Arc<crate::consultation::triage::Triage>,
    /// The drug catalogue, loaded and validated at start.
    pub drugs: Arc<ihos_domain::pharmacy::Catalogue>,
    /// The prescriber's electronic-signature hook.
    pub rx_signer: Arc<dyn crate::pharmacy::signature::Signer>,
    /// The payment provider and its callback address.
    pub payments: Arc<crate::payment::Payments>,
}
