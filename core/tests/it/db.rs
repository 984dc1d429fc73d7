//! The connection pool when a request is abandoned half-way: a client that
//! hangs up drops its handler's future at any `.await`, including while a
//! transaction is beginning.

use std::time::Duration;

use futures::FutureExt;

use super::*;
use common::Backend;

/// A `BEGIN` the database ran whose answer nobody read (the future was
/// dropped between the worker's reply and its next poll) must not come
/// back to the pool as an open transaction: on SQLite that connection
/// would keep the write lock, and every write after it would fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_abandoned_as_it_begins_leaves_the_pool_writable() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = latchkey_core::Db::connect(&common::fresh_db_url(backend).await)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        for i in 0..200 {
            let mut begin = Box::pin(db.begin());
            // Each poll takes the next step (a connection, the BEGIN); the
            // worker (SQLite) or the server answers while this thread
            // sleeps; then the future is dropped unread.
            for _ in 0..=i % 4 {
                if (&mut begin).now_or_never().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            drop(begin);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Every pooled connection, in turn, opens and commits a write.
        for i in 0..12 {
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
