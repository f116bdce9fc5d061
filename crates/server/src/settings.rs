//! One typed `Settings`: defaults, then an optional TOML file, then `IHOS_*`
//! environment variables (and `DATABASE_URL`). Secrets are redacted in Debug.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://data/ihos.db` (default) or `postgres://...`.
    pub database_url: String,
    pub max_connections: u32,
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// 64 hex characters: the key that encrypts identity numbers and phones.
    /// When empty, a key is read from (or created once in) `key_file`.
    pub data_key: String,
    pub key_file: PathBuf,
    /// Where blobs (DICOM files) are kept.
    pub data_dir: PathBuf,
    /// Largest STOW-RS request body accepted, in MiB.
    pub dicom_max_upload_mb: u32,
    pub session_hours: i64,
    /// Failed logins allowed per phone (and per client address) in the window.
    pub login_max_failures: i64,
    pub login_window_minutes: i64,
    /// `json` for machine-read logs, `pretty` for people.
    pub log_format: String,
    /// Mark session cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Booking rules: release time, per-day limit, cancellation cut-off.
    pub scheduling: ihos_domain::scheduling::Policy,
    /// Where notifications go besides the in-app inbox: `log` (development).
    pub notify_channel: String,
    /// Where uploaded pictures and records are kept (local blob store).
    pub blob_dir: PathBuf,
    /// Minutes a doctor has to answer a consultation request before it
    /// expires and the fee is refunded.
    pub consultation_answer_minutes: i64,
    /// Fee of one consultation not covered by a service package, in fen.
    pub consultation_fee_fen: i64,
    /// Days an accepted consultation lets the doctor read the patient's record.
    pub care_relationship_days: i64,
    /// Largest picture or record upload, in bytes.
    pub picture_max_bytes: usize,
    /// Chat messages are kept at least this many years (never less than 3).
    pub message_retention_years: i64,
    /// Consultation records are kept at least this many years (never less than 15).
    pub record_retention_years: i64,
    /// Prescriptions: the drug catalogue and the prescribing limits.
    pub pharmacy: crate::pharmacy::PharmacySettings,
    /// Payment: order and payment timeouts, provider secret, fees.
    pub payment: crate::payment::PaymentSettings,
    /// Referral deadlines per state and duplicate-exam windows per exam type.
    pub referral: ihos_domain::referral::Policy,
    /// Home nursing: assessment window, nurse years, order windows (`[nursing]`).
    pub nursing: ihos_domain::nursing::Policy,
    /// Follow-up plans: grace before a task is missed, job interval (`[followup]`).
    pub followup: ihos_domain::followup::Policy,
    /// A local mental-health crisis line shown with 12356 by triage (empty: none).
    pub triage_local_crisis_line: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/ihos.db".into(),
            max_connections: 16,
            bind: "127.0.0.1:8080".into(),
            data_key: String::new(),
            key_file: PathBuf::from("data/ihos.key"),
            data_dir: PathBuf::from("data"),
            dicom_max_upload_mb: 512,
            session_hours: 12,
            login_max_failures: 5,
            login_window_minutes: 15,
            log_format: "pretty".into(),
            secure_cookies: false,
            scheduling: ihos_domain::scheduling::Policy::default(),
            notify_channel: "log".into(),
            blob_dir: PathBuf::from("data/blobs"),
            consultation_answer_minutes: 30,
            consultation_fee_fen: 2000,
            care_relationship_days: 30,
            picture_max_bytes: 1_900_000,
            message_retention_years: 3,
            record_retention_years: 15,
            pharmacy: crate::pharmacy::PharmacySettings::default(),
            payment: crate::payment::PaymentSettings::default(),
            referral: ihos_domain::referral::Policy::default(),
            nursing: ihos_domain::nursing::Policy::default(),
            followup: ihos_domain::followup::Policy::default(),
            triage_local_crisis_line: String::new(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("max_connections", &self.max_connections)
            .field("bind", &self.bind)
            .field(
                "data_key",
                &if self.data_key.is_empty() {
                    ""
                } else {
                    "[redacted]"
                },
            )
            .field("key_file", &self.key_file)
            .field("data_dir", &self.data_dir)
            .field("dicom_max_upload_mb", &self.dicom_max_upload_mb)
            .field("session_hours", &self.session_hours)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_window_minutes", &self.login_window_minutes)
            .field("log_format", &self.log_format)
            .field("secure_cookies", &self.secure_cookies)
            .field("scheduling", &self.scheduling)
            .field("notify_channel", &self.notify_channel)
            .field("blob_dir", &self.blob_dir)
            .field(
                "consultation_answer_minutes",
                &self.consultation_answer_minutes,
            )
            .field("consultation_fee_fen", &self.consultation_fee_fen)
            .field("care_relationship_days", &self.care_relationship_days)
            .field("picture_max_bytes", &self.picture_max_bytes)
            .field("message_retention_years", &self.message_retention_years)
            .field("record_retention_years", &self.record_retention_years)
            .field("pharmacy", &self.pharmacy)
            .field("payment", &self.payment)
            .field("referral", &self.referral)
            .field("nursing", &self.nursing)
            .field("followup", &self.followup)
            .field("triage_local_crisis_line", &self.triage_local_crisis_line)
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[redacted]{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

impl Settings {
    /// Defaults, overlaid by `file` (if given) and then by the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("cannot read settings file {}: {e}", path.display())
                })?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("settings file {}: {e}", path.display()))?
            }
            None => Settings::default(),
        };
        s.apply_env(|k| std::env::var(k).ok())?;
        Ok(s)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = get("DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("IHOS_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("IHOS_BIND") {
            self.bind = v;
        }
        if let Some(v) = get("IHOS_DATA_KEY") {
            self.data_key = v;
        }
        if let Some(v) = get("IHOS_KEY_FILE") {
            self.key_file = v.into();
        }
        if let Some(v) = get("IHOS_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("IHOS_LOG_FORMAT") {
            self.log_format = v;
        }
        let num = |k: &str, v: String| -> anyhow::Result<i64> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{k} must be a whole number, got '{v}'"))
        };
        if let Some(v) = get("IHOS_MAX_CONNECTIONS") {
            self.max_connections = num("IHOS_MAX_CONNECTIONS", v)?.clamp(1, 1000) as u32;
        }
        if let Some(v) = get("IHOS_DICOM_MAX_UPLOAD_MB") {
            self.dicom_max_upload_mb = num("IHOS_DICOM_MAX_UPLOAD_MB", v)?.clamp(1, 4096) as u32;
        }
        if let Some(v) = get("IHOS_SESSION_HOURS") {
            self.session_hours = num("IHOS_SESSION_HOURS", v)?;
        }
        if let Some(v) = get("IHOS_LOGIN_MAX_FAILURES") {
            self.login_max_failures = num("IHOS_LOGIN_MAX_FAILURES", v)?;
        }
        if let Some(v) = get("IHOS_LOGIN_WINDOW_MINUTES") {
            self.login_window_minutes = num("IHOS_LOGIN_WINDOW_MINUTES", v)?;
        }
        if let Some(v) = get("IHOS_SECURE_COOKIES") {
            self.secure_cookies = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = get("IHOS_BLOB_DIR") {
            self.blob_dir = v.into();
        }
        if let Some(v) = get("IHOS_CONSULTATION_ANSWER_MINUTES") {
            self.consultation_answer_minutes = num("IHOS_CONSULTATION_ANSWER_MINUTES", v)?.max(1);
        }
        if let Some(v) = get("IHOS_CONSULTATION_FEE_FEN") {
            self.consultation_fee_fen = num("IHOS_CONSULTATION_FEE_FEN", v)?.max(0);
        }
        if let Some(v) = get("IHOS_MESSAGE_RETENTION_YEARS") {
            self.message_retention_years = num("IHOS_MESSAGE_RETENTION_YEARS", v)?;
        }
        if let Some(v) = get("IHOS_RECORD_RETENTION_YEARS") {
            self.record_retention_years = num("IHOS_RECORD_RETENTION_YEARS", v)?;
        }
        if let Some(v) = get("IHOS_DRUG_CATALOGUE") {
            self.pharmacy.catalogue_file = Some(v.into());
        }
        if let Some(v) = get("IHOS_PAYMENT_SECRET") {
            self.payment.provider_secret = v;
        }
        if let Some(v) = get("IHOS_PAYMENT_CALLBACK_BASE_URL") {
            self.payment.callback_base_url = v;
        }
        if let Some(v) = get("IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES") {
            self.payment.order_timeout_minutes =
                num("IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES", v)?.max(1);
        }
        if let Some(v) = get("IHOS_NURSING_ASSESSMENT_DAYS") {
            self.nursing.assessment_days = num("IHOS_NURSING_ASSESSMENT_DAYS", v)?.max(1);
        }
        if let Some(v) = get("IHOS_TRIAGE_LOCAL_CRISIS_LINE") {
            self.triage_local_crisis_line = v;
        }
        if let Some(v) = get("IHOS_NURSING_MIN_NURSE_YEARS") {
            self.nursing.min_nurse_years = num("IHOS_NURSING_MIN_NURSE_YEARS", v)?.max(0);
        }
        if let Some(v) = get("IHOS_NURSING_MIN_LEAD_HOURS") {
            self.nursing.min_lead_hours = num("IHOS_NURSING_MIN_LEAD_HOURS", v)?.max(0);
        }
        if let Some(v) = get("IHOS_FOLLOWUP_GRACE_HOURS") {
            self.followup.grace_hours = num("IHOS_FOLLOWUP_GRACE_HOURS", v)?.max(1);
        }
        // The rules of online care set floors; a setting may only lengthen them.
        self.message_retention_years = self.message_retention_years.max(3);
        self.record_retention_years = self.record_retention_years.max(15);
        Ok(())
    }

    /// The data key: from settings, else from `key_file`, created there once
    /// (owner-only) so a laptop install works with no setup.
    pub fn resolve_data_key(&self) -> anyhow::Result<[u8; 32]> {
        let hex_key = if !self.data_key.is_empty() {
            self.data_key.trim().to_string()
        } else if self.key_file.exists() {
            std::fs::read_to_string(&self.key_file)?.trim().to_string()
        } else {
            let key: [u8; 32] = rand::random();
            let text = hex::encode(key);
            if let Some(dir) = self.key_file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(&self.key_file, &text)?;
            tracing::warn!(path = %self.key_file.display(), "created a new data key; back it up, data encrypted with it is unreadable without it");
            text
        };
        let bytes = hex::decode(&hex_key)
            .map_err(|_| anyhow::anyhow!("the data key must be 64 hex characters"))?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the data key must be 64 hex characters (32 bytes)"))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults() {
        let mut s = Settings::default();
        s.apply_env(|k| match k {
            "DATABASE_URL" => Some("postgres://u:secret@db/ihos".into()),
            "IHOS_LOGIN_MAX_FAILURES" => Some("3".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.database_url, "postgres://u:secret@db/ihos");
        assert_eq!(s.login_max_failures, 3);
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        let mut s = Settings::default();
        let e = s
            .apply_env(|k| (k == "IHOS_SESSION_HOURS").then(|| "ten".into()))
            .unwrap_err();
        assert!(e.to_string().contains("IHOS_SESSION_HOURS"));
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings {
            key_file: dir.path().join("k/ihos.key"),
            ..Settings::default()
        };
        let a = s.resolve_data_key().unwrap();
        let b = s.resolve_data_key().unwrap();
        assert_eq!(a, b);
        let bad = Settings {
            data_key: "zz".into(),
            ..Settings::default()
        };
        assert!(bad.resolve_data_key().is_err());
    }
}
