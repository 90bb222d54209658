//! `focus.csv`: the statement as a FOCUS 1.2 cost and usage dataset, for
//! FinOps tools (the FinOps Foundation's validator passes it in the suite).
//!
//! One row per charge:
//!
//! - a pay-as-you-go line gives one row per token kind (`SkuMeter` `Input
//!   Tokens`, `Cached Input Tokens`, `Output Tokens`), price in force and
//!   token source, because FOCUS wants `ListUnitPrice × PricingQuantity =
//!   ListCost` on every row and each kind has its own unit price;
//! - a provisioned share gives one row per token source (`Provisioned
//!   Throughput`, priced in hours of the deployment), and unused capacity one
//!   row (`CapacityReservationStatus` `Unused`);
//! - a correction from a true-up gives one row with `ChargeClass` `Correction`.
//!
//! `ListCost`/`ContractedCost` are the exact products of the unit price and
//! the quantity; `BilledCost`/`EffectiveCost` are the statement's cents (each
//! line's cost split over its rows by the largest-remainder method), so the
//! `BilledCost` column sums to the statement's total to the cent. Unpriced
//! usage and pending requests are not charges and have no row (they are in
//! `chargeback.csv`): FOCUS has no null cost, and unpriced is never zero.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::super::{ChargeLine, Meter, MeterCharge, ProvisionedUse, Statement, UNUSED_CAPACITY};
use crate::domain::{LineKind, Money};

/// FOCUS columns first (alphabetically, as Azure's export lists them), then ours.
pub(crate) const FOCUS_COLUMNS: [&str; 65] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_BusinessUnit",
    "x_Application",
    "x_Model",
    "x_Deployment",
    "x_DeploymentType",
    "x_TokenSource",
    "x_ServiceTier",
    "x_LineKind",
    "x_AllocationMethod",
    "x_AllocationDetails",
    "x_Note",
];

/// Who makes, sells and invoices Azure OpenAI.
const MICROSOFT: &str = "Microsoft";
/// The billing account of this chargeback (FOCUS needs one on every row).
const BILLING_ACCOUNT_ID: &str = "azure-openai-chargeback";
const BILLING_ACCOUNT_NAME: &str = "Azure OpenAI chargeback";
/// The pricing unit of token meters, as FOCUS's AI examples write it.
const PER_1M_TOKENS: &str = "1000000 Tokens";
/// The ARM type of what a row is charged for.
const DEPLOYMENT_RESOURCE_TYPE: &str = "Microsoft.CognitiveServices/accounts/deployments";

/// One row, by column name; an absent column is null (an empty cell).
#[derive(Default)]
struct Row(BTreeMap<&'static str, String>);

impl Row {
    fn set(&mut self, column: &'static str, value: impl Into<String>) -> &mut Self {
        debug_assert!(FOCUS_COLUMNS.contains(&column), "{column} is not a column");
        let value = value.into();
        if !value.is_empty() {
            self.0.insert(column, value);
        }
        self
    }

    /// Sets the pricing-currency columns from the billing-currency ones:
    /// prices and bills are in the one currency of the statement.
    fn mirror_pricing_currency(&mut self) -> &mut Self {
        for (pricing, billing) in [
            ("PricingCurrency", "BillingCurrency"),
            ("PricingCurrencyContractedUnitPrice", "ContractedUnitPrice"),
            ("PricingCurrencyEffectiveCost", "EffectiveCost"),
            ("PricingCurrencyListUnitPrice", "ListUnitPrice"),
        ] {
            if let Some(value) = self.0.get(billing).cloned() {
                self.0.insert(pricing, value);
            }
        }
        self
    }

    fn record(&self) -> Vec<&str> {
        FOCUS_COLUMNS.iter().map(|c| self.0.get(c).map_or("", String::as_str)).collect()
    }
}

/// A decimal as FOCUS's numeric format wants it: no exponent, no sign for
/// positives, and always a decimal point (so a reader types the column as a
/// decimal even when every value is whole).
fn number(value: Decimal) -> String {
    let text = value.normalize().to_string();
    if text.contains('.') { text } else { format!("{text}.0") }
}

/// Money in cents, always two decimals.
fn money(value: &Money) -> String {
    value.cents_text()
}

/// The rows of `focus.csv` for a statement.
pub(super) fn csv(statement: &Statement) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(FOCUS_COLUMNS);
    for mut row in rows(statement) {
        row.mirror_pricing_currency();
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(row.record());
    }
    writer.into_inner().unwrap_or_default()
}

fn rows(statement: &Statement) -> Vec<Row> {
    let mut rows = Vec::new();
    for line in &statement.lines {
        let Some(cost) = &line.cost else { continue };
        match line.kind {
            LineKind::Usage => rows.extend(line.meters.iter().map(|m| usage_row(statement, line, m))),
            LineKind::Provisioned => {
                let ptu = provisioned(statement, &line.deployment);
                rows.extend(line.meters.iter().map(|m| provisioned_row(statement, line, m, ptu)));
            }
            LineKind::UnusedCapacity => {
                rows.push(unused_row(statement, line, cost, provisioned(statement, &line.deployment)));
            }
            LineKind::Correction => rows.push(correction_row(statement, line, cost)),
        }
    }
    rows
}

fn provisioned<'a>(statement: &'a Statement, deployment: &str) -> Option<&'a ProvisionedUse> {
    statement.provisioned.iter().find(|p| p.deployment.eq_ignore_ascii_case(deployment))
}

/// The columns every row of the month shares, and those of the line.
fn base(statement: &Statement, line: &ChargeLine) -> Row {
    let start = format!("{}T00:00:00Z", statement.period.first_day());
    let end = format!("{}T00:00:00Z", statement.period.next_first_day());
    let mut row = Row::default();
    row.set("BillingAccountId", BILLING_ACCOUNT_ID)
        .set("BillingAccountName", BILLING_ACCOUNT_NAME)
        .set("BillingCurrency", statement.currency.as_str())
        .set("BillingPeriodStart", start.as_str())
        .set("BillingPeriodEnd", end.as_str())
        .set("ChargePeriodStart", start)
        .set("ChargePeriodEnd", end)
        .set("ChargeCategory", "Usage")
        .set("ChargeFrequency", "Usage-Based")
        .set("InvoiceIssuerName", MICROSOFT)
        .set("ProviderName", MICROSOFT)
        .set("PublisherName", MICROSOFT)
        .set("ServiceName", "Azure OpenAI")
        .set("ServiceCategory", "AI and Machine Learning")
        .set("ServiceSubcategory", "Generative AI")
        .set("RegionId", line.region.as_ref().map(|r| r.as_str()).unwrap_or_default())
        .set("RegionName", line.region.as_ref().map(|r| r.as_str()).unwrap_or_default())
        .set("Tags", tags(line))
        .set("x_BusinessUnit", line.business_unit.as_str())
        .set("x_Application", line.application.as_str())
        .set("x_Model", line.model.as_str())
        .set("x_Deployment", line.deployment.as_str())
        .set("x_DeploymentType", line.deployment_type.as_str())
        .set("x_ServiceTier", line.service_tier.as_str())
        .set("x_LineKind", line.kind.as_str())
        .set("x_Note", line.note.as_str());
    if let Some(account) = &line.resource_id {
        if !line.deployment.is_empty() {
            row.set("ResourceId", format!("{account}/deployments/{}", line.deployment))
                .set("ResourceName", line.deployment.as_str())
                .set("ResourceType", DEPLOYMENT_RESOURCE_TYPE);
        }
        let subscription = account.subscription();
        row.set("SubAccountId", format!("/subscriptions/{subscription}")).set("SubAccountName", subscription);
    }
    row
}

/// `{"BusinessUnit": …, "Application": …}` (user-defined tags: one scheme, no prefix).
fn tags(line: &ChargeLine) -> String {
    let mut tags = serde_json::Map::new();
    tags.insert("BusinessUnit".into(), line.business_unit.clone().into());
    if !line.application.is_empty() {
        tags.insert("Application".into(), line.application.clone().into());
    }
    serde_json::Value::Object(tags).to_string()
}

fn sku_id(line: &ChargeLine, model: &str) -> String {
    format!("azure-openai/{model}/{}", line.deployment_type)
}

/// `<sku>/<token kind>/<effective from>`, with the tier before the date when
/// the response named one other than the default: a priority price is
/// another price of the same meter, so it needs its own id.
fn sku_price_id(sku: &str, line: &ChargeLine, m: &MeterCharge, from: chrono::NaiveDate) -> String {
    match line.service_tier.as_str() {
        "" | "default" => format!("{sku}/{}/{from}", m.meter.slug()),
        tier => format!("{sku}/{}/{tier}/{from}", m.meter.slug()),
    }
}

fn who(line: &ChargeLine) -> String {
    match (line.application.as_str(), line.business_unit.as_str()) {
        ("", unit) => unit.to_owned(),
        (app, unit) => format!("{app} ({unit})"),
    }
}

fn on(line: &ChargeLine) -> String {
    let deployment = if line.deployment.is_empty() { "an unnamed deployment" } else { &line.deployment };
    format!("{deployment} ({})", line.deployment_type)
}

fn usage_row(statement: &Statement, line: &ChargeLine, m: &MeterCharge) -> Row {
    let mut row = base(statement, line);
    let (Some(price), Some(exact)) = (&m.price, &m.exact_cost) else { return row };
    let sku = sku_id(line, &price.model);
    let quantity = Decimal::from(m.tokens) / Decimal::from(1_000_000u32);
    let details = serde_json::json!({
        "x_Model": price.model,
        "x_DeploymentType": line.deployment_type.as_str(),
        "x_TokenKind": m.meter.slug(),
        "x_EffectiveFrom": price.effective_from.to_string(),
    });
    row.set("BilledCost", money(&m.cost))
        .set("EffectiveCost", money(&m.cost))
        .set("ListCost", number(exact.amount()))
        .set("ContractedCost", number(exact.amount()))
        .set("ListUnitPrice", number(price.per_1m))
        .set("ContractedUnitPrice", number(price.per_1m))
        .set("PricingCategory", "Standard")
        .set("PricingQuantity", number(quantity))
        .set("PricingUnit", PER_1M_TOKENS)
        .set("ConsumedQuantity", number(Decimal::from(m.tokens)))
        .set("ConsumedUnit", "Tokens")
        .set("SkuId", sku.as_str())
        .set("SkuMeter", m.meter.name())
        .set("SkuPriceId", sku_price_id(&sku, line, m, price.effective_from))
        .set("SkuPriceDetails", details.to_string())
        .set("x_TokenSource", m.token_source.as_str())
        .set(
            "ChargeDescription",
            format!(
                "{} {} of {} on {}, at {} {} per 1M tokens from {}",
                line.model,
                m.meter.name().to_lowercase(),
                who(line),
                on(line),
                number(price.per_1m),
                statement.currency,
                price.effective_from
            ),
        );
    row
}

/// The deployment's cost per hour, and the hours a number of its tokens took:
/// of the declared capacity when there is one, else of what was used.
fn hours_of(ptu: &ProvisionedUse, tokens: u64) -> (Decimal, Decimal) {
    let hours = Decimal::from(ptu.hours);
    let per_hour = (ptu.cost.amount() / hours).round_dp(6);
    let of = ptu.capacity_tokens.unwrap_or(ptu.used_tokens);
    let used = if of == 0 { Decimal::ZERO } else { (hours * Decimal::from(tokens) / Decimal::from(of)).round_dp(6) };
    (per_hour, used)
}

fn capacity_reservation(line: &ChargeLine, row: &mut Row, status: &str) {
    let id = match &line.resource_id {
        None => format!("provisioned/{}", line.deployment),
        Some(account) => format!("{account}/deployments/{}", line.deployment),
    };
    row.set("CapacityReservationId", id).set("CapacityReservationStatus", status);
}

fn hourly_price(row: &mut Row, line: &ChargeLine, per_hour: Decimal, hours: Decimal) {
    let sku = sku_id(line, &line.model);
    row.set("ListUnitPrice", number(per_hour))
        .set("ContractedUnitPrice", number(per_hour))
        .set("ListCost", number(per_hour * hours))
        .set("ContractedCost", number(per_hour * hours))
        .set("PricingCategory", "Standard")
        .set("PricingQuantity", number(hours))
        .set("PricingUnit", "Hours")
        .set("SkuId", sku.as_str())
        .set("SkuMeter", Meter::ProvisionedThroughput.name())
        .set("SkuPriceId", format!("{sku}/{}", line.deployment))
        .set("SkuPriceDetails", serde_json::json!({"x_Deployment": line.deployment}).to_string());
}

fn provisioned_row(statement: &Statement, line: &ChargeLine, m: &MeterCharge, ptu: Option<&ProvisionedUse>) -> Row {
    let mut row = base(statement, line);
    let (per_hour, hours) = ptu.map_or((Decimal::ZERO, Decimal::ZERO), |p| hours_of(p, m.tokens));
    hourly_price(&mut row, line, per_hour, hours);
    capacity_reservation(line, &mut row, "Used");
    row.set("BilledCost", money(&m.cost))
        .set("EffectiveCost", money(&m.cost))
        .set("ConsumedQuantity", number(Decimal::from(m.tokens)))
        .set("ConsumedUnit", "Tokens")
        .set("x_TokenSource", m.token_source.as_str())
        .set("x_AllocationMethod", "token-share")
        .set("x_AllocationDetails", line.note.as_str())
        .set(
            "ChargeDescription",
            format!("{} share of provisioned {} by tokens, for {}", line.model, on(line), who(line)),
        );
    row
}

fn unused_row(statement: &Statement, line: &ChargeLine, cost: &Money, ptu: Option<&ProvisionedUse>) -> Row {
    let mut row = base(statement, line);
    let (per_hour, unused_hours) = match ptu {
        Some(p) => {
            let (per_hour, used) = hours_of(p, p.capacity_tokens.map_or(p.used_tokens, |c| p.used_tokens.min(c)));
            (per_hour, Decimal::from(p.hours) - used)
        }
        None => (Decimal::ZERO, Decimal::ZERO),
    };
    hourly_price(&mut row, line, per_hour, unused_hours);
    capacity_reservation(line, &mut row, "Unused");
    row.set("BilledCost", money(cost))
        .set("EffectiveCost", money(cost))
        .set("ConsumedQuantity", number(unused_hours))
        .set("ConsumedUnit", "Hours")
        .set("x_AllocationMethod", "unused-capacity")
        .set("x_AllocationDetails", line.note.as_str())
        .set("ChargeDescription", format!("unused capacity of provisioned {}, charged to {UNUSED_CAPACITY}", on(line)));
    row
}

fn correction_row(statement: &Statement, line: &ChargeLine, cost: &Money) -> Row {
    let mut row = base(statement, line);
    row.set("ChargeClass", "Correction")
        .set("BilledCost", money(cost))
        .set("EffectiveCost", money(cost))
        .set("ListCost", money(cost))
        .set("ContractedCost", money(cost))
        .set("x_AllocationMethod", "cost-share")
        .set("x_AllocationDetails", line.note.as_str())
        .set("ChargeDescription", format!("correction to the invoice of {} on {}: {}", who(line), on(line), line.note));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::Currency;

    #[test]
    fn numbers_always_carry_a_decimal_point_and_no_exponent() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(number(d("600000")), "600000.0");
        assert_eq!(number(d("0.600000")), "0.6");
        assert_eq!(number(d("0.0000001")), "0.0000001");
        assert_eq!(money(&Money::new(d("-1.5"), Currency::USD)), "-1.50");
    }
}
