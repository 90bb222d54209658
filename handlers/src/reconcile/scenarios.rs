//! Reconciliation of a statement with invoices made from it with known
//! differences, read back through the export reader and the meter parser.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::sample::{self, SampleRow};
use super::*;
use crate::billing::{self, DeploymentCatalogue, PriceCatalogue};
use crate::directory::seed::parse_deployments;
use crate::domain::{ApplicationMap, DeploymentType, LineKind, TokenSource, TokenTotals, UsageAggregate};

const SWC: &str = "/subscriptions/0000/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-swc";
const FRC: &str = "/subscriptions/0000/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-frc";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn october() -> Period {
    Period::new(2026, 10).unwrap()
}

fn deployments() -> DeploymentCatalogue {
    DeploymentCatalogue::new(
        &parse_deployments(&format!(
            "deployment,model,deployment_type,ptu_hourly_cost,capacity_tokens_per_minute,resource_id\n\
         chat,gpt-4o-2024-08-06,global,,,{SWC}\n\
         mini,gpt-4o-mini-2024-07-18,global,,,{SWC}\n\
         ptu,gpt-4.1,provisioned,1.50,2000,{SWC}\n\
         eu,gpt-5-nano,data-zone,,,{FRC}\n"
        ))
        .unwrap(),
    )
}

fn agg(day: u32, party: &str, deployment: &str, prompt: u64, cached: u64, completion: u64) -> UsageAggregate {
    UsageAggregate {
        day: NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
        party: party.into(),
        model: String::new(),
        deployment: deployment.into(),
        token_source: TokenSource::Reported,
        service_tier: String::new(),
        spilled_from: String::new(),
        tokens: TokenTotals { requests: 10, prompt, completion, cached, ..Default::default() },
    }
}

fn statement() -> Statement {
    let aggregates = [
        agg(1, "app-a", "chat", 12_345_678, 2_000_000, 3_456_789),
        agg(2, "app-b", "chat", 7_654_321, 0, 1_234_567),
        agg(3, "app-a", "mini", 50_000_000, 10_000_000, 9_000_000),
        agg(4, "app-b", "ptu", 20_000_000, 0, 5_000_000),
        agg(5, "app-a", "ptu", 10_000_000, 0, 1_000_000),
        agg(6, "app-b", "eu", 3_000_000, 0, 700_000),
    ];
    let apps =
        ApplicationMap::from_rows([("app-a", "Claims bot", "Insurance"), ("app-b", "Search", "Retail")]).unwrap();
    billing::compute(october(), &aggregates, &apps, &deployments(), &PriceCatalogue::shipped().unwrap()).unwrap()
}

fn invoice_of(s: &Statement, rows: &[SampleRow]) -> Invoice {
    let bytes = sample::write(s, rows, ColumnSet::Focus12);
    Invoice::parse(&bytes, "invoice.csv", s.period, &s.currency).unwrap()
}

fn run(s: &Statement, rows: &[SampleRow]) -> Reconciliation {
    reconcile(s, &invoice_of(s, rows), &deployments())
}

fn cost_of(lines: &[&crate::billing::ChargeLine]) -> Decimal {
    lines.iter().filter_map(|l| l.cost.as_ref()).map(|c| c.amount()).sum()
}

fn group<'a>(r: &'a Reconciliation, meter: &str) -> &'a Group {
    r.groups.iter().find(|g| g.meter == meter).unwrap_or_else(|| panic!("no group {meter}: {:#?}", r.groups))
}

#[test]
fn an_invoice_of_exactly_our_usage_reconciles() {
    let s = statement();
    let r = run(&s, &sample::rows_for(&s));
    assert!(r.total.reconciles, "{}", table(&r));
    assert!(r.groups.iter().all(|g| g.status == Status::Match), "{}", table(&r));
    assert_eq!(r.total.our_cost, s.total);
    assert!((r.total.invoice_cost.amount() - s.total.amount()).abs() <= d("0.05"), "{}", table(&r));
    assert_eq!((r.other_rows, r.unknown_resources.len()), (2, 0));
    let input = group(&r, "gpt-4o global input");
    assert_eq!(input.resource_id, SWC);
    assert_eq!(input.our_quantity, Some(Decimal::from(12_345_678u64 - 2_000_000 + 7_654_321)));
    assert_eq!(input.invoice_quantity, input.our_quantity);
    // The FOCUS 1.0 column set (x_SkuMeterName only) reads the same.
    let old = sample::write(&s, &sample::rows_for(&s), ColumnSet::Focus10);
    let old = Invoice::parse(&old, "old.csv", s.period, &s.currency).unwrap();
    assert_eq!(old.columns, ColumnSet::Focus10);
    assert_eq!(reconcile(&s, &old, &deployments()).groups, r.groups);
}

#[test]
fn a_3_percent_overbill_on_one_meter_is_over_and_the_rest_match() {
    let s = statement();
    let mut rows = sample::rows_for(&s);
    let output = sample::meter_name("gpt-4o", DeploymentType::Global, billing::Meter::OutputTokens);
    for row in rows.iter_mut().filter(|r| r.meter == output) {
        row.cost *= d("1.03");
    }
    let r = run(&s, &rows);
    assert!(!r.total.reconciles);
    let over = group(&r, "gpt-4o global output");
    assert_eq!(over.status, Status::Over);
    // 3 % of the exact cost; ours is rounded to cents per line.
    assert!((over.percent.unwrap() - d("3")).abs() < d("0.05"), "{}", table(&r));
    assert_eq!(r.mismatches(), 1, "{}", table(&r));
    let trued = true_up(&s, &r).unwrap();
    assert_eq!(trued.total, r.total.invoice_cost, "the trued-up statement sums to the invoice");
    let corrections: Vec<_> = trued.lines.iter().filter(|l| l.kind == LineKind::Correction).collect();
    assert_eq!(cost_of(&corrections), r.total.difference.amount());
    // Groups within the tolerance are trued up too (a cent of rounding), so the
    // statement sums to the invoice; the overbilled group by its two lines.
    let output: Vec<_> = corrections.iter().copied().filter(|l| l.note.contains("gpt-4o global output")).collect();
    assert_eq!(cost_of(&output), over.difference.amount());
    assert_eq!(output.len(), 2, "one per line of the group, by cost share");
    let originals: Vec<_> = trued.lines.iter().filter(|l| l.kind != LineKind::Correction).cloned().collect();
    assert_eq!(originals, s.lines, "the original lines are never changed");
    // Re-running gives byte-identical files.
    let again = true_up(&s, &run(&s, &rows)).unwrap();
    assert_eq!(billing::render(&trued), billing::render(&again));
    assert_eq!(json(&r), json(&run(&s, &rows)));
}

#[test]
fn a_meter_only_on_the_invoice_and_usage_only_in_our_ledger() {
    let s = statement();
    let mut rows = sample::rows_for(&s);
    let eu = sample::meter_name("gpt-5-nano", DeploymentType::DataZone, billing::Meter::OutputTokens);
    rows.retain(|r| r.meter != eu);
    let mut extra = rows[0].clone();
    extra.meter = "o3 mini 0131 input Data Zone Tokens".into();
    extra.product = "Azure OpenAI Reasoning".into();
    extra.resource_id = FRC.into();
    extra.cost = d("12.345678");
    rows.push(extra);
    let r = run(&s, &rows);
    assert_eq!(group(&r, "o3-mini data-zone input").status, Status::InvoiceOnly);
    let ledger_only = group(&r, "gpt-5-nano data-zone output");
    assert_eq!((ledger_only.status, ledger_only.invoice_cost.amount()), (Status::LedgerOnly, Decimal::ZERO));
    let trued = true_up(&s, &r).unwrap();
    assert_eq!(trued.total, r.total.invoice_cost);
    let invoice_only: Vec<_> = trued.lines.iter().filter(|l| l.business_unit == INVOICE_ONLY).collect();
    assert_eq!((invoice_only.len(), cost_of(&invoice_only)), (1, d("12.35")));
}

#[test]
fn the_ptu_hours_row_is_matched_to_the_provisioned_deployments_cost() {
    let s = statement();
    let ptu_cost = cost_of(&s.lines.iter().filter(|l| l.kind != LineKind::Usage).collect::<Vec<_>>());
    assert_eq!(ptu_cost, d("1116.00"), "744 hours at 1.50, shared and unused");
    let mut rows = sample::rows_for(&s);
    let r = run(&s, &rows);
    let ptu = group(&r, "provisioned");
    assert_eq!((ptu.status, ptu.our_cost.amount(), ptu.invoice_cost.amount()), (Status::Match, ptu_cost, ptu_cost));
    assert_eq!(ptu.invoice_quantity, Some(d("744")));
    // The PTU row billed 15.00 more than the deployment file says it costs.
    for row in rows.iter_mut().filter(|r| r.unit == "1 Hour" && r.resource_id == SWC) {
        row.cost += d("15.00");
    }
    let r = run(&s, &rows);
    let ptu = group(&r, "provisioned");
    assert_eq!((ptu.status, ptu.difference.amount()), (Status::Over, d("15.00")));
    let trued = true_up(&s, &r).unwrap();
    let shares: Vec<_> = trued
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Correction && l.deployment == "ptu")
        .map(|l| l.cost.as_ref().unwrap().amount())
        .collect();
    assert_eq!(shares.iter().copied().sum::<Decimal>(), d("15.00"), "{shares:?}");
    assert_eq!(trued.total, r.total.invoice_cost);
}

#[test]
fn an_account_not_in_the_deployment_file_is_reported_not_guessed() {
    let s = statement();
    let mut rows = sample::rows_for(&s);
    let mut stranger = rows[0].clone();
    stranger.resource_id = SWC.replace("oai-swc", "oai-someone-else");
    rows.push(stranger.clone());
    let r = run(&s, &rows);
    assert_eq!(r.unknown_resources.len(), 1);
    assert_eq!(r.unknown_resources[0].resource_id, stranger.resource_id);
    assert!(r.total.reconciles, "not ours: not in the totals");
    assert!(table(&r).contains("Not in the deployment file"), "{}", table(&r));
}

#[test]
fn true_up_needs_every_priced_deployment_mapped_to_its_account() {
    let s = statement();
    let r = run(&s, &sample::rows_for(&s));
    let mut unmapped = s.clone();
    unmapped.lines[0].resource_id = None;
    assert!(matches!(true_up(&unmapped, &r), Err(TrueUpError::UnmappedDeployments { .. })));
}

#[test]
fn the_trued_up_focus_export_carries_the_corrections_apart() {
    let s = statement();
    let mut rows = sample::rows_for(&s);
    rows[0].cost += d("1.00");
    let trued = true_up(&s, &run(&s, &rows)).unwrap();
    let files = billing::render(&trued);
    let focus = &files.iter().find(|(n, _)| n == billing::FOCUS_FILE).unwrap().1;
    let mut reader = csv::Reader::from_reader(focus.as_slice());
    let header = reader.headers().unwrap().clone();
    let (class, billed) = (
        header.iter().position(|h| h == "ChargeClass").unwrap(),
        header.iter().position(|h| h == "BilledCost").unwrap(),
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let total: Decimal = records.iter().map(|r| r[billed].parse::<Decimal>().unwrap()).sum();
    assert_eq!(total, trued.total.amount(), "the FOCUS rows sum to the trued-up statement");
    assert!(records.iter().any(|r| &r[class] == "Correction"));
    let lines = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(lines.contains(",correction,"), "{lines}");
}
