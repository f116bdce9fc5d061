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
    /// Chat fan-out and the batching message writer.
    pub chat: Arc<crate::consultation::chat::ChatHub>,
    /// Complaint-to-department suggestions (jieba segmentation, loaded once).
    pub triage: Arc<crate::consultation::triage::Triage>,
}
