//! One typed `Settings` (ADR 0005): defaults, then an optional TOML file,
//! then the environment (`IHOS_*` with `__` for nesting, a few older flat
//! names, and `DATABASE_URL`), layered by figment; every limit is checked
//! once after all sources are read (`validate.rs`). Secrets are `secrecy`
//! types, so `Debug` never shows them.
//!
//! This is shared kit: it imports no capability. The settings of a
//! capability live here (`payment.rs`, `pharmacy.rs`) or in `ihos_domain`
//! (the policies), and the capability imports them from `crate::settings`.

mod payment;
mod pharmacy;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use payment::PaymentSettings;
pub use pharmacy::PharmacySettings;
pub use sources::LEGACY_ENV;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://data/ihos.db` (default) or `postgres://...`. A secret: the
    /// URL may carry a password.
    pub database_url: SecretString,
    pub max_connections: u32,
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// 64 hex characters: the key that encrypts identity numbers and phones.
    /// When empty, a key is read from (or created once in) the key file.
    pub data_key: SecretString,
    /// Where the data key is kept when `data_key` is empty; default
    /// `<data_dir>/ihos.key`.
    pub key_file: Option<PathBuf>,
    /// The one folder for files: `blobs/dicom/` (DICOM instances),
    /// `blobs/attachments/` (pictures and records), `ihos.key`.
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
    /// `/metrics` answers other addresses than loopback only with
    /// `Authorization: Bearer <metrics_token>`; empty: loopback only.
    pub metrics_token: SecretString,
    /// Booking rules: release time, per-day limit, cancellation cut-off.
    pub scheduling: ihos_domain::scheduling::Policy,
    /// Where notifications go besides the in-app inbox: `log` (development)
    /// or the `http(s)://` URL of a gateway.
    pub notify_channel: String,
    /// Deprecated: the folder pictures and records were kept in before they
    /// moved under `data_dir`. Files written there earlier are still read
    /// from it; new ones go to `<data_dir>/blobs/attachments/`.
    pub blob_dir: Option<PathBuf>,
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
    pub pharmacy: PharmacySettings,
    /// Payment: order and payment timeouts, provider secret, fees.
    pub payment: PaymentSettings,
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
            metrics_token: SecretString::default(),
            data_key: SecretString::default(),
            key_file: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            dicom_max_upload_mb: 512,
            session_hours: 12,
            login_max_failures: 5,
            login_window_minutes: 15,
            log_format: "pretty".into(),
            secure_cookies: false,
            scheduling: ihos_domain::scheduling::Policy::default(),
            notify_channel: "log".into(),
            blob_dir: None,
            consultation_answer_minutes: 30,
            consultation_fee_fen: 2000,
            care_relationship_days: 30,
            picture_max_bytes: 1_900_000,
            message_retention_years: 3,
            record_retention_years: 15,
            pharmacy: PharmacySettings::default(),
            payment: PaymentSettings::default(),
            referral: ihos_domain::referral::Policy::default(),
            nursing: ihos_domain::nursing::Policy::default(),
            followup: ihos_domain::followup::Policy::default(),
            triage_local_crisis_line: String::new(),
        }
    }
}

const DEFAULT_DATA_DIR: &str = "data";
/// Where new attachments go, under [`Settings::blob_root`].
pub const ATTACHMENTS_PREFIX: &str = "attachments/";

impl Settings {
    /// Defaults, overlaid by `file` (if given) and then by the process
    /// environment, then checked. Answers the settings and the adjustments
    /// made on the way (a value raised to a legal floor), for the log.
    pub fn load(file: Option<&Path>) -> anyhow::Result<(Self, Vec<String>)> {
        Self::load_from(file, std::env::vars())
    }

    /// [`Settings::load`] with the environment given (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let figment = sources::figment(file, env)?;
        let mut settings: Settings = figment.extract_lossy().map_err(sources::explain)?;
        let mut notes = settings
            .validate()
            .map_err(|e| anyhow::anyhow!("{}", sources::with_origin(&figment, &e)))?;
        if let Some(old) = settings
            .blob_dir
            .as_ref()
            .filter(|d| **d != settings.blob_root())
        {
            notes.push(format!(
                "blob_dir is deprecated: attachments stored before are still read from {}, new ones go to {}",
                old.display(),
                settings.blob_root().join(ATTACHMENTS_PREFIX).display()
            ));
        }
        Ok((settings, notes))
    }

    /// Where blobs live: DICOM instances under `dicom/`, pictures and
    /// records under `attachments/` (keys are relative to this folder).
    pub fn blob_root(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    /// The folder an attachment key is relative to. Keys written before
    /// attachments moved under `blob_root()/attachments/` have no prefix and
    /// are read where they were written: `blob_dir`, whose default was
    /// `data/blobs` whatever `data_dir` said.
    pub fn attachment_root(&self, key: &str) -> PathBuf {
        if key.starts_with(ATTACHMENTS_PREFIX) {
            return self.blob_root();
        }
        self.blob_dir
            .clone()
            .unwrap_or_else(|| Path::new(DEFAULT_DATA_DIR).join("blobs"))
    }

    /// The key file: as set, else `<data_dir>/ihos.key`. An install that set
    /// only `data_dir` kept its key in `data/ihos.key` before; when that file
    /// exists and the new one does not, it is still used (never moved).
    pub fn key_file(&self) -> PathBuf {
        if let Some(path) = &self.key_file {
            return path.clone();
        }
        let path = self.data_dir.join("ihos.key");
        let before = Path::new(DEFAULT_DATA_DIR).join("ihos.key");
        if !path.exists() && path != before && before.exists() {
            tracing::warn!(
                used = %before.display(),
                expected = %path.display(),
                "the data key is read from its old place; move it under data_dir or set key_file"
            );
            return before;
        }
        path
    }

    /// The data key: from settings, else from the key file, created there
    /// once (owner-only) so a laptop install works with no setup.
    pub fn resolve_data_key(&self) -> anyhow::Result<[u8; 32]> {
        let given = self.data_key.expose_secret();
        let key_file = self.key_file();
        let hex_key = if !given.is_empty() {
            given.trim().to_string()
        } else if key_file.exists() {
            std::fs::read_to_string(&key_file)?.trim().to_string()
        } else {
            let key: [u8; 32] = rand::random();
            let text = hex::encode(key);
            if let Some(dir) = key_file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(&key_file, &text)?;
            tracing::warn!(path = %key_file.display(), "created a new data key; back it up, data encrypted with it is unreadable without it");
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
