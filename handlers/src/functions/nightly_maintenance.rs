//! Function `nightly-maintenance`: a timer (`0 15 3 * * *`, UTC) that runs
//! the SQL maintenance of [`crate::maintenance`], the same as `chargeback
//! maintain`.
//!
//! Bindings (see `nightly-maintenance/function.json`): trigger `timer`, whose
//! value is `{"Schedule":…,"ScheduleStatus":…,"IsPastDue":…}`. A run that
//! finds the tenant's lock held succeeds and says it skipped; a failure to
//! reach the database fails the invocation (5xx) so the bounded retry applies.

use serde_json::Value;
use tracing::warn;

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, TIMER_BINDING};
use crate::maintenance::{self, Options, Thresholds};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "nightly-maintenance";

/// Handles one timer tick.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let timer = invocation::timer(&request, TIMER_BINDING)?;
    if timer.get("IsPastDue").and_then(Value::as_bool) == Some(true) {
        warn!(function = FUNCTION_NAME, "the timer is past due; running now");
    }
    let failed = |e: anyhow::Error| InvocationError::Failed(e.into());
    let thresholds = Thresholds::from_env().map_err(failed)?;
    let options = Options { thresholds, dry_run: false };
    let Some(tenant) = state.maintenance.open().await.map_err(failed)? else {
        return Ok(InvocationResponse {
            logs: vec!["no SQL database is configured: nothing to maintain".to_owned()],
            ..Default::default()
        });
    };
    let reports = maintenance::run_tenants(&[tenant], &options).await.map_err(failed)?;
    Ok(InvocationResponse {
        logs: reports.iter().flat_map(|r| r.to_string().lines().map(str::to_owned).collect::<Vec<_>>()).collect(),
        return_value: serde_json::to_value(&reports).unwrap_or(Value::Null),
        ..Default::default()
    })
}
