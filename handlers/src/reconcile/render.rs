//! A reconciliation as a table for people, and as JSON and CSV for tools.
//!
//! JSON: `groups` (one object per account and meter: `resource_id`,
//! `meter`, `status`, `invoice_cost`, `our_cost`, `difference`, `percent`,
//! `invoice_quantity`, `our_quantity`, …) and `total` (`invoice_cost`,
//! `our_cost`, `difference`, `reconciles`); money and quantities are decimal
//! strings. CSV: one row per group, then a `total` row.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::Reconciliation;

/// The files the rollup and `--true-up` write beside the month's reports.
pub const RECONCILIATION_FILES: [&str; 2] = ["reconciliation.json", "reconciliation.csv"];

/// The JSON document.
pub fn json(r: &Reconciliation) -> Vec<u8> {
    // Serializing plain data with string keys cannot fail.
    let mut bytes = serde_json::to_vec_pretty(r).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

const CSV_COLUMNS: [&str; 12] = [
    "period",
    "resource_id",
    "deployment",
    "meter",
    "status",
    "invoice_cost",
    "our_cost",
    "difference",
    "percent",
    "invoice_quantity",
    "our_quantity",
    "currency",
];

fn opt(value: Option<Decimal>) -> String {
    value.map(|v| v.normalize().to_string()).unwrap_or_default()
}

/// The CSV document.
pub fn csv(r: &Reconciliation) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(CSV_COLUMNS);
    let period = r.period.to_string();
    for g in &r.groups {
        let _ = writer.write_record([
            period.as_str(),
            &g.resource_id,
            &g.deployment,
            &g.meter,
            g.status.as_str(),
            &g.invoice_cost.cents_text(),
            &g.our_cost.cents_text(),
            &g.difference.cents_text(),
            &opt(g.percent),
            &opt(g.invoice_quantity),
            &opt(g.our_quantity),
            r.currency.as_str(),
        ]);
    }
    let _ = writer.write_record([
        period.as_str(),
        "",
        "",
        "total",
        if r.total.reconciles { "reconciles" } else { "does not reconcile" },
        &r.total.invoice_cost.cents_text(),
        &r.total.our_cost.cents_text(),
        &r.total.difference.cents_text(),
        "",
        "",
        "",
        r.currency.as_str(),
    ]);
    writer.into_inner().unwrap_or_default()
}

/// The table for people.
pub fn table(r: &Reconciliation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reconciliation of {} with {} (FOCUS {} export: {} rows, {} Azure OpenAI, {} other services ignored)",
        r.period,
        r.invoice,
        match r.columns {
            super::ColumnSet::Focus10 => "1.0",
            super::ColumnSet::Focus12 => "1.2",
        },
        r.invoice_rows,
        r.openai_rows,
        r.other_rows
    );
    let _ = writeln!(out);
    let width = r.groups.iter().map(|g| account(&g.resource_id, &g.deployment).len()).max().unwrap_or(7).max(7);
    let meter_width = r.groups.iter().map(|g| g.meter.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:<meter_width$}  {:<12}  {:>12}  {:>12}  {:>10}  {:>8}  {:>14}  {:>14}",
        "ACCOUNT", "METER", "STATUS", "INVOICE", "OURS", "DIFF", "%", "INVOICE QTY", "OUR QTY"
    );
    for g in &r.groups {
        let _ = writeln!(
            out,
            "{:<width$}  {:<meter_width$}  {:<12}  {:>12.2}  {:>12.2}  {:>+10.2}  {:>8}  {:>14}  {:>14}",
            account(&g.resource_id, &g.deployment),
            g.meter,
            g.status.as_str(),
            g.invoice_cost.amount(),
            g.our_cost.amount(),
            g.difference.amount(),
            g.percent.map(|p| format!("{p:+.2}")).unwrap_or_else(|| "—".into()),
            g.invoice_quantity.map(|q| q.round().to_string()).unwrap_or_else(|| "—".into()),
            g.our_quantity.map(|q| q.round().to_string()).unwrap_or_else(|| "—".into()),
        );
    }
    let _ = writeln!(
        out,
        "{:<width$}  {:<meter_width$}  {:<12}  {:>12.2}  {:>12.2}  {:>+10.2}",
        "TOTAL",
        r.currency.as_str(),
        if r.total.reconciles { "reconciles" } else { "DOES NOT" },
        r.total.invoice_cost.amount(),
        r.total.our_cost.amount(),
        r.total.difference.amount(),
    );
    for u in &r.unknown_resources {
        let _ = writeln!(
            out,
            "\nNot in the deployment file (not matched, not in the totals): {} — {} rows, {:.2} {} ({}). \
             Add its deployments with this resource_id if it is ours.",
            u.resource_id,
            u.invoice_rows,
            u.invoice_cost.amount(),
            r.currency,
            u.meters.join("; ")
        );
    }
    if r.unpriced.total_tokens > 0 {
        let _ = writeln!(
            out,
            "\nOur unpriced usage ({} tokens) has no cost to compare; a price for it turns invoice-only meters into matches.",
            r.unpriced.total_tokens
        );
    }
    let _ = writeln!(
        out,
        "\nmatch: within one cent per meter charge of ours and 0.1 % of the tokens (at least {} tokens).",
        super::TOKEN_TOLERANCE_MIN
    );
    if r.total.reconciles {
        let _ = writeln!(out, "{} reconciles with the invoice.", r.period);
    } else {
        let _ = writeln!(
            out,
            "{} does NOT reconcile: {} group(s) differ. `--true-up` adds correction lines so the statement sums to the invoice.",
            r.period,
            r.mismatches()
        );
    }
    out
}

fn account(resource_id: &str, deployment: &str) -> String {
    let name = match resource_id.rsplit('/').next() {
        Some("") | None => "(no account)",
        Some(n) => n,
    };
    if deployment.is_empty() { name.to_owned() } else { format!("{name}/{deployment}") }
}
