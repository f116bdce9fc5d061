//! Settings `[payment]`.

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSettings {
    /// Unpaid orders close after this many minutes (the timeout job).
    pub order_timeout_minutes: i64,
    /// A started payment without a callback is given up after this many minutes.
    pub payment_timeout_minutes: i64,
    /// The key that signs provider callbacks (HMAC-SHA256). Empty: a random
    /// key per process (fine for the sandbox).
    pub provider_secret: SecretString,
    /// Where providers reach us, e.g. `https://ihos.example.org`; empty:
    /// the address the server listens on.
    pub callback_base_url: String,
    /// The sandbox waits this long before calling back.
    pub sandbox_delay_ms: u64,
    /// Delivery fees, in fen (self-paid).
    pub hospital_delivery_fee_fen: i64,
    pub courier_fee_fen: i64,
    /// Insurance share of the consultation fee, per mille.
    pub consultation_fee_reimburse_permille: i64,
    /// How often the timeout job runs, in seconds.
    pub job_interval_seconds: u64,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            order_timeout_minutes: 24 * 60,
            payment_timeout_minutes: 15,
            provider_secret: SecretString::default(),
            callback_base_url: String::new(),
            sandbox_delay_ms: 300,
            hospital_delivery_fee_fen: 800,
            courier_fee_fen: 1200,
            consultation_fee_reimburse_permille: 0,
            job_interval_seconds: 30,
        }
    }
}
