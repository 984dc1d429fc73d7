//! The admin overview: per-day counts over the last [`OVERVIEW_DAYS`] days,
//! read from the activity log, the mail outbox and the webhook deliveries.
//!
//! Each count is a grouped query over a covering index (migration 0015).
//! The activity log's and the outbox's counts of a day before yesterday
//! never change (rows are stamped when written, mails count on the day they
//! were sent or given up, and neither table loses rows in the window), so
//! each instance keeps them and a look reads only yesterday's and today's
//! rows; yesterday stays live because a row stamped just before midnight
//! may commit just after. A new day counts only the day that closed.
//! Webhook deliveries can change later ("send again", an endpoint deleted,
//! pruning), so they are counted afresh each time: that table holds 30
//! days at most.

use sqlx::{Any, FromRow, Pool};
use tokio::sync::Mutex;

use crate::db::StoreError;
use crate::error::Error;
use crate::model::EventKind;
use crate::now;
use crate::overview_model::{DayCounts, Overview, OVERVIEW_DAYS};

const DAY: i64 = 86_400;

/// Spike rule for failed log-ins: at least this many times the window's
/// median day, and at least [`SPIKE_MARGIN`] above it, so a quiet
/// deployment's 0 → 3 is not a spike.
const SPIKE_FACTOR: u64 = 3;
const SPIKE_MARGIN: u64 = 20;

/// The closed days counted so far, oldest first. Held across a count, so
/// looks that arrive together (after a restart, at midnight) count once.
#[derive(Default)]
pub struct OverviewCache(Mutex<Vec<DayCounts>>);

impl crate::Admin<'_> {
    /// The overview as of now.
    pub async fn overview(&self) -> Result<Overview, Error> {
        let today = now().div_euclid(DAY) * DAY;
        let first = today - (OVERVIEW_DAYS as i64 - 1) * DAY;
        let live = today - DAY;
        let mut days = {
            let mut closed = self.overview_cache.0.lock().await;
            closed.retain(|d| d.day >= first && d.day < live);
            // Only a run from the window's first day is of use (the clock
            // may have stepped back).
            if closed.first().is_some_and(|d| d.day != first) {
                closed.clear();
            }
            let next = closed.last().map_or(first, |d| d.day + DAY);
            if next < live {
                closed.extend(count_log(&self.db.pool, next, live).await?);
            }
            closed.clone()
        };
        days.extend(count_log(&self.db.pool, live, today + DAY).await?);
        count_deliveries(&self.db.pool, &mut days).await?;
        mark_spikes(&mut days);
        let (accounts, disabled_accounts): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN disabled <> 0 THEN 1 ELSE 0 END), 0) FROM users",
        )
        .fetch_one(&self.db.pool)
        .await
        .map_err(StoreError::from)?;
        Ok(Overview {
            days,
            accounts: accounts as u64,
            disabled_accounts: disabled_accounts as u64,
        })
    }
}

#[derive(FromRow)]
struct KindCount {
    kind: String,
    d: i64,
    n: i64,
}

/// The activity log's and the outbox's counts of the days from `from` (a
/// day's first second) up to `until`, one entry per day, zeros included.
async fn count_log(pool: &Pool<Any>, from: i64, until: i64) -> Result<Vec<DayCounts>, StoreError> {
    let mut days: Vec<DayCounts> = (0..(until - from) / DAY)
        .map(|i| DayCounts {
            day: from + i * DAY,
            ..DayCounts::default()
        })
        .collect();
    let kinds = [
        EventKind::SignUp,
        EventKind::LoginSucceeded,
        EventKind::LoginFailed,
        EventKind::LoginThrottled,
        EventKind::CodeSent,
    ]
    .map(|k| format!("'{}'", k.as_str()))
    .join(", ");
    let events: Vec<KindCount> = sqlx::query_as(&format!(
        "SELECT kind, (at - $1) / {DAY} AS d, COUNT(*) AS n \
         FROM audit_events WHERE kind IN ({kinds}) AND at >= $1 AND at < $2 GROUP BY kind, d"
    ))
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    for row in events {
        let Some(day) = days.get_mut(row.d as usize) else {
            continue;
        };
        let n = row.n as u64;
        match EventKind::parse(&row.kind) {
            Some(EventKind::SignUp) => day.sign_ups = n,
            Some(EventKind::LoginSucceeded) => day.logins = n,
            Some(EventKind::LoginFailed) => day.failed_logins = n,
            Some(EventKind::LoginThrottled) => day.throttled_logins = n,
            Some(EventKind::CodeSent) => day.codes_sent = n,
            _ => {}
        }
    }
    // Distinct pairs first: hashed, where COUNT(DISTINCT) would sort every
    // log-in (twice as fast on PostgreSQL at a million).
    let active: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT d, COUNT(*) FROM (SELECT DISTINCT (at - $1) / {DAY} AS d, user_id \
         FROM audit_events WHERE kind = '{}' AND at >= $1 AND at < $2) pairs GROUP BY d",
        EventKind::LoginSucceeded.as_str()
    ))
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    for (d, n) in active {
        if let Some(day) = days.get_mut(d as usize) {
            day.active_users = n as u64;
        }
    }
    // Mails count on the day they were sent or given up.
    ended(pool, "outbox", "sent_at", &mut days, |d, n| {
        d.mails_sent = n
    })
    .await?;
    ended(pool, "outbox", "failed_at", &mut days, |d, n| {
        d.mails_failed = n
    })
    .await?;
    Ok(days)
}

/// The webhook deliveries that ended on each of `days`.
async fn count_deliveries(pool: &Pool<Any>, days: &mut [DayCounts]) -> Result<(), StoreError> {
    let table = "webhook_deliveries";
    ended(pool, table, "delivered_at", days, |d, n| {
        d.webhooks_delivered = n
    })
    .await?;
    ended(pool, table, "failed_at", days, |d, n| d.webhooks_failed = n).await
}

/// Sets, with `set`, how many rows of `table` have `column` within each of
/// `days` (consecutive, oldest first).
async fn ended(
    pool: &Pool<Any>,
    table: &str,
    column: &str,
    days: &mut [DayCounts],
    set: fn(&mut DayCounts, u64),
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(());
    };
    let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT ({column} - $1) / {DAY} AS d, COUNT(*) FROM {table} \
         WHERE {column} >= $1 AND {column} < $2 GROUP BY d"
    ))
    .bind(first.day)
    .bind(last.day + DAY)
    .fetch_all(pool)
    .await?;
    for (d, n) in rows {
        if let Some(day) = days.get_mut(d as usize) {
            set(day, n as u64);
        }
    }
    Ok(())
}

/// Marks the days whose failed log-ins stand far above the median day.
fn mark_spikes(days: &mut [DayCounts]) {
    let mut counts: Vec<u64> = days.iter().map(|d| d.failed_logins).collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    for day in days {
        day.failed_login_spike = day.failed_logins >= median.saturating_mul(SPIKE_FACTOR)
            && day.failed_logins >= median + SPIKE_MARGIN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(counts: &[u64]) -> Vec<DayCounts> {
        counts
            .iter()
            .map(|&failed_logins| DayCounts {
                failed_logins,
                ..DayCounts::default()
            })
            .collect()
    }

    fn spikes(counts: &[u64]) -> Vec<bool> {
        let mut days = failed(counts);
        mark_spikes(&mut days);
        days.iter().map(|d| d.failed_login_spike).collect()
    }

    #[test]
    fn a_day_far_above_the_median_is_a_spike() {
        assert_eq!(
            spikes(&[10, 12, 9, 11, 10, 95, 10]),
            [false, false, false, false, false, true, false]
        );
    }

    #[test]
    fn small_numbers_are_never_spikes() {
        // 0 → 19 is "3 × the median" but not 20 above it.
        assert_eq!(spikes(&[0, 0, 0, 19, 0]), [false; 5]);
        assert_eq!(
            spikes(&[0, 0, 0, 20, 0]),
            [false, false, false, true, false]
        );
    }

    #[test]
    fn a_steady_high_rate_is_not_a_spike() {
        assert_eq!(spikes(&[200, 210, 190, 205, 250]), [false; 5]);
    }
}
