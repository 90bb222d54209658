//! The files of a month's chargeback report.
//!
//! - `chargeback.csv`: one row per statement line, then one row of kind
//!   `awaiting_attribution` per model and deployment with usage awaiting
//!   attribution (not charged: its cost cell says so);
//! - `daily.csv`: one row per day of the month;
//! - `chargeback.json`: the whole statement, money as decimal strings;
//! - `chargeback.html`: one self-contained page (inline CSS and SVG);
//! - `focus.csv`: the statement as a FOCUS 1.2 cost and usage dataset.

mod chart;
mod focus;
mod format;
mod html;

use super::{ChargeLine, DailyTotal, Statement};
use crate::domain::{AwaitingLine, Currency, Money, TokenCounts};

/// What a cost cell says of usage without a price: never an amount.
pub(crate) const UNPRICED: &str = "unpriced";

/// The names of the files [`render`] produces, in order.
pub const REPORT_FILES: [&str; 5] = ["chargeback.csv", "daily.csv", "chargeback.json", "chargeback.html", FOCUS_FILE];

/// The name of the FOCUS file.
pub const FOCUS_FILE: &str = "focus.csv";

/// The report files of a statement: (file name, contents).
pub fn render(statement: &Statement) -> Vec<(String, Vec<u8>)> {
    let files = [
        lines_csv(statement),
        daily_csv(statement),
        json(statement),
        html::page(statement).into_bytes(),
        focus::csv(statement),
    ];
    REPORT_FILES.iter().zip(files).map(|(name, bytes)| ((*name).to_owned(), bytes)).collect()
}

/// The columns of `chargeback.csv`.
pub(crate) const LINE_COLUMNS: [&str; 25] = [
    "period",
    "kind",
    "business_unit",
    "application",
    "model",
    "deployment",
    "deployment_type",
    "service_tier",
    "spilled_from",
    "requests",
    "prompt_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "audio_prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "audio_completion_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "total_tokens",
    "estimated_tokens",
    "pending_requests",
    "cost",
    "currency",
    "note",
];

/// The token columns of `chargeback.csv`, `requests` to `pending_requests`.
fn token_cells(t: &TokenCounts) -> [String; 13] {
    [
        t.requests.to_string(),
        t.prompt_tokens.to_string(),
        t.cached_tokens.to_string(),
        t.cache_write_tokens.to_string(),
        t.audio_prompt_tokens.to_string(),
        t.completion_tokens.to_string(),
        t.reasoning_tokens.to_string(),
        t.audio_completion_tokens.to_string(),
        t.accepted_prediction_tokens.to_string(),
        t.rejected_prediction_tokens.to_string(),
        t.total_tokens.to_string(),
        t.estimated_tokens.to_string(),
        t.pending_requests.to_string(),
    ]
}

fn line_record(period: &str, l: &ChargeLine) -> Vec<String> {
    let mut row = vec![
        period.to_owned(),
        l.kind.as_str().to_owned(),
        l.business_unit.clone(),
        l.application.clone(),
        l.model.clone(),
        l.deployment.clone(),
        l.deployment_type.as_str().to_owned(),
        l.service_tier.clone(),
        l.spilled_from.clone(),
    ];
    row.extend(token_cells(&l.tokens));
    row.extend([
        l.cost.as_ref().map_or_else(|| UNPRICED.to_owned(), Money::cents_text),
        l.currency.to_string(),
        l.note.clone(),
    ]);
    row
}

/// What the cost cell of usage awaiting attribution says: it is not charged
/// to anyone yet (and is not zero).
pub(crate) const NOT_CHARGED: &str = "not charged";

/// A `chargeback.csv` row of usage awaiting attribution: no business unit or
/// application (the caller is not known yet), not charged.
fn awaiting_record(period: &str, l: &AwaitingLine, currency: &Currency) -> Vec<String> {
    let mut row = vec![
        period.to_owned(),
        AWAITING_KIND.to_owned(),
        String::new(),
        String::new(),
        l.model.clone(),
        l.deployment.clone(),
        String::new(),
        String::new(),
        String::new(),
    ];
    row.extend(token_cells(&l.tokens));
    row.extend([NOT_CHARGED.to_owned(), currency.to_string(), AWAITING_NOTE.to_owned()]);
    row
}

/// The kind of `chargeback.csv` rows of usage awaiting attribution.
pub(crate) const AWAITING_KIND: &str = "awaiting_attribution";

/// What usage awaiting attribution is, in the reports.
pub(crate) const AWAITING_NOTE: &str = "awaiting attribution: its caller's gateway log has not arrived; charged to \
     the caller when it arrives, or to unattributed after the grace period, in the next rollup of the month";

fn lines_csv(statement: &Statement) -> Vec<u8> {
    let period = statement.period.to_string();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![LINE_COLUMNS.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()];
    rows.extend(statement.lines.iter().map(|l| line_record(&period, l)));
    rows.extend(statement.awaiting_attribution.lines.iter().map(|l| awaiting_record(&period, l, &statement.currency)));
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&row);
    }
    writer.into_inner().unwrap_or_default()
}

fn daily_record(d: &DailyTotal, currency: &Currency) -> Vec<String> {
    let t = &d.tokens;
    vec![
        d.day.to_string(),
        t.requests.to_string(),
        t.prompt_tokens.to_string(),
        t.cached_tokens.to_string(),
        t.completion_tokens.to_string(),
        t.reasoning_tokens.to_string(),
        t.total_tokens.to_string(),
        t.estimated_tokens.to_string(),
        t.pending_requests.to_string(),
        d.cost.as_ref().map_or_else(|| UNPRICED.to_owned(), Money::cents_text),
        currency.to_string(),
        d.unpriced_tokens.to_string(),
    ]
}

/// The columns of `daily.csv`.
pub(crate) const DAILY_COLUMNS: [&str; 12] = [
    "day",
    "requests",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "total_tokens",
    "estimated_tokens",
    "pending_requests",
    "cost",
    "currency",
    "unpriced_tokens",
];

fn daily_csv(statement: &Statement) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(DAILY_COLUMNS);
    for d in &statement.daily {
        let _ = writer.write_record(daily_record(d, &statement.currency));
    }
    writer.into_inner().unwrap_or_default()
}

fn json(statement: &Statement) -> Vec<u8> {
    // Serializing plain data with string keys cannot fail.
    let mut bytes = serde_json::to_vec_pretty(statement).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
