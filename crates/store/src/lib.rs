//! Persistence for ihos: one code path for SQLite and PostgreSQL through
//! sqlx's `Any` driver. Portable SQL only: TEXT ids, INTEGER ms times, `$n`
//! placeholders.

pub mod audit;
pub mod consultation;
pub mod events;
pub mod followup;
pub mod identity;
pub mod imaging;
pub mod nursing;
pub mod org;
pub mod payment;
pub mod pharmacy;
pub mod referral;
pub mod scheduling;
pub mod session;
pub mod testing;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use sqlx::{AnyConnection, Transaction};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; `what` names the column.
    #[error("duplicate {what}")]
    Duplicate { what: String },
    #[error("not found")]
    NotFound,
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Map a unique violation to `Duplicate` naming the first of `columns` it
/// mentions; anything else stays a database error.
pub(crate) fn classify(err: sqlx::Error, columns: &[&str]) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
        let what = columns
            .iter()
            .find(|c| text.contains(*c))
            .map_or_else(|| "record".to_string(), |c| (*c).to_string());
        return StoreError::Duplicate { what };
    }
    StoreError::Db(err)
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time. Write transactions of this process
    /// queue here in arrival order instead of in SQLite's busy handler, which
    /// sleeps and retries (1, 2, 5, ... 100 ms) and so leaves the lock idle
    /// while dozens of bookings wait for it in a registration rush.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// How long a write transaction waits for its turn before giving up, as
/// SQLite's busy timeout did.
const WRITER_WAIT: Duration = Duration::from_secs(10);

/// A write transaction. Derefs to sqlx's transaction (and through it to the
/// connection); on SQLite it also holds this process's writer turn until
/// it commits, rolls back or is dropped.
pub struct Tx {
    inner: Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = Transaction<'static, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Connect to `url` (`sqlite://path` or `postgres://...`), creating a
    /// SQLite file and its directory on first use.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // No ping round trip on every acquire (it doubled the round trips of
            // a booking); a broken connection fails its query and is dropped.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                             PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                             PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self {
            pool,
            backend,
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// One pooled connection.
    pub async fn conn(&self) -> StoreResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// On SQLite the transaction takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred one that reads and then writes (an audited
    /// read, say) fails with `SQLITE_BUSY` instead of waiting when another
    /// writer committed in between; the busy timeout covers only the start.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = tokio::time::timeout(WRITER_WAIT, self.writer.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))?;
                Tx {
                    inner: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                }
            }
            _ => Tx {
                inner: self.pool.begin().await?,
                _turn: None,
            },
        })
    }

    /// For readiness probes: one round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn prepare_sqlite_url(url: &str) -> StoreResult<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::UnsupportedUrl(
            "in-memory SQLite gives each connection its own database; use a file".into(),
        ));
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("sqlite://{path}?mode=rwc")
    })
}

/// Milliseconds since the Unix epoch, UTC: the storage form of every time.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Time-ordered ids (UUIDv7) as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
