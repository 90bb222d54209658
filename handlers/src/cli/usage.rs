//! `chargeback usage`: token totals from the usage service, as a table,
//! JSON or CSV, with the usage awaiting attribution apart from the lines and
//! the total (a line under the table and a row after the total when there is
//! some; always an `awaiting_attribution` object in JSON).

use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::Services;
use crate::domain::{Awaiting, Period, TokenCounts};
use crate::usage::{GroupBy, UsageFilters, UsageLine, UsageQuery, UsageReport};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
    /// CSV.
    Csv,
}

/// What usage is grouped by, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Application (from the directory; the party itself when unmapped).
    App,
    /// Business unit (from the directory; `unassigned` when unmapped).
    BusinessUnit,
    /// The chargeable party as recorded.
    Party,
    /// Model.
    Model,
    /// Deployment.
    Deployment,
    /// UTC day.
    Day,
    /// The service tier the responses say they were billed at.
    ServiceTier,
}

impl From<By> for GroupBy {
    fn from(by: By) -> Self {
        match by {
            By::App => GroupBy::Application,
            By::BusinessUnit => GroupBy::BusinessUnit,
            By::Party => GroupBy::Party,
            By::Model => GroupBy::Model,
            By::Deployment => GroupBy::Deployment,
            By::Day => GroupBy::Day,
            By::ServiceTier => GroupBy::ServiceTier,
        }
    }
}

/// Arguments of `chargeback usage`.
#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// A calendar month, YYYY-MM (UTC).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// Start day, YYYY-MM-DD (inclusive, UTC).
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// End day, YYYY-MM-DD (inclusive, UTC).
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
    /// Grouping.
    #[arg(long, value_enum, default_value = "business-unit")]
    by: By,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// The half-open UTC range of a month.
pub fn month_range(period: Period) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |day: NaiveDate| day.and_time(chrono::NaiveTime::MIN).and_utc();
    (start(period.first_day()), start(period.next_first_day()))
}

fn month(text: &str) -> anyhow::Result<Period> {
    text.parse::<Period>().with_context(|| format!("--month {text:?} is not YYYY-MM"))
}

pub(super) async fn run(services: &Services, args: UsageArgs) -> anyhow::Result<()> {
    let (from, to) = match (&args.month, args.from, args.to) {
        (Some(m), _, _) => month_range(month(m)?),
        (None, Some(from), Some(to)) => {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
            let end = to.succ_opt().context("--to out of range")?;
            (from.and_time(chrono::NaiveTime::MIN).and_utc(), end.and_time(chrono::NaiveTime::MIN).and_utc())
        }
        _ => month_range(Period::of(Utc::now().date_naive())),
    };
    let query = UsageQuery {
        tenant: services.tenant.clone(),
        from,
        to,
        group_by: args.by.into(),
        filters: UsageFilters::default(),
    };
    let report = services.usage.report(query).await?;
    match args.format {
        Format::Table => {
            println!(
                "usage {} .. {} (UTC, end exclusive), tenant {}",
                from.date_naive(),
                to.date_naive(),
                services.tenant
            );
            print!("{}", table(&report));
            print!("{}", awaiting_text(&report));
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&Json::of(&report))?),
        Format::Csv => print!("{}", csv(&report)?),
    }
    Ok(())
}

/// The JSON form: the range, one line per group, their sum, and the usage
/// awaiting attribution (not in the lines or the total).
#[derive(Serialize)]
struct Json<'a> {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lines: Vec<JsonLine<'a>>,
    total: JsonLine<'a>,
    awaiting_attribution: &'a Awaiting,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    key: &'a str,
    #[serde(flatten)]
    tokens: &'a TokenCounts,
}

impl<'a> Json<'a> {
    fn of(report: &'a UsageReport) -> Self {
        let line = |l: &'a UsageLine| JsonLine { key: &l.key, tokens: &l.tokens };
        Json {
            from: report.query.from,
            to: report.query.to,
            lines: report.lines.iter().map(line).collect(),
            total: line(&report.total),
            awaiting_attribution: &report.awaiting,
        }
    }
}

const HEADERS: [&str; 14] = [
    "group",
    "requests",
    "prompt",
    "cached",
    "cache_write",
    "audio_prompt",
    "completion",
    "reasoning",
    "audio_completion",
    "accepted_prediction",
    "rejected_prediction",
    "total",
    "estimated",
    "pending_requests",
];

fn cells(line: &UsageLine) -> [String; 14] {
    let t = &line.tokens;
    [
        line.key.clone(),
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

/// A fixed-width text table with a total line.
pub fn table(report: &UsageReport) -> String {
    let mut rows: Vec<[String; 14]> = vec![HEADERS.map(str::to_owned)];
    rows.extend(report.lines.iter().map(cells));
    rows.push(cells(&report.total));
    let mut widths = [0usize; HEADERS.len()];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        if i == rows.len() - 1 {
            let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 2 * (HEADERS.len() - 1)));
        }
        for (j, (w, c)) in widths.iter().zip(row).enumerate() {
            let sep = if j == 0 { "" } else { "  " };
            if j == 0 {
                let _ = write!(out, "{sep}{c:<w$}");
            } else {
                let _ = write!(out, "{sep}{c:>w$}");
            }
        }
        out.push('\n');
    }
    out
}

/// The group name of the usage awaiting attribution in the CSV.
pub const AWAITING_KEY: &str = "AWAITING_ATTRIBUTION";

/// What the table says under the total of the usage awaiting attribution:
/// nothing when there is none.
pub fn awaiting_text(report: &UsageReport) -> String {
    let a = &report.awaiting;
    if a.is_empty() {
        return String::new();
    }
    let oldest = a
        .oldest_received
        .map_or_else(String::new, |t| format!(", oldest received {}", t.format("%Y-%m-%d %H:%M:%S UTC")));
    let mut out = format!(
        "awaiting attribution (not in the total; the caller's gateway log has not arrived): {} calls, {} tokens \
         ({} prompt, {} cached, {} completion){oldest}\n",
        a.calls(),
        a.tokens.total_tokens,
        a.tokens.prompt_tokens,
        a.tokens.cached_tokens,
        a.tokens.completion_tokens,
    );
    if !report.awaiting_not_filtered_by.is_empty() {
        let _ = writeln!(out, "  of every caller: not filtered by {}", report.awaiting_not_filtered_by.join(", "));
    }
    for line in &a.lines {
        let name = |v: &str| if v.is_empty() { "(none)".to_owned() } else { v.to_owned() };
        let _ = writeln!(
            out,
            "  {} / {}: {} calls, {} tokens",
            name(&line.model),
            name(&line.deployment),
            line.tokens.requests,
            line.tokens.total_tokens
        );
    }
    out
}

/// CSV with a header and a total line, then a line of the usage awaiting
/// attribution (group `AWAITING_ATTRIBUTION`, not in the total) when there is some.
fn csv(report: &UsageReport) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADERS)?;
    for line in report.lines.iter().chain(std::iter::once(&report.total)) {
        writer.write_record(cells(line))?;
    }
    if !report.awaiting.is_empty() {
        writer.write_record(cells(&UsageLine { key: AWAITING_KEY.to_owned(), tokens: report.awaiting.tokens }))?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
