//! Function `nightly-maintenance`: a timer (`0 15 3 * * *`, UTC) that runs
//! the SQL maintenance of [`crate::maintenance`], the same as `chargeback
//! maintain`, then audits the usage cells of yesterday's month against their
//! records, the same as `chargeback audit` ([`crate::maintenance::audit`]);
//! "yesterday" is the day before the host's `sys.UtcNow` of the tick. Before
//! the audit it counts the API Management calls whose grace period has passed
//! by the tick ([`crate::ingest::Ingestor::settle_overdue`]), so a call whose
//! caller never logs is `unattributed` within a day even without more traffic.
//!
//! Bindings (see `nightly-maintenance/function.json`): trigger `timer`, whose
//! value is `{"Schedule":…,"ScheduleStatus":…,"IsPastDue":…}`; queue output
//! `alerts` (`budget-alerts`, the budget alerts' queue): a failed audit sends
//! one `ledger-audit` alert there. A run that finds the tenant's lock held
//! succeeds and says it skipped; a failure to reach the database fails the
//! invocation (5xx) so the bounded retry applies.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::warn;

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, TIMER_BINDING};
use crate::domain::Period;
use crate::maintenance::audit::AuditOptions;
use crate::maintenance::{self, Options, Thresholds};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "nightly-maintenance";
/// The queue output binding (the budget alerts' queue).
pub const ALERTS_BINDING: &str = "alerts";

/// When the tick fired: the host's `sys.UtcNow`, else the clock.
fn tick_time(request: &InvocationRequest) -> DateTime<Utc> {
    request
        .metadata("sys")
        .and_then(|sys| sys.get("UtcNow").and_then(Value::as_str).map(str::to_owned))
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// Handles one timer tick.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let timer = invocation::timer(&request, TIMER_BINDING)?;
    if timer.get("IsPastDue").and_then(Value::as_bool) == Some(true) {
        warn!(function = FUNCTION_NAME, "the timer is past due; running now");
    }
    let failed = |e: anyhow::Error| InvocationError::Failed(e.into());
    let thresholds = Thresholds::from_env().map_err(failed)?;
    let options = Options { thresholds: thresholds.clone(), dry_run: false };
    let mut response = InvocationResponse::default();
    let reports = match state.maintenance.open().await.map_err(failed)? {
        None => {
            response.logs.push("no SQL database is configured: nothing to maintain".to_owned());
            Vec::new()
        }
        Some(tenant) => maintenance::run_tenants(&[tenant], &options).await.map_err(failed)?,
    };
    for r in &reports {
        response.logs.extend(r.to_string().lines().map(str::to_owned));
    }
    let settled = state.ingestor.settle_overdue(&state.tenant, tick_time(&request)).await?;
    if settled.any() {
        response.logs.push(settled.to_string());
    }
    let yesterday = tick_time(&request).date_naive().pred_opt().unwrap_or_default();
    let audit = AuditOptions {
        period: Period::of(yesterday),
        sample_days: (thresholds.audit_sample_days > 0).then_some(thresholds.audit_sample_days),
        repair: thresholds.audit_repair,
    };
    let audited = state.audit.run(&state.tenant, &audit).await?;
    response.logs.extend(audited.to_string().lines().map(str::to_owned));
    if !audited.passed() {
        warn!(
            function = FUNCTION_NAME,
            differences = audited.differences.len(),
            "the usage cells differ from their records"
        );
    }
    invocation::push_messages(&mut response, ALERTS_BINDING, audited.alert().as_slice())?;
    response.return_value = serde_json::json!({ "maintenance": reports, "settled": settled, "audit": audited });
    Ok(response)
}
