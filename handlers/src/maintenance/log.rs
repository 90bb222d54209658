//! The maintenance log in SQL: one `maintenance_log` row per run (0002) and
//! one `maintenance_actions` row per action (0005), the same query text on
//! both engines.

use super::{ActionRecord, JOB};
use crate::storage::sql::support::{now_us, ordered_id};

const RUN_START: &str = "INSERT INTO maintenance_log (id, tenant, job, started_at_us, finished_at_us, outcome, detail) \
     VALUES ($1, $2, $3, $4, NULL, NULL, NULL)";
const RUN_FINISH: &str = "UPDATE maintenance_log SET finished_at_us = $2, outcome = $3, detail = $4 WHERE id = $1";
const RUN_SKIPPED: &str = "INSERT INTO maintenance_log (id, tenant, job, started_at_us, finished_at_us, outcome, detail) \
     VALUES ($1, $2, $3, $4, $4, 'skipped', $5)";
const ACTION: &str = "INSERT INTO maintenance_actions \
     (run_id, seq, tenant, action, target, reason, started_at_us, duration_ms, outcome) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Writes a run's log rows into one database.
#[derive(Debug, Clone)]
pub struct RunLog<P> {
    pool: P,
    /// The run's id.
    pub run_id: String,
    tenant: String,
    seq: i64,
}

macro_rules! impl_run_log {
    ($pool:ty) => {
        impl RunLog<$pool> {
            /// Starts a run's row.
            pub async fn start(pool: &$pool, tenant: &str) -> Result<Self, sqlx::Error> {
                let run_id = ordered_id();
                sqlx::query(RUN_START).bind(&run_id).bind(tenant).bind(JOB).bind(now_us()).execute(pool).await?;
                Ok(Self { pool: pool.clone(), run_id, tenant: tenant.to_owned(), seq: 0 })
            }

            /// Records that a run found the lock held and did nothing.
            pub async fn skipped(pool: &$pool, tenant: &str, detail: &str) -> Result<(), sqlx::Error> {
                sqlx::query(RUN_SKIPPED)
                    .bind(ordered_id())
                    .bind(tenant)
                    .bind(JOB)
                    .bind(now_us())
                    .bind(detail)
                    .execute(pool)
                    .await?;
                Ok(())
            }

            /// Records one action.
            pub async fn action(&mut self, a: &ActionRecord, started_at_us: i64) -> Result<(), sqlx::Error> {
                self.seq += 1;
                sqlx::query(ACTION)
                    .bind(&self.run_id)
                    .bind(self.seq)
                    .bind(&self.tenant)
                    .bind(a.action)
                    .bind(&a.target)
                    .bind(&a.reason)
                    .bind(started_at_us)
                    .bind(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
                    .bind(&a.outcome)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            /// Closes the run's row.
            pub async fn finish(&self, outcome: &str, detail: &str) -> Result<(), sqlx::Error> {
                sqlx::query(RUN_FINISH)
                    .bind(&self.run_id)
                    .bind(now_us())
                    .bind(outcome)
                    .bind(detail)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

impl_run_log!(sqlx::PgPool);
impl_run_log!(sqlx::SqlitePool);
