//! Limits, checked once after every source is read, whatever the source.
//! A value that makes no sense is refused with the setting's name; the
//! retention floors, rules of online care, raise a lower value instead
//! (ADR 0005 says why).

use secrecy::ExposeSecret;

use super::Settings;

/// Chat messages are kept at least 3 years, consultation records at least
/// 15 (rules of online care).
pub const MESSAGE_RETENTION_FLOOR_YEARS: i64 = 3;
pub const RECORD_RETENTION_FLOOR_YEARS: i64 = 15;

/// A setting whose value is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The dotted key, e.g. `payment.order_timeout_minutes`.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.key, self.message)
    }
}

#[derive(Default)]
struct Checks(Vec<Invalid>);

impl Checks {
    fn fail(&mut self, key: &str, message: String) {
        self.0.push(Invalid {
            key: key.into(),
            message,
        });
    }

    fn at_least(&mut self, key: &str, value: impl Into<i128>, min: i128) {
        let value = value.into();
        if value < min {
            self.fail(key, format!("must be at least {min}, got {value}"));
        }
    }

    fn between(&mut self, key: &str, value: impl Into<i128>, min: i128, max: i128) {
        let value = value.into();
        if !(min..=max).contains(&value) {
            self.fail(key, format!("must be between {min} and {max}, got {value}"));
        }
    }

    fn one_of(&mut self, key: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.fail(
                key,
                format!("must be one of {}, got {value:?}", allowed.join(", ")),
            );
        }
    }

    fn url_or_empty(&mut self, key: &str, value: &str) {
        if !(value.is_empty() || value.starts_with("http://") || value.starts_with("https://")) {
            self.fail(
                key,
                format!("must be empty or an http(s):// address, got {value:?}"),
            );
        }
    }
}

impl Settings {
    /// Refuse values that make no sense (every problem at once), and raise
    /// the retention periods to their legal floors. Answers a note for each
    /// value raised.
    pub fn validate(&mut self) -> Result<Vec<String>, Vec<Invalid>> {
        let mut c = Checks::default();

        if self.database_url.expose_secret().trim().is_empty() {
            c.fail("database_url", "must not be empty".into());
        }
        c.between("max_connections", self.max_connections, 1, 1000);
        if self.bind.trim().is_empty() {
            c.fail("bind", "must not be empty".into());
        }
        let key = self.data_key.expose_secret().trim();
        let hex64 = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
        if !key.is_empty() && !hex64 {
            // Never echo the value: it is a secret.
            c.fail("data_key", "must be 64 hex characters".into());
        }
        c.between("dicom_max_upload_mb", self.dicom_max_upload_mb, 1, 4096);
        c.at_least("session_hours", self.session_hours, 1);
        c.at_least("login_max_failures", self.login_max_failures, 1);
        c.at_least("login_window_minutes", self.login_window_minutes, 1);
        c.one_of("log_format", &self.log_format, &["pretty", "json"]);
        let channel = self.notify_channel.as_str();
        if channel != "log" && !channel.starts_with("http://") && !channel.starts_with("https://") {
            c.fail(
                "notify_channel",
                format!("must be \"log\" or an http(s):// address, got {channel:?}"),
            );
        }
        c.at_least(
            "consultation_answer_minutes",
            self.consultation_answer_minutes,
            1,
        );
        c.at_least("consultation_fee_fen", self.consultation_fee_fen, 0);
        c.at_least("care_relationship_days", self.care_relationship_days, 1);
        c.at_least("picture_max_bytes", self.picture_max_bytes as i128, 1);

        let s = &self.scheduling;
        c.between("scheduling.release_hour", s.release_hour, 0, 23);
        c.at_least("scheduling.daily_limit", s.daily_limit, 1);
        c.at_least("scheduling.cancel_cutoff_hours", s.cancel_cutoff_hours, 0);
        c.between(
            "scheduling.late_refund_percent",
            s.late_refund_percent,
            0,
            100,
        );
        c.at_least("scheduling.horizon_days", s.horizon_days, 1);

        let l = &self.pharmacy.limits;
        c.at_least("pharmacy.limits.acute_max_days", l.acute_max_days, 1);
        c.at_least("pharmacy.limits.chronic_max_days", l.chronic_max_days, 1);
        c.at_least("pharmacy.limits.max_items", l.max_items as i128, 1);

        let p = &self.payment;
        c.at_least("payment.order_timeout_minutes", p.order_timeout_minutes, 1);
        c.at_least(
            "payment.payment_timeout_minutes",
            p.payment_timeout_minutes,
            1,
        );
        c.url_or_empty("payment.callback_base_url", &p.callback_base_url);
        c.at_least(
            "payment.hospital_delivery_fee_fen",
            p.hospital_delivery_fee_fen,
            0,
        );
        c.at_least("payment.courier_fee_fen", p.courier_fee_fen, 0);
        c.between(
            "payment.consultation_fee_reimburse_permille",
            p.consultation_fee_reimburse_permille,
            0,
            1000,
        );
        c.at_least("payment.job_interval_seconds", p.job_interval_seconds, 1);

        let d = &self.referral.deadlines;
        for (key, hours) in [
            ("referral.deadlines.requested_hours", d.requested_hours),
            ("referral.deadlines.accepted_hours", d.accepted_hours),
            ("referral.deadlines.seen_hours", d.seen_hours),
            (
                "referral.deadlines.results_returned_hours",
                d.results_returned_hours,
            ),
            (
                "referral.deadlines.referred_down_hours",
                d.referred_down_hours,
            ),
        ] {
            c.at_least(key, hours, 1);
        }
        let w = &self.referral.duplicate_windows;
        for (key, days) in [
            ("referral.duplicate_windows.ct_days", w.ct_days),
            ("referral.duplicate_windows.mri_days", w.mri_days),
            (
                "referral.duplicate_windows.ultrasound_days",
                w.ultrasound_days,
            ),
            ("referral.duplicate_windows.xray_days", w.xray_days),
        ] {
            c.at_least(key, days, 0);
        }

        let n = &self.nursing;
        c.at_least("nursing.assessment_days", n.assessment_days, 1);
        c.at_least("nursing.assessment_valid_days", n.assessment_valid_days, 1);
        c.at_least("nursing.min_nurse_years", n.min_nurse_years, 0);
        c.at_least("nursing.min_lead_hours", n.min_lead_hours, 0);
        c.at_least("nursing.max_days_ahead", n.max_days_ahead, 1);
        c.at_least("nursing.max_window_hours", n.max_window_hours, 1);
        if n.max_days_ahead >= 1 && n.min_lead_hours >= n.max_days_ahead.saturating_mul(24) {
            c.fail(
                "nursing.min_lead_hours",
                format!(
                    "must be less than nursing.max_days_ahead x 24 ({}), got {}",
                    n.max_days_ahead.saturating_mul(24),
                    n.min_lead_hours
                ),
            );
        }

        let f = &self.followup;
        c.at_least("followup.grace_hours", f.grace_hours, 1);
        c.at_least("followup.job_interval_secs", f.job_interval_secs, 1);

        if !c.0.is_empty() {
            return Err(c.0);
        }
        let mut notes = Vec::new();
        for (key, value, floor) in [
            (
                "message_retention_years",
                &mut self.message_retention_years,
                MESSAGE_RETENTION_FLOOR_YEARS,
            ),
            (
                "record_retention_years",
                &mut self.record_retention_years,
                RECORD_RETENTION_FLOOR_YEARS,
            ),
        ] {
            if *value < floor {
                notes.push(format!(
                    "{key} {value} is below the legal floor; {floor} years are kept"
                ));
                *value = floor;
            }
        }
        Ok(notes)
    }
}
