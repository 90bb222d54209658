//! `chargeback.html`: one self-contained page (inline CSS and SVG; no scripts,
//! fonts or images from elsewhere). Every text from records is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::super::{ChargeLine, Statement, UNUSED_CAPACITY};
use super::chart::{Bar, bar_chart, daily_chart};
use super::format::{cost_text, count, escape, money, tokens_short};
use crate::domain::{LineKind, Money, UNASSIGNED};

const STYLE: &str = r#"
:root { --ink:#1d2433; --muted:#5b6478; --line:#e3e7ef; --accent:#2f6fde; --accent-soft:#dbe6fb;
        --warn:#b4232c; --warn-soft:#fde8e8; --amber:#b26a00; --amber-soft:#fff3dc; --ok:#1f7a4d; }
* { box-sizing: border-box; }
body { margin:0; background:#f4f6fa; color:var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 28px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p { margin: 0; color: var(--muted); }
.kpis { display:grid; grid-template-columns: repeat(5, 1fr); gap: 14px; margin: 22px 0; }
.kpi { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.kpi .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.05em; }
.kpi .value { font-size:24px; font-weight:650; margin-top:4px; font-variant-numeric: tabular-nums; }
.kpi .sub { color:var(--muted); font-size:12px; }
.kpi.total { background: var(--ink); color:#fff; border-color: var(--ink); }
.kpi.total .label, .kpi.total .sub { color:#c9d1e3; }
.kpi.warn { border-color:#f3b8b8; background:var(--warn-soft); } .kpi.warn .value { color:var(--warn); }
.kpi.amber { border-color:#f1d39b; background:var(--amber-soft); } .kpi.amber .value { color:var(--amber); }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin: 0 0 18px; }
section h2 { font-size:16px; margin:0 0 12px; }
.row { display:grid; grid-template-columns: 1fr 1fr; gap:18px; }
.row > section { margin:0 0 18px; }
.chart { max-width:100%; height:auto; display:block; }
.chart .bar { fill: var(--accent); } .chart .bar-unused { fill: #e0a33a; } .chart .bar-unassigned { fill:#8a94a8; }
.chart .column { fill: var(--accent); } .chart .token-line { fill:none; stroke:#1f7a4d; stroke-width:2; }
.chart .grid { stroke: var(--line); } .chart .axis { stroke:#9aa3b5; }
.chart .axis-label { fill: var(--muted); font-size: 12px; } .chart .value-label { fill: var(--ink); font-size: 13px; font-weight:600; }
.scroll { overflow-x:auto; }
table.lines { font-size: 12.5px; } table.lines td, table.lines th { padding: 6px 6px; }
.legend { color:var(--muted); font-size:12px; margin-top:6px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 12px; vertical-align:-1px; }
table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
th { text-align:left; font-size:11px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
     border-bottom:2px solid var(--line); padding:6px 8px; white-space:nowrap; }
td { border-bottom:1px solid var(--line); padding:6px 8px; vertical-align:top; }
td.num, th.num { text-align:right; white-space:nowrap; }
tr.unpriced td { background: var(--warn-soft); }
tr.unused td { background: var(--amber-soft); }
tr.subtotal td { font-weight:650; background:#f7f9fc; }
tr.group td { font-weight:700; font-size:13px; padding-top:14px; border-bottom:2px solid var(--line); }
tr.grand td { font-weight:700; border-top:2px solid var(--ink); }
.badge { display:inline-block; font-size:11px; font-weight:600; padding:1px 7px; border-radius:9px; margin-left:4px; }
.badge.unpriced { background:var(--warn); color:#fff; } .badge.unused { background:#e0a33a; color:#fff; }
.badge.ptu { background:var(--accent-soft); color:var(--accent); }
.badge.correction { background:#5b6b8c; color:#fff; } tr.correction td { font-style: italic; }
.meter { position:relative; height:6px; background:#eef1f6; border-radius:3px; margin-top:3px; }
.meter span { position:absolute; left:0; top:0; bottom:0; background:var(--accent); border-radius:3px; }
.note { color:var(--muted); font-size:12px; }
footer { color:var(--muted); font-size:12px; }
footer li { margin: 2px 0; }
@media print { body { background:#fff; } section, .kpi { break-inside: avoid; } }
"#;

/// The page.
pub(super) fn page(s: &Statement) -> String {
    let c = &s.currency;
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Azure OpenAI chargeback {period}</title><style>{STYLE}</style></head><body><main>\
         <header><h1>Azure OpenAI chargeback · {month}</h1><p>Statement for {first} to {last} (UTC) · amounts in {c}</p></header>",
        period = s.period,
        month = s.period.first_day().format("%B %Y"),
        first = s.period.first_day(),
        last = s.daily.last().map_or(s.period.first_day(), |d| d.day),
    );
    kpis(&mut html, s);
    html.push_str("<div class=\"row\">");
    business_units(&mut html, s);
    top_lists(&mut html, s);
    html.push_str("</div>");
    let _ = write!(
        html,
        "<section><h2>Daily trend</h2>{}<div class=\"legend\"><i style=\"background:#2f6fde\"></i>cost per day (pay-as-you-go and used PTU)\
         <i style=\"background:#1f7a4d\"></i>tokens per day (own scale; peak {peak})</div></section>",
        daily_chart(&s.daily, c),
        peak = tokens_short(s.daily.iter().map(|d| d.tokens.total_tokens).max().unwrap_or(0)),
    );
    full_table(&mut html, s);
    awaiting(&mut html, s);
    footnote(&mut html, s);
    html.push_str("</main></body></html>\n");
    html
}

fn kpis(html: &mut String, s: &Statement) {
    let priced_share = if s.tokens.total_tokens == 0 {
        "no usage".to_owned()
    } else {
        format!("{} tokens · {} requests", tokens_short(s.tokens.total_tokens), count(s.tokens.requests))
    };
    let unpriced_lines = s.lines.iter().filter(|l| l.is_unpriced()).count();
    let _ = write!(
        html,
        "<div class=\"kpis\">\
         <div class=\"kpi total\"><div class=\"label\">Total charged</div><div class=\"value\">{total}</div><div class=\"sub\">{priced_share}</div></div>\
         <div class=\"kpi\"><div class=\"label\">Business units</div><div class=\"value\">{units}</div><div class=\"sub\">{apps} applications</div></div>\
         <div class=\"kpi\"><div class=\"label\">Tokens</div><div class=\"value\">{tokens}</div><div class=\"sub\">{cached} cached · {estimated} estimated</div></div>\
         <div class=\"kpi{unpriced_class}\"><div class=\"label\">Unpriced usage</div><div class=\"value\">{unpriced} tokens</div><div class=\"sub\">{unpriced_lines} lines without a price · {pending} pending requests</div></div>\
         <div class=\"kpi{unused_class}\"><div class=\"label\">Unused PTU capacity</div><div class=\"value\">{unused}</div><div class=\"sub\">included in the total</div></div>\
         </div>",
        total = escape(&cost_text(Some(&s.total), s.unpriced.requests > 0)),
        units = s.business_units.iter().filter(|b| b.business_unit != UNUSED_CAPACITY).count(),
        apps = s
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::UnusedCapacity)
            .map(|l| &l.application)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        tokens = tokens_short(s.tokens.total_tokens),
        cached = tokens_short(s.tokens.cached_tokens),
        estimated = tokens_short(s.tokens.estimated_tokens),
        unpriced_class = if unpriced_lines > 0 { " warn" } else { "" },
        unpriced = tokens_short(s.unpriced.total_tokens),
        pending = count(s.tokens.pending_requests),
        unused_class = if s.unused_capacity.is_zero() { "" } else { " amber" },
        unused = escape(&money(&s.unused_capacity)),
    );
}

fn business_units(html: &mut String, s: &Statement) {
    let mut units: Vec<_> = s.business_units.iter().collect();
    let rank = |name: &str| match name {
        UNUSED_CAPACITY => 2,
        UNASSIGNED => 1,
        _ => 0,
    };
    let priced = |u: &super::super::BusinessUnitTotal| u.cost.as_ref().map_or(Decimal::ZERO, Money::amount);
    units.sort_by(|a, b| {
        (rank(&a.business_unit), priced(b), &a.business_unit).cmp(&(
            rank(&b.business_unit),
            priced(a),
            &b.business_unit,
        ))
    });
    let bars: Vec<Bar> = units
        .iter()
        .map(|u| Bar {
            label: u.business_unit.clone(),
            value: priced(u),
            text: cost_text(u.cost.as_ref(), u.unpriced_lines > 0),
            class: match u.business_unit.as_str() {
                UNUSED_CAPACITY => "bar-unused",
                UNASSIGNED => "bar-unassigned",
                _ => "bar",
            },
        })
        .collect();
    let _ = write!(
        html,
        "<section><h2>Cost by business unit</h2>{}<table style=\"margin-top:12px\"><tr><th>Business unit</th><th class=\"num\">Share</th>\
         <th class=\"num\">Tokens</th><th class=\"num\">Requests</th><th class=\"num\">Cost</th></tr>",
        bar_chart(&bars, "Cost by business unit")
    );
    for u in units {
        let share = match &u.cost {
            None => "—".to_owned(),
            Some(_) if s.total.is_zero() => "0%".to_owned(),
            Some(cost) => format!("{}%", (cost.amount() / s.total.amount() * Decimal::ONE_HUNDRED).round_dp(1)),
        };
        let flag = if u.unpriced_lines > 0 { " <span class=\"badge unpriced\">unpriced usage</span>" } else { "" };
        let _ = write!(
            html,
            "<tr><td>{}{flag}</td><td class=\"num\">{share}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&u.business_unit),
            tokens_short(u.tokens.total_tokens),
            count(u.tokens.requests),
            escape(&cost_text(u.cost.as_ref(), u.unpriced_lines > 0)),
        );
    }
    html.push_str("</table></section>");
}

/// One row of a top list: the priced lines' cost (`None` while it has
/// none), tokens, and whether some of its lines have no price.
struct Ranked {
    name: String,
    cost: Option<Money>,
    tokens: u64,
    unpriced: bool,
}

fn top_table(html: &mut String, title: &str, rows: &[Ranked], total: &Money) {
    let _ = write!(
        html,
        "<h2>{}</h2><table><tr><th>{}</th><th class=\"num\">Tokens</th><th class=\"num\">Cost</th></tr>",
        escape(title),
        if title.contains("model") { "Model" } else { "Application" }
    );
    for row in rows.iter().take(6) {
        let pct = match &row.cost {
            Some(cost) if !total.is_zero() => (cost.amount() / total.amount() * Decimal::ONE_HUNDRED).round_dp(1),
            _ => Decimal::ZERO,
        };
        let class = if row.cost.is_none() { " class=\"unpriced\"" } else { "" };
        let _ = write!(
            html,
            "<tr{class}><td>{}<div class=\"meter\"><span style=\"width:{pct}%\"></span></div></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&row.name),
            tokens_short(row.tokens),
            escape(&cost_text(row.cost.as_ref(), row.unpriced))
        );
    }
    html.push_str("</table>");
}

fn ranked(lines: &[ChargeLine], key: impl Fn(&ChargeLine) -> String) -> Vec<Ranked> {
    let mut by: BTreeMap<String, Ranked> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.kind != LineKind::UnusedCapacity) {
        let name = key(l);
        let row = by.entry(name.clone()).or_insert_with(|| Ranked { name, cost: None, tokens: 0, unpriced: false });
        match &l.cost {
            Some(cost) => {
                let sum = row.cost.as_ref().map_or(Decimal::ZERO, Money::amount) + cost.amount();
                row.cost = Some(Money::new(sum, cost.currency().clone()));
            }
            None => row.unpriced = true,
        }
        row.tokens = row.tokens.saturating_add(l.tokens.total_tokens);
    }
    let mut rows: Vec<Ranked> = by.into_values().collect();
    let priced = |r: &Ranked| r.cost.as_ref().map_or(Decimal::ZERO, Money::amount);
    rows.sort_by(|a, b| priced(b).cmp(&priced(a)).then(b.tokens.cmp(&a.tokens)).then(a.name.cmp(&b.name)));
    rows
}

fn top_lists(html: &mut String, s: &Statement) {
    html.push_str("<section>");
    let apps = ranked(&s.lines, |l| format!("{} · {}", l.application, l.business_unit));
    top_table(html, "Top applications", &apps, &s.total);
    html.push_str("<div style=\"height:14px\"></div>");
    let models = ranked(&s.lines, |l| if l.model.is_empty() { "(unknown)".to_owned() } else { l.model.clone() });
    top_table(html, "Top models", &models, &s.total);
    html.push_str("</section>");
}

fn full_table(html: &mut String, s: &Statement) {
    html.push_str(
        "<section><h2>All lines</h2><div class=\"scroll\"><table class=\"lines\"><tr><th>Application</th><th>Model</th><th>Deployment</th>\
         <th class=\"num\">Requests</th><th class=\"num\">Prompt</th><th class=\"num\">Cached</th><th class=\"num\">Completion</th>\
         <th class=\"num\">Reasoning</th><th class=\"num\">Estimated</th><th class=\"num\">Pending</th><th class=\"num\">Cost</th></tr>",
    );
    let mut current: Option<&str> = None;
    for line in &s.lines {
        if current.is_some_and(|bu| bu != line.business_unit) {
            subtotal(html, s, current.unwrap_or_default());
        }
        if current != Some(line.business_unit.as_str()) {
            let _ = write!(html, "<tr class=\"group\"><td colspan=\"11\">{}</td></tr>", escape(&line.business_unit));
        }
        current = Some(&line.business_unit);
        let (class, badge) = match (line.kind, &line.cost) {
            (LineKind::UnusedCapacity, _) => {
                (" class=\"unused\"", "<span class=\"badge unused\">unused capacity</span>")
            }
            (LineKind::Correction, _) => {
                (" class=\"correction\"", "<span class=\"badge correction\">invoice correction</span>")
            }
            (_, None) => (" class=\"unpriced\"", "<span class=\"badge unpriced\">unpriced</span>"),
            (LineKind::Provisioned, _) => ("", "<span class=\"badge ptu\">PTU</span>"),
            _ => ("", ""),
        };
        let t = &line.tokens;
        let cost = escape(&cost_text(line.cost.as_ref(), false));
        let note = if line.note.is_empty() {
            String::new()
        } else {
            format!("<div class=\"note\">{}</div>", escape(&line.note))
        };
        let _ = write!(
            html,
            "<tr{class}><td>{app}{badge}{note}</td><td>{model}</td><td>{dep}<div class=\"note\">{dtype}</div></td>\
             <td class=\"num\">{req}</td><td class=\"num\">{prompt}</td><td class=\"num\">{cached}</td><td class=\"num\">{completion}</td>\
             <td class=\"num\">{reasoning}</td><td class=\"num\">{estimated}</td><td class=\"num\">{pending}</td><td class=\"num\">{cost}</td></tr>",
            app = escape(&line.application),
            model = escape(if line.model.is_empty() { "(unknown)" } else { &line.model }),
            dep = escape(if line.deployment.is_empty() { "(unknown)" } else { &line.deployment }),
            dtype = escape(&deployment_note(line)),
            req = count(t.requests),
            prompt = count(t.prompt_tokens),
            cached = count(t.cached_tokens),
            completion = count(t.completion_tokens),
            reasoning = count(t.reasoning_tokens),
            estimated = count(t.estimated_tokens),
            pending = count(t.pending_requests),
        );
    }
    if let Some(bu) = current {
        subtotal(html, s, bu);
    }
    let t = &s.tokens;
    let _ = write!(
        html,
        "<tr class=\"grand\"><td colspan=\"3\">Total</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></table></div></section>",
        count(t.requests),
        count(t.prompt_tokens),
        count(t.cached_tokens),
        count(t.completion_tokens),
        count(t.reasoning_tokens),
        count(t.estimated_tokens),
        count(t.pending_requests),
        escape(&cost_text(Some(&s.total), s.unpriced.requests > 0)),
    );
}

fn subtotal(html: &mut String, s: &Statement, business_unit: &str) {
    let Some(unit) = s.business_units.iter().find(|b| b.business_unit == business_unit) else { return };
    let t = &unit.tokens;
    let unpriced = if unit.unpriced_lines > 0 {
        format!(" <span class=\"badge unpriced\">{} unpriced</span>", unit.unpriced_lines)
    } else {
        String::new()
    };
    let _ = write!(
        html,
        "<tr class=\"subtotal\"><td colspan=\"3\">{}{unpriced}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        escape(&format!("{business_unit} total")),
        count(t.requests),
        count(t.prompt_tokens),
        count(t.cached_tokens),
        count(t.completion_tokens),
        count(t.reasoning_tokens),
        count(t.estimated_tokens),
        count(t.pending_requests),
        escape(&cost_text(unit.cost.as_ref(), unit.unpriced_lines > 0)),
    );
}

/// The usage awaiting attribution, apart from the lines and the total:
/// nothing when there is none.
fn awaiting(html: &mut String, s: &Statement) {
    let a = &s.awaiting_attribution;
    if a.is_empty() {
        return;
    }
    let oldest = a
        .oldest_received
        .map_or_else(String::new, |t| format!(" The oldest was received {}.", t.format("%Y-%m-%d %H:%M UTC")));
    let _ = write!(
        html,
        "<section class=\"awaiting\"><h2>Awaiting attribution</h2><p class=\"note\">{calls} API Management calls of the month \
         ({tokens} tokens) whose caller's gateway log had not arrived when this statement was made. They are <b>not charged</b> \
         to any business unit and not in the total: each will be charged to its caller when the caller's log arrives, or to \
         <b>unattributed</b> after the grace period, in the next rollup of the month.{oldest}</p>\
         <table><tr><th>Model</th><th>Deployment</th><th class=\"num\">Calls</th><th class=\"num\">Prompt</th>\
         <th class=\"num\">Cached</th><th class=\"num\">Completion</th><th class=\"num\">Total tokens</th><th class=\"num\">Cost</th></tr>",
        calls = count(a.calls()),
        tokens = count(a.tokens.total_tokens),
        oldest = escape(&oldest),
    );
    for line in &a.lines {
        let t = &line.tokens;
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">not charged</td></tr>",
            escape(if line.model.is_empty() { "(unknown)" } else { &line.model }),
            escape(if line.deployment.is_empty() { "(unknown)" } else { &line.deployment }),
            count(t.requests),
            count(t.prompt_tokens),
            count(t.cached_tokens),
            count(t.completion_tokens),
            count(t.total_tokens),
        );
    }
    html.push_str("</table></section>");
}

fn footnote(html: &mut String, s: &Statement) {
    html.push_str(
        "<footer><section><h2>How this statement is made</h2><ul>\
         <li><b>Pricing.</b> Pay-as-you-go usage is priced per 1M tokens at the price in force on the day of the usage: \
         prompt tokens less cached tokens at the input rate, cached tokens at the cached-input rate, completion tokens \
         (reasoning included) at the output rate. Lines whose model or rate has no price are shown as <b>unpriced</b> \
         with their tokens, never as zero.</li>\
         <li><b>Provisioned (PTU) deployments.</b> The month's cost is shared by the tokens each application used on the \
         deployment; with a declared capacity, capacity nobody used is shown as <b>unused capacity</b>. PTU usage is not \
         also charged at pay-as-you-go prices.</li>\
         <li><b>Rounding.</b> Each line is computed exactly and rounded once to cents (half to even); totals are sums of \
         the rounded lines. PTU shares and daily amounts are split with the largest-remainder method so they add up exactly.</li>\
         <li><b>Tokens.</b> Estimated tokens were counted by us for streamed responses without usage; pending requests are \
         not counted yet and carry no tokens.</li></ul>",
    );
    if s.prices_used.is_empty() {
        html.push_str("<p>No pay-as-you-go price was used.</p>");
    } else {
        html.push_str(
            "<h2>Prices used (per 1M tokens)</h2><table><tr><th>Model</th><th>Type</th><th>Region</th><th>Tier</th>\
             <th>Kind</th><th>From</th><th class=\"num\">Price</th><th>Source</th></tr>",
        );
        for p in &s.prices_used {
            let read = p.read_on.map_or_else(String::new, |d| format!(", read {d}"));
            let model = if p.version.is_empty() { p.model.clone() } else { format!("{} ({})", p.model, p.version) };
            let region = if p.region.is_empty() { "any" } else { p.region.as_str() };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}<div class=\"note\">{}{}</div></td></tr>",
                escape(&model),
                p.deployment_type,
                escape(region),
                p.tier,
                p.kind.words(),
                p.effective_from,
                escape(&format!("{} {}", p.price.normalize(), p.currency)),
                escape(&p.source),
                escape(&p.origin),
                escape(&read),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section></footer>");
}

/// Under the deployment: its type, the service tier the calls were billed
/// at, and the provisioned deployment they spilled over from.
fn deployment_note(line: &ChargeLine) -> String {
    let mut note = line.deployment_type.to_string();
    if !line.service_tier.is_empty() {
        let _ = write!(note, " · {} tier", line.service_tier);
    }
    if !line.spilled_from.is_empty() {
        let _ = write!(note, " · spilled from {}", line.spilled_from);
    }
    note
}
