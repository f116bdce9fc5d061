//! The ihos server: JSON API, web UI, health and metrics.

pub mod app;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod consultation;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod followup;
pub mod i18n;
pub mod identity;
pub mod imaging;
pub mod jobs;
mod json;
pub mod nursing;
pub mod org;
pub mod payment;
pub mod pharmacy;
pub mod portal;
pub mod referral;
pub mod scheduling;
pub mod settings;
pub mod state;
pub mod web;

pub use app::{build_state, install_metrics, router, serve, serve_on, shutdown_signal};
pub use settings::Settings;
pub use state::AppState;
