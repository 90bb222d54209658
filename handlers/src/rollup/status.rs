//! The status view of a month's rollup, as the status endpoint, the start
//! and re-run answers and the CLI show it: the run's state with the links
//! to ask it again and to re-run what failed.

use serde_json::{Value, json};

use super::RollupInstance;
use crate::domain::Period;

/// The status URL of a month's rollup (relative to the app's base URL).
pub fn status_url(period: Period) -> String {
    format!("/api/rollups/{period}")
}

/// The status document with its links (Durable Functions' field names).
pub fn status_document(instance: &RollupInstance) -> Value {
    let mut view = instance.status_view();
    view["statusQueryGetUri"] = json!(status_url(instance.period));
    view["rerunPostUri"] = json!(format!("{}/rerun", status_url(instance.period)));
    view
}
