use std::path::PathBuf;

use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A settings file in a temp dir, and the dir (kept alive by the caller).
fn toml_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ihos.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load(file: Option<&Path>, pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
    Settings::load_from(file, env(pairs)).map(|(s, _)| s)
}

#[test]
fn with_no_file_and_no_environment_the_defaults_hold() {
    let s = load(None, &[]).unwrap();
    let d = Settings::default();
    assert_eq!(s.database_url.expose_secret(), "sqlite://data/ihos.db");
    assert_eq!(s.bind, d.bind);
    assert_eq!(s.session_hours, 12);
    assert_eq!(s.payment.order_timeout_minutes, 24 * 60);
    assert_eq!(s.scheduling, d.scheduling);
    assert_eq!(s.nursing, d.nursing);
    assert_eq!(s.data_dir, PathBuf::from("data"));
    assert_eq!(s.blob_root(), PathBuf::from("data/blobs"));
    assert_eq!(s.key_file(), PathBuf::from("data/ihos.key"));
    assert!(s.data_key.expose_secret().is_empty());
}

#[test]
fn the_file_overrides_the_defaults_and_leaves_the_rest() {
    let (_dir, path) = toml_file(
        "session_hours = 8\nbind = \"0.0.0.0:9000\"\n\
         [payment]\norder_timeout_minutes = 60\n\
         [scheduling]\ndaily_limit = 3\n\
         [nursing]\nmax_days_ahead = 7\n",
    );
    let s = load(Some(&path), &[]).unwrap();
    assert_eq!(s.session_hours, 8);
    assert_eq!(s.bind, "0.0.0.0:9000");
    assert_eq!(s.payment.order_timeout_minutes, 60);
    assert_eq!(
        s.payment.payment_timeout_minutes, 15,
        "untouched field keeps its default"
    );
    assert_eq!(s.scheduling.daily_limit, 3);
    assert_eq!(s.nursing.max_days_ahead, 7);
    assert_eq!(s.login_max_failures, 5);
}

#[test]
fn the_environment_overrides_the_file() {
    let (_dir, path) = toml_file("session_hours = 8\n[payment]\norder_timeout_minutes = 60\n");
    let s = load(
        Some(&path),
        &[
            ("IHOS_SESSION_HOURS", "4"),
            ("IHOS_PAYMENT__ORDER_TIMEOUT_MINUTES", "90"),
        ],
    )
    .unwrap();
    assert_eq!(s.session_hours, 4);
    assert_eq!(s.payment.order_timeout_minutes, 90);
}

#[test]
fn nested_keys_come_from_double_underscores() {
    let s = load(
        None,
        &[
            ("IHOS_SCHEDULING__DAILY_LIMIT", "4"),
            ("IHOS_REFERRAL__DEADLINES__SEEN_HOURS", "24"),
            ("IHOS_PHARMACY__LIMITS__MAX_ITEMS", "3"),
            ("IHOS_FOLLOWUP__JOB_INTERVAL_SECS", "60"),
            ("IHOS_SECURE_COOKIES", "yes"),
            (
                "IHOS_PAYMENT__CALLBACK_BASE_URL",
                "https://ihos.example.org",
            ),
        ],
    )
    .unwrap();
    assert_eq!(s.scheduling.daily_limit, 4);
    assert_eq!(s.referral.deadlines.seen_hours, 24);
    assert_eq!(s.pharmacy.limits.max_items, 3);
    assert_eq!(s.followup.job_interval_secs, 60);
    assert!(s.secure_cookies);
    assert_eq!(s.payment.callback_base_url, "https://ihos.example.org");
}

#[test]
fn every_documented_variable_name_still_works() {
    let key = "ab".repeat(32);
    let s = load(
        None,
        &[
            ("DATABASE_URL", "postgres://u:pw@127.0.0.1/a"),
            ("IHOS_BIND", "127.0.0.1:0"),
            ("IHOS_DATA_KEY", &key),
            ("IHOS_KEY_FILE", "/k/ihos.key"),
            ("IHOS_DATA_DIR", "/srv/ihos"),
            ("IHOS_BLOB_DIR", "/srv/pictures"),
            ("IHOS_MAX_CONNECTIONS", "8"),
            ("IHOS_DICOM_MAX_UPLOAD_MB", "64"),
            ("IHOS_SESSION_HOURS", "6"),
            ("IHOS_LOGIN_MAX_FAILURES", "3"),
            ("IHOS_LOGIN_WINDOW_MINUTES", "10"),
            ("IHOS_LOG_FORMAT", "json"),
            ("IHOS_SECURE_COOKIES", "1"),
            ("IHOS_CONSULTATION_ANSWER_MINUTES", "45"),
            ("IHOS_CONSULTATION_FEE_FEN", "0"),
            ("IHOS_MESSAGE_RETENTION_YEARS", "5"),
            ("IHOS_RECORD_RETENTION_YEARS", "30"),
            ("IHOS_DRUG_CATALOGUE", "/etc/ihos/drugs.csv"),
            ("IHOS_PAYMENT_SECRET", "12345"),
            ("IHOS_PAYMENT_CALLBACK_BASE_URL", "https://pay.example.org"),
            ("IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES", "30"),
            ("IHOS_NURSING_ASSESSMENT_DAYS", "10"),
            ("IHOS_NURSING_MIN_NURSE_YEARS", "3"),
            ("IHOS_NURSING_MIN_LEAD_HOURS", "1"),
            ("IHOS_FOLLOWUP_GRACE_HOURS", "12"),
        ],
    )
    .unwrap();
    assert_eq!(
        s.database_url.expose_secret(),
        "postgres://u:pw@127.0.0.1/a"
    );
    assert_eq!(s.bind, "127.0.0.1:0");
    assert_eq!(s.data_key.expose_secret(), key);
    assert_eq!(s.key_file(), PathBuf::from("/k/ihos.key"));
    assert_eq!(s.blob_root(), PathBuf::from("/srv/ihos/blobs"));
    assert_eq!(s.blob_dir, Some(PathBuf::from("/srv/pictures")));
    assert_eq!(s.max_connections, 8);
    assert_eq!(s.dicom_max_upload_mb, 64);
    assert_eq!(s.session_hours, 6);
    assert_eq!(s.login_max_failures, 3);
    assert_eq!(s.login_window_minutes, 10);
    assert_eq!(s.log_format, "json");
    assert!(s.secure_cookies);
    assert_eq!(s.consultation_answer_minutes, 45);
    assert_eq!(s.consultation_fee_fen, 0);
    assert_eq!(s.message_retention_years, 5);
    assert_eq!(s.record_retention_years, 30);
    assert_eq!(
        s.pharmacy.catalogue_file,
        Some(PathBuf::from("/etc/ihos/drugs.csv"))
    );
    // Digits stay text for a text field.
    assert_eq!(s.payment.provider_secret.expose_secret(), "12345");
    assert_eq!(s.payment.callback_base_url, "https://pay.example.org");
    assert_eq!(s.payment.order_timeout_minutes, 30);
    assert_eq!(s.nursing.assessment_days, 10);
    assert_eq!(s.nursing.min_nurse_years, 3);
    assert_eq!(s.nursing.min_lead_hours, 1);
    assert_eq!(s.followup.grace_hours, 12);
}

#[test]
fn the_prefixed_and_nested_names_win_over_the_older_ones() {
    let s = load(
        None,
        &[
            ("DATABASE_URL", "sqlite://a.db"),
            ("IHOS_DATABASE_URL", "sqlite://b.db"),
            ("IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES", "30"),
            ("IHOS_PAYMENT__ORDER_TIMEOUT_MINUTES", "40"),
        ],
    )
    .unwrap();
    assert_eq!(s.database_url.expose_secret(), "sqlite://b.db");
    assert_eq!(s.payment.order_timeout_minutes, 40);
}

#[test]
fn other_ihos_variables_are_not_settings_and_are_ignored() {
    let s = load(
        None,
        &[
            ("IHOS_LOG", "warn"),
            ("IHOS_TEST_PG", "postgres://postgres@127.0.0.1:5432/test"),
            ("IHOS_CONFIG", "ihos.toml"),
            ("IHOS_BIN", "/usr/bin/ihos"),
            ("IHOS_ADMIN_PASSWORD", "x"),
            ("IHOS_BENCH_DIR", "/tmp"),
            ("PATH", "/usr/bin"),
        ],
    )
    .unwrap();
    assert_eq!(s.log_format, "pretty");
}

#[test]
fn a_misspelt_key_inside_a_known_table_is_refused_by_name() {
    let e = load(None, &[("IHOS_PAYMENT__ORDER_TIMEOUT", "5")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("order_timeout"), "{e}");
}

#[test]
fn debug_output_never_shows_a_secret() {
    let s = load(
        None,
        &[
            ("DATABASE_URL", "postgres://u:hunter2@db/ihos"),
            ("IHOS_DATA_KEY", &"cd".repeat(32)),
            ("IHOS_PAYMENT_SECRET", "callback-signing-key"),
        ],
    )
    .unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("cdcdcd"), "{shown}");
    assert!(!shown.contains("callback-signing-key"), "{shown}");
    assert!(shown.contains("order_timeout_minutes"), "{shown}");
}

#[test]
fn a_bad_value_in_the_file_is_refused_with_the_settings_name() {
    let (_dir, path) = toml_file("[payment]\norder_timeout_minutes = 0\n");
    let e = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(
        e.contains("payment.order_timeout_minutes must be at least 1, got 0"),
        "{e}"
    );
    assert!(
        e.contains("ihos.toml"),
        "names where the value came from: {e}"
    );
}

#[test]
fn a_bad_value_from_the_environment_is_refused_the_same_way() {
    let e = load(None, &[("IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES", "0")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("payment.order_timeout_minutes must be at least 1, got 0"),
        "{e}"
    );
    assert!(e.contains("IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES"), "{e}");
}

#[test]
fn every_bad_value_is_named_at_once() {
    let (_dir, path) = toml_file(
        "max_connections = 0\nlog_format = \"xml\"\n\
         [scheduling]\nlate_refund_percent = 150\nrelease_hour = 24\n\
         [nursing]\nmax_window_hours = 0\n\
         [followup]\njob_interval_secs = 0\n\
         [referral.deadlines]\nrequested_hours = -1\n",
    );
    let e = load(Some(&path), &[]).unwrap_err().to_string();
    for key in [
        "max_connections",
        "log_format",
        "scheduling.late_refund_percent",
        "scheduling.release_hour",
        "nursing.max_window_hours",
        "followup.job_interval_secs",
        "referral.deadlines.requested_hours",
    ] {
        assert!(e.contains(key), "{key} missing from: {e}");
    }
}

#[test]
fn a_value_of_the_wrong_type_names_the_setting() {
    let e = load(None, &[("IHOS_SESSION_HOURS", "ten")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("session_hours"), "{e}");
    assert!(e.contains("IHOS_SESSION_HOURS"), "{e}");
    let (_dir, path) = toml_file("[scheduling]\ndaily_limit = \"two\"\n");
    let e = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(e.contains("scheduling.daily_limit"), "{e}");
}

#[test]
fn a_bad_data_key_is_refused_without_showing_it() {
    let e = load(None, &[("IHOS_DATA_KEY", "not-hex-at-all")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("data_key must be 64 hex characters"), "{e}");
    assert!(!e.contains("not-hex-at-all"), "{e}");
}

#[test]
fn an_unknown_key_in_the_file_is_refused_by_name() {
    let (_dir, path) = toml_file("sesion_hours = 8\n");
    let e = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(e.contains("sesion_hours"), "{e}");
    let (_dir, path) = toml_file("[payment]\nprovider_secrett = \"x\"\n");
    let e = load(Some(&path), &[]).unwrap_err().to_string();
    assert!(e.contains("provider_secrett"), "{e}");
}

#[test]
fn a_missing_settings_file_is_an_error() {
    let e = load(Some(Path::new("/nonexistent/ihos.toml")), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read settings file"), "{e}");
}

#[test]
fn retention_below_the_legal_floor_is_raised_with_a_note() {
    let (_dir, path) = toml_file("message_retention_years = 1\nrecord_retention_years = 10\n");
    let (s, notes) = Settings::load_from(Some(&path), env(&[])).unwrap();
    assert_eq!(s.message_retention_years, 3);
    assert_eq!(s.record_retention_years, 15);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("message_retention_years"), "{notes:?}");
}

#[test]
fn the_data_folder_holds_the_blobs_and_the_key() {
    let s = load(None, &[("IHOS_DATA_DIR", "/srv/ihos")]).unwrap();
    assert_eq!(s.blob_root(), PathBuf::from("/srv/ihos/blobs"));
    // New attachments under the root; older keys where they were written
    // (blob_dir, whose default did not follow data_dir).
    assert_eq!(
        s.attachment_root("attachments/ab/x"),
        PathBuf::from("/srv/ihos/blobs")
    );
    assert_eq!(s.attachment_root("ab/x"), PathBuf::from("data/blobs"));
    let old = Settings {
        blob_dir: Some("/srv/pictures".into()),
        ..s.clone()
    };
    assert_eq!(old.attachment_root("ab/x"), PathBuf::from("/srv/pictures"));
    assert_eq!(
        old.attachment_root("attachments/ab/x"),
        PathBuf::from("/srv/ihos/blobs")
    );
}

#[test]
fn a_key_file_is_created_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Settings {
        data_dir: dir.path().join("d"),
        ..Settings::default()
    };
    assert_eq!(s.key_file(), dir.path().join("d/ihos.key"));
    let a = s.resolve_data_key().unwrap();
    let b = s.resolve_data_key().unwrap();
    assert_eq!(a, b);
    assert!(dir.path().join("d/ihos.key").exists());
    let bad = Settings {
        data_key: "zz".into(),
        ..Settings::default()
    };
    assert!(bad.resolve_data_key().is_err());
}
