use std::any::{Any, TypeId};
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
    /// Every text of the user interface, in both languages.
    pub texts: Arc<crate::i18n::Texts>,
    /// Smart triage: red-flag rules and department knowledge (crates/triage, loaded once).
    pub triage: Arc<ihos_triage::Triage>,
    /// The drug catalogue, loaded and validated at start.
    pub drugs: Arc<ihos_domain::pharmacy::Catalogue>,
    /// Each capability's runtime parts, put in at assembly.
    pub parts: Parts,
}

impl Shared {
    /// A capability's own runtime part (its admission gate, chat hub,
    /// payment provider ...). Assembly (`app.rs`) puts every part in before
    /// anything is served, so a missing part is a bug there, and every API
    /// test would meet it.
    pub fn part<T: Any + Send + Sync>(&self) -> &T {
        match self.parts.get::<T>() {
            Some(part) => part,
            None => panic!("{} was not assembled in app.rs", std::any::type_name::<T>()),
        }
    }
}

/// The runtime parts of the capabilities, by type. The kit does not know
/// their types, so capabilities depend on the kit and never the other way
/// round. A handful of entries: a linear search beats hashing.
#[derive(Default)]
pub struct Parts(Vec<(TypeId, Box<dyn Any + Send + Sync>)>);

impl Parts {
    pub fn with<T: Any + Send + Sync>(mut self, part: T) -> Self {
        self.0.retain(|(id, _)| *id != TypeId::of::<T>());
        self.0.push((TypeId::of::<T>(), Box::new(part)));
        self
    }

    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0
            .iter()
            .find(|(id, _)| *id == TypeId::of::<T>())
            .and_then(|(_, part)| part.downcast_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::Parts;

    #[test]
    fn a_part_is_found_by_its_type_and_replaced_by_a_second_of_that_type() {
        struct Gate(u32);
        struct Hub(&'static str);
        let parts = Parts::default()
            .with(Gate(1))
            .with(Hub("chat"))
            .with(Gate(2));
        assert_eq!(parts.get::<Gate>().map(|g| g.0), Some(2));
        assert_eq!(parts.get::<Hub>().map(|h| h.0), Some("chat"));
        assert!(parts.get::<String>().is_none());
    }
}
