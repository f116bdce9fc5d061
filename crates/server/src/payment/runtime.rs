//! Payment's runtime part: the provider, its callback key, where it calls
//! us back, and the order hooks other capabilities registered.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use secrecy::ExposeSecret;

use super::hooks::OrderHooks;
use super::provider::{PaymentProvider, Sandbox};
use crate::settings::PaymentSettings;
use crate::state::AppState;

/// The payment provider, its callback key and where it calls us back.
pub struct Payments {
    pub provider: Arc<dyn PaymentProvider>,
    /// What other capabilities do when an order is paid or cancelled.
    pub hooks: OrderHooks,
    /// Present when the provider is the sandbox (its checkout page works).
    pub sandbox: Option<Arc<Sandbox>>,
    secret: Vec<u8>,
    configured_base: String,
    bound_base: OnceLock<String>,
}

impl Payments {
    pub fn from_settings(s: &PaymentSettings, hooks: OrderHooks) -> Self {
        let given = s.provider_secret.expose_secret();
        let secret = if given.is_empty() {
            rand::random::<[u8; 32]>().to_vec()
        } else {
            given.as_bytes().to_vec()
        };
        let sandbox = Arc::new(Sandbox::new(secret.clone(), s.sandbox_delay_ms));
        Self {
            provider: sandbox.clone(),
            hooks,
            sandbox: Some(sandbox),
            secret,
            configured_base: s.callback_base_url.trim_end_matches('/').to_string(),
            bound_base: OnceLock::new(),
        }
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Remember the listening address (when no public base URL is set).
    pub fn bind_callback_base(&self, addr: SocketAddr) {
        let host = if addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", addr.port())
        } else {
            addr.to_string()
        };
        let _ = self.bound_base.set(format!("http://{host}"));
    }

    pub fn callback_url(&self, provider: &str) -> String {
        let base = if self.configured_base.is_empty() {
            self.bound_base
                .get()
                .cloned()
                .unwrap_or_else(|| "http://127.0.0.1:8080".into())
        } else {
            self.configured_base.clone()
        };
        format!("{base}/api/v1/payments/callback/{provider}")
    }
}

/// This server's payment part (built at assembly).
pub fn payments(state: &AppState) -> &Payments {
    state.part::<Payments>()
}
