//! Write paths beside the pool's own: a writer that keeps its connection
//! (the chat), and SQLite's background checkpoints.

use std::path::Path;
use std::time::{Duration, Instant};

use ihos_store::{Backend, Store, org, testing};

async fn fresh(dir: &Path, pool: u32) -> Store {
    let url = testing::fresh_database_url(dir).await;
    let store = Store::connect(&url, pool).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn hospital(name: &str) -> org::NewOrg {
    org::NewOrg {
        name: name.into(),
        kind: "hospital".into(),
        level: None,
        province: "浙江省".into(),
        city: "杭州市".into(),
    }
}

async fn org_names(store: &Store) -> Vec<String> {
    let mut conn = store.conn().await.unwrap();
    sqlx::query_scalar::<_, String>("SELECT name FROM organisations ORDER BY name")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pinned_writer_commits_and_rolls_back_as_the_pool_does() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(dir.path(), 5).await;
    let mut pinned = store
        .pin()
        .await
        .unwrap()
        .expect("a pool of 5 gives one away");

    let mut tx = store.begin_on(&mut pinned).await.unwrap();
    org::insert_org(&mut tx, &hospital("甲医院")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin_on(&mut pinned).await.unwrap();
    org::insert_org(&mut tx, &hospital("乙医院")).await.unwrap();
    tx.rollback().await.unwrap();

    // Seen from the pool's connections: the commit, not the rollback.
    assert_eq!(org_names(&store).await, vec!["甲医院".to_string()]);
    // The pinned writer and the pool's writers take turns.
    let mut tx = store.begin().await.unwrap();
    org::insert_org(&mut tx, &hospital("丙医院")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(org_names(&store).await.len(), 2);

    let small_dir = tempfile::tempdir().unwrap();
    let small = fresh(small_dir.path(), 2).await;
    assert!(
        small.pin().await.unwrap().is_none(),
        "a pool of 2 keeps its connections for everyone"
    );
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

async fn write_pages(store: &Store, rows: usize) {
    let blob = vec![7u8; 3000];
    for _ in 0..rows / 100 {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..100 {
            sqlx::query("INSERT INTO scratch (body) VALUES ($1)")
                .bind(&blob)
                .execute(&mut **tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn scratch_store(dir: &Path) -> Option<Store> {
    let store = fresh(dir, 4).await;
    if store.backend() != Backend::Sqlite {
        return None;
    }
    let mut conn = store.conn().await.unwrap();
    sqlx::query("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        .execute(&mut *conn)
        .await
        .unwrap();
    Some(store)
}

#[tokio::test]
async fn sqlite_commits_reach_the_database_file_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let Some(store) = scratch_store(dir.path()).await else {
        return;
    };
    let db = dir.path().join("ihos.db");
    let before = file_len(&db);
    // About 4 MB in 13 transactions; nothing commits after them, so only a
    // checkpoint in the background can move the pages.
    write_pages(&store, 1_300).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while file_len(&db) < before + 3_000_000 {
        assert!(
            Instant::now() < deadline,
            "committed pages still only in the WAL after 5 s: database file {} bytes, was {before}",
            file_len(&db)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sqlite_wal_starts_over_under_a_steady_stream_of_writes() {
    let dir = tempfile::tempdir().unwrap();
    let Some(store) = scratch_store(dir.path()).await else {
        return;
    };
    // 40,000 pages (about 160 MB) in short transactions, with no pause between them.
    write_pages(&store, 40_000).await;
    let wal = file_len(&dir.path().join("ihos.db-wal"));
    assert!(
        wal < 80_000_000,
        "the WAL grew to {wal} bytes for 160 MB written: it never started over"
    );
}
