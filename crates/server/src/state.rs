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
}
