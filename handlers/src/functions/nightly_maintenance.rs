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

use super::invocation::{InvocationRequest, InvocationResponse};
use super::{AppState, InvocationError};
use crate::maintenance::{self, Options, Thresholds};
use crate::storage::StorageError;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "nightly-maintenance";
/// The trigger binding's name in `function.json`.
pub const TIMER_BINDING: &str = "timer";

/// Handles one timer tick.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let timer = read_timer(&request)?;
    if timer.get("IsPastDue").and_then(Value::as_bool) == Some(true) {
        warn!(function = FUNCTION_NAME, "the timer is past due; running now");
    }
    let failed = |e: anyhow::Error| InvocationError::Storage(StorageError::Backend(format!("maintenance: {e:#}")));
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

/// The timer binding's value; it must be there (the host always sends it).
fn read_timer(request: &InvocationRequest) -> Result<Value, InvocationError> {
    match request.data(TIMER_BINDING) {
        Some(timer @ Value::Object(_)) => Ok(timer),
        _ => Err(InvocationError::BadRequest(format!("Data.{TIMER_BINDING} is missing or not a timer object"))),
    }
}
