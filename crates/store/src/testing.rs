//! Fresh, isolated databases for tests: a temp SQLite file, or a new
//! PostgreSQL database on the server named by `IHOS_TEST_PG`.

use sqlx::migrate::MigrateDatabase;

/// Env var that switches test suites to PostgreSQL.
pub const TEST_PG_ENV: &str = "IHOS_TEST_PG";

/// A database URL for one test. `dir` holds the SQLite file.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var(TEST_PG_ENV) {
        Ok(base) if !base.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!("ihos_t_{}", uuid::Uuid::new_v4().simple());
            let (server, _) = base.rsplit_once('/').unwrap_or((base.as_str(), ""));
            let url = format!("{server}/{name}");
            sqlx::Any::create_database(&url)
                .await
                .unwrap_or_else(|e| panic!("cannot create test database on {server}: {e}"));
            url
        }
        _ => format!("sqlite://{}/ihos.db", dir.display()),
    }
}
