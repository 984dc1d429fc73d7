//! The connection pool when a request is abandoned half-way: a client that
//! hangs up drops its handler's future at any `.await`, including while a
//! transaction is beginning.

use std::time::Duration;

use futures::FutureExt;
use sqlx::Connection;

use super::*;
use common::Backend;

/// A `BEGIN` dropped at any step (before the database answered, after,
/// while the driver checks the answer) leaves no connection in the pool
/// inside a transaction: on SQLite it would keep the write lock, on
/// PostgreSQL later writes on it would never commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_abandoned_as_it_begins_leaves_no_connection_inside_one() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let url = common::fresh_db_url(backend).await;
        let db = latchkey_core::Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        // On PostgreSQL the next transaction on the same connection would
        // end a stale one (its BEGIN is only warned about, its end ends
        // both), so the database is asked after each: every test has a
        // database of its own.
        let mut watcher = match backend {
            Backend::Postgres => Some(sqlx::PgConnection::connect(&url).await.unwrap()),
            Backend::Sqlite => None,
        };
        for i in 0..200 {
            let mut begin = Box::pin(db.begin());
            // Each poll takes the next step; the database or SQLite's
            // worker answers while this thread sleeps; then the future is
            // dropped unread.
            for _ in 0..=i % 4 {
                if (&mut begin).now_or_never().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            drop(begin);
            tokio::time::sleep(Duration::from_millis(5)).await;
            if let Some(watcher) = watcher.as_mut() {
                // A rollback on its way clears within moments; a leak stays.
                let mut stale = 0_i64;
                for _ in 0..50 {
                    (stale,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                         AND state LIKE 'idle in transaction%'",
                    )
                    .fetch_one(&mut *watcher)
                    .await
                    .unwrap();
                    if stale == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                assert_eq!(stale, 0, "PostgreSQL: left inside a transaction (try {i})");
            }
        }
        // What the dropped futures left runs in the background: a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // None of the pooled connections is inside a transaction as the
        // driver counts them (SQLite's stays so: a new BEGIN on it fails).
        let mut held = Vec::new();
        for _ in 0..db.pool.size().max(1) {
            held.push(db.pool.acquire().await.unwrap());
        }
        for (i, conn) in held.iter().enumerate() {
            assert!(!conn.is_in_transaction(), "{backend:?}: connection {i}");
        }
        drop(held);
        // And each takes its turn at writing.
        for i in 0..8 {
            let mut tx = tokio::time::timeout(Duration::from_secs(10), db.begin())
                .await
                .expect("a transaction begins")
                .unwrap_or_else(|e| panic!("{backend:?}: begin {i}: {e}"));
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(format!("none-{i}"))
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{backend:?}: write {i}: {e}"));
            tx.commit()
                .await
                .unwrap_or_else(|e| panic!("{backend:?}: commit {i}: {e}"));
        }
    }
}
