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
pub mod outbox;
pub mod payment;
pub mod pharmacy;
pub mod referral;
pub mod scheduling;
pub mod session;
pub mod testing;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor};

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

impl StoreError {
    /// The store is shutting down (its pool is closed).
    pub fn closed() -> Self {
        Self::Db(sqlx::Error::PoolClosed)
    }
}

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
    /// SQLite: the checkpointer stops when the last clone of the store is gone.
    _checkpointer: Option<Arc<tokio::sync::oneshot::Sender<()>>>,
}

/// How long a write transaction waits for its turn before giving up, as
/// SQLite's busy timeout did.
const WRITER_WAIT: Duration = Duration::from_secs(10);

/// A write transaction. Derefs to sqlx's transaction (and through it to the
/// connection); on SQLite it also holds this process's writer turn until
/// it commits, rolls back or is dropped.
pub struct WriteTx<'c> {
    inner: Transaction<'c, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// A write transaction on a connection of the pool's choosing.
pub type Tx = WriteTx<'static>;

/// A pool connection kept by one long-lived writer (the chat's group
/// commit). SQLite keeps a page cache per connection and a connection's
/// own commits leave it valid, whereas the pool hands out its connections in
/// turn, each with a cache emptied by the others' writes: a batch of chat
/// messages then re-read every index page it touched from the OS.
pub type PinnedConn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Page cache of a pinned SQLite writer (64 MiB): the index pages of a few
/// thousand busy chats.
const PINNED_CACHE: &str = "PRAGMA cache_size=-65536";

impl WriteTx<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl<'c> std::ops::Deref for WriteTx<'c> {
    type Target = Transaction<'c, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
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
                             PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192; \
                             PRAGMA wal_autocheckpoint=0;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let writer = Arc::new(tokio::sync::Mutex::new(()));
        let checkpointer = match backend {
            Backend::Sqlite => Some(spawn_checkpointer(&url, writer.clone()).await?),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            writer,
            _checkpointer: checkpointer,
        })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Apply the migrations up to `version` only, for tests of an upgrade
    /// with data in place; `migrate` applies the rest.
    pub async fn migrate_up_to(&self, version: i64) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run_to(version, &self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run_to(version, &self.pool).await?,
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
                let turn = self.writer_turn().await?;
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

    /// A write transaction on `conn` (a pinned connection), as `begin` does on the pool.
    pub async fn begin_on<'c>(&self, conn: &'c mut AnyConnection) -> StoreResult<WriteTx<'c>> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.writer_turn().await?;
                WriteTx {
                    inner: conn.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                }
            }
            _ => WriteTx {
                inner: conn.begin().await?,
                _turn: None,
            },
        })
    }

    async fn writer_turn(&self) -> StoreResult<tokio::sync::OwnedMutexGuard<()>> {
        tokio::time::timeout(WRITER_WAIT, self.writer.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))
    }

    /// A connection for one long-lived writer to keep (see [`PinnedConn`]),
    /// or `None` when the pool is too small to give one away for good.
    pub async fn pin(&self) -> StoreResult<Option<PinnedConn>> {
        if self.pool.options().get_max_connections() < 4 {
            return Ok(None);
        }
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Sqlite {
            conn.execute(PINNED_CACHE).await?;
        }
        Ok(Some(conn))
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

/// How often the SQLite checkpointer copies committed pages from the WAL
/// into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// WAL frames (pages) after which the checkpointer makes the WAL start over.
const WAL_RESTART_FRAMES: i64 = 8192;

/// SQLite checkpoints run on a connection of their own, off every writer's
/// path. Left to the committing connection (SQLite's default, every 1,000
/// WAL pages), a chat batch that dirtied a few thousand index pages copied
/// them all into the database file and waited for `fsync` before its
/// messages could be delivered.
///
/// A passive checkpoint blocks nobody, but under a steady stream of commits
/// it never catches up with the last one, and the WAL only starts over once
/// it has: so when the WAL is long, a second passive pass leaves little to
/// copy and a restarting checkpoint does the rest between two writers.
async fn spawn_checkpointer(
    url: &str,
    writer: Arc<tokio::sync::Mutex<()>>,
) -> StoreResult<Arc<tokio::sync::oneshot::Sender<()>>> {
    let mut conn = AnyConnection::connect(url).await?;
    // A restarting checkpoint waits for readers of older snapshots while it
    // holds this process's writer turn: it gives up after 100 ms and tries
    // again at the next tick rather than stall every writer.
    conn.execute("PRAGMA journal_size_limit=67108864; PRAGMA busy_timeout=100;")
        .await?;
    let (alive, mut gone) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut gone => break,
                _ = tick.tick() => {
                    if let Err(e) = checkpoint(&mut conn, &writer).await {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
                    }
                }
            }
        }
        let _ = conn.close().await;
    });
    Ok(Arc::new(alive))
}

async fn checkpoint(
    conn: &mut AnyConnection,
    writer: &tokio::sync::Mutex<()>,
) -> Result<(), sqlx::Error> {
    let passive = || sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)");
    let (_, frames, _) = passive().fetch_one(&mut *conn).await?;
    if frames >= WAL_RESTART_FRAMES {
        passive().fetch_one(&mut *conn).await?;
        let _turn = writer.lock().await;
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
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
