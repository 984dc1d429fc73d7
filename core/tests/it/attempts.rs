//! Attempts counted in the shared store (Redis) by two instances of one
//! deployment: one budget for both, each give-back applied once, never
//! below zero.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::ephemeral::{Attempt, Budget};
use latchkey_core::{EphemeralStore, RedisStore};

use crate::common;

const WINDOW: Duration = Duration::from_secs(600);
const MAX_WAIT: Duration = Duration::from_secs(60);

fn budget(free: u64) -> Vec<Budget> {
    vec![Budget {
        key: "someone".into(),
        free,
    }]
}

/// The attempts counted in the budget's window, this one included.
async fn count(store: &dyn EphemeralStore) -> u64 {
    match store
        .attempt(&budget(1_000), WINDOW, MAX_WAIT)
        .await
        .unwrap()
    {
        Attempt::Allowed(counted) => counted[0].0,
        Attempt::Wait(left) => panic!("refused for {left:?}"),
    }
}

/// Two stores in one namespace: two instances of one deployment.
async fn two_instances() -> (RedisStore, RedisStore) {
    let prefix = format!("lktest:{}:", uuid::Uuid::new_v4().simple());
    (
        common::redis_store_in(&prefix).await,
        common::redis_store_in(&prefix).await,
    )
}

#[tokio::test]
async fn two_instances_spend_one_budget() {
    let (one, other) = two_instances().await;
    for n in 1..=3 {
        assert_eq!(count(&one).await, n);
    }
    one.give_back(&budget(1_000)).await.unwrap();
    assert_eq!(count(&other).await, 3, "two left counted, and this one");
}

#[tokio::test]
async fn a_give_back_with_nothing_counted_hands_out_nothing() {
    let (one, other) = two_instances().await;
    for _ in 0..3 {
        one.give_back(&budget(1_000)).await.unwrap();
    }
    assert_eq!(count(&other).await, 1);
}

// 200 concurrent log-ins on two instances, half of them successes: the
// failures, and only they, stay counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_successes_give_back_exactly_their_attempts() {
    let (one, other) = two_instances().await;
    let instances = [Arc::new(one), Arc::new(other)];
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            // Attempts and give-backs on both, in every mix.
            let store = instances[(i / 2) % 2].clone();
            tokio::spawn(async move {
                let attempt = store
                    .attempt(&budget(1_000), WINDOW, MAX_WAIT)
                    .await
                    .unwrap();
                assert!(matches!(attempt, Attempt::Allowed(_)));
                if i % 2 == 0 {
                    store.give_back(&budget(1_000)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(count(instances[1].as_ref()).await, 101);
}
