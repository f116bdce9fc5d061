//! The payment-provider interface and the sandbox provider.
//!
//! A real provider (WeChat Pay, Alipay, a medical-insurance gateway) is
//! asked to create a payment and answers where the payer authorises it;
//! later, asynchronously, it calls our callback endpoint over HTTP with a
//! signed notification. The sandbox behaves the same way: the payer
//! "authorises" on the sandbox checkout page, and the sandbox then POSTs a
//! signed callback to `/api/v1/payments/callback/sandbox` from a background
//! task, retrying on failure like real providers do.
//!
//! Signature: header `Ihos-Signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "ihos-signature";

#[derive(Debug, Clone)]
pub struct CreatePayment {
    pub transaction_id: String,
    pub order_id: String,
    pub amount_fen: i64,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Created {
    /// The provider's own reference for the payment.
    pub provider_ref: String,
    /// Where the payer authorises the payment.
    pub pay_url: String,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub refund_id: String,
    pub transaction_id: String,
    pub provider_ref: String,
    pub amount_fen: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("payment provider: {0}")]
pub struct ProviderError(pub String);

/// What ihos needs from a payment provider.
pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn create(&self, req: CreatePayment) -> BoxFuture<'_, Result<Created, ProviderError>>;
    /// Refund; answers the provider's refund reference.
    fn refund(&self, req: RefundRequest) -> BoxFuture<'_, Result<String, ProviderError>>;
}

/// The body of a provider notification.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    /// Unique per notification; a repeated event id is a duplicate.
    pub event_id: String,
    pub transaction_id: String,
    pub provider_ref: String,
    pub amount_fen: i64,
    /// succeeded or failed
    pub outcome: String,
}

pub fn sign(secret: &[u8], t_ms: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t_ms},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a signature header (constant-time) and its freshness.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_ms: i64, tolerance_ms: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now_ms - t).abs() > tolerance_ms {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

/// The sandbox provider: real HTTP callbacks, signed, asynchronous.
pub struct Sandbox {
    secret: Vec<u8>,
    http: reqwest::Client,
    delay: Duration,
}

impl Sandbox {
    pub fn new(secret: Vec<u8>, delay_ms: u64) -> Self {
        Self {
            secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            delay: Duration::from_millis(delay_ms),
        }
    }

    /// The payer authorised (or refused) the payment on the sandbox checkout:
    /// the sandbox notifies `callback_url` from a background task, retrying
    /// up to five times until it gets a 2xx answer.
    pub fn authorise(self: &Arc<Self>, callback_url: String, n: Notification) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(me.delay).await;
            let body = match serde_json::to_vec(&n) {
                Ok(b) => b,
                Err(_) => return,
            };
            for attempt in 0..5u32 {
                let sig = sign(&me.secret, ihos_store::now_ms(), &body);
                let sent = me
                    .http
                    .post(&callback_url)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, sig)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), attempt, txn = %n.transaction_id, "sandbox callback refused")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, txn = %n.transaction_id, "sandbox callback failed")
                    }
                }
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
        });
    }
}

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create(&self, req: CreatePayment) -> BoxFuture<'_, Result<Created, ProviderError>> {
        Box::pin(async move {
            if req.amount_fen <= 0 {
                return Err(ProviderError("amount must be positive".into()));
            }
            Ok(Created {
                provider_ref: format!("sbx_{}", req.transaction_id),
                pay_url: format!("/payment/sandbox/{}", req.transaction_id),
            })
        })
    }

    fn refund(&self, req: RefundRequest) -> BoxFuture<'_, Result<String, ProviderError>> {
        Box::pin(async move {
            if req.amount_fen <= 0 {
                return Err(ProviderError("refund amount must be positive".into()));
            }
            Ok(format!("sbx_refund_{}", req.refund_id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_the_key_body_and_time() {
        let h = sign(b"k1", 1_000_000, b"{\"a\":1}");
        assert!(verify(b"k1", &h, b"{\"a\":1}", 1_000_500, 300_000));
        assert!(!verify(b"k2", &h, b"{\"a\":1}", 1_000_500, 300_000));
        assert!(!verify(b"k1", &h, b"{\"a\":2}", 1_000_500, 300_000));
        assert!(!verify(
            b"k1",
            &h,
            b"{\"a\":1}",
            1_000_000 + 400_000,
            300_000
        ));
        assert!(!verify(b"k1", "t=1,v1=zz", b"", 1, 300_000));
        assert!(!verify(b"k1", "", b"", 1, 300_000));
    }
}
