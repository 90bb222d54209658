//! A FOCUS cost export as Azure Cost Management would write it for a
//! statement's usage: the demo's invoice, and the tests' files with known
//! differences.
//!
//! [`rows_for`] makes one Azure OpenAI row per meter charge of the statement
//! (meter names in Azure's spelling, e.g. `gpt-4o-mini Inp glbl Tokens`,
//! quantities in `1K Tokens`), one PTU hours row per account with
//! provisioned deployments, and two rows of other services; the caller may
//! change them (a 3 % overbill, a meter only on the invoice) before
//! [`write`] turns them into the file, in the FOCUS 1.0 or 1.2-preview column set.

use rust_decimal::Decimal;

use super::ColumnSet;
use crate::billing::{Meter, Statement};
use crate::domain::{ACCOUNT_RESOURCE_TYPE, DeploymentType, LineKind, Money};

/// One row of a sample export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRow {
    /// `ResourceId`.
    pub resource_id: String,
    /// `x_ResourceType`.
    pub resource_type: String,
    /// `ServiceName`.
    pub service: String,
    /// `SkuMeter` / `x_SkuMeterName`.
    pub meter: String,
    /// `x_SkuMeterSubcategory` (the meter's product).
    pub product: String,
    /// `BilledCost` and `EffectiveCost`.
    pub cost: Decimal,
    /// `ConsumedQuantity`.
    pub quantity: Decimal,
    /// `ConsumedUnit`.
    pub unit: String,
    /// `ChargeCategory`.
    pub category: String,
}

/// Azure's spelling of a token meter (`gpt-4o-mini cached Inp glbl Tokens`).
pub fn meter_name(model: &str, deployment_type: DeploymentType, meter: Meter) -> String {
    let kind = match meter {
        Meter::InputTokens => "Inp",
        Meter::CachedInputTokens => "cached Inp",
        Meter::OutputTokens => "Outp",
        Meter::ProvisionedThroughput => "Provisioned",
    };
    let scope = match deployment_type {
        DeploymentType::Global | DeploymentType::Provisioned => "glbl",
        DeploymentType::DataZone => "DZone",
        DeploymentType::Regional => "regnl",
    };
    format!("{model} {kind} {scope} Tokens")
}

fn product(model: &str) -> &'static str {
    if model.starts_with('o') { "Azure OpenAI Reasoning" } else { "Azure OpenAI" }
}

/// The rows an exact invoice of `statement` would have.
pub fn rows_for(statement: &Statement) -> Vec<SampleRow> {
    let mut rows = Vec::new();
    let mut provisioned: Vec<(String, Decimal)> = Vec::new();
    for line in &statement.lines {
        let (Some(cost), Some(account)) = (line.cost.as_ref().map(Money::amount), &line.resource_id) else {
            continue;
        };
        let account = account.as_str();
        match line.kind {
            LineKind::Usage => {
                for m in &line.meters {
                    let Some(price) = &m.price else { continue };
                    rows.push(SampleRow {
                        resource_id: account.to_owned(),
                        resource_type: ACCOUNT_RESOURCE_TYPE.to_owned(),
                        service: "Azure OpenAI".to_owned(),
                        meter: meter_name(&price.model, line.deployment_type, m.meter),
                        product: product(&price.model).to_owned(),
                        cost: m.exact_cost.as_ref().unwrap_or(&m.cost).amount(),
                        quantity: Decimal::from(m.tokens) / Decimal::from(1000),
                        unit: "1K Tokens".to_owned(),
                        category: "Usage".to_owned(),
                    });
                }
            }
            LineKind::Provisioned | LineKind::UnusedCapacity => {
                match provisioned.iter_mut().find(|(id, _)| id.eq_ignore_ascii_case(account)) {
                    Some((_, total)) => *total += cost,
                    None => provisioned.push((account.to_owned(), cost)),
                }
            }
            LineKind::Correction => {}
        }
    }
    for (resource_id, cost) in provisioned {
        rows.push(SampleRow {
            resource_id,
            resource_type: ACCOUNT_RESOURCE_TYPE.to_owned(),
            service: "Azure OpenAI".to_owned(),
            meter: "Provisioned Managed Global Unit".to_owned(),
            product: "Azure OpenAI".to_owned(),
            cost,
            quantity: Decimal::from(statement.period.hours()),
            unit: "1 Hour".to_owned(),
            category: "Usage".to_owned(),
        });
    }
    let subscription = statement
        .lines
        .iter()
        .find_map(|l| l.resource_id.as_ref().map(|a| a.subscription()))
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_owned();
    for (kind, name, service, meter, cost, unit) in [
        ("Microsoft.Compute/virtualMachines", "vm-batch-01", "Virtual Machines", "D4s v5", "61.32", "1 Hour"),
        ("Microsoft.Storage/storageAccounts", "stdemo", "Storage", "Hot LRS Data Stored", "4.18", "1 GB/Month"),
    ] {
        rows.push(SampleRow {
            resource_id: format!("/subscriptions/{subscription}/resourceGroups/rg-other/providers/{kind}/{name}"),
            resource_type: kind.to_ascii_lowercase(),
            service: service.to_owned(),
            meter: meter.to_owned(),
            product: service.to_owned(),
            cost: cost.parse().unwrap_or_default(),
            quantity: Decimal::from(744),
            unit: unit.to_owned(),
            category: "Usage".to_owned(),
        });
    }
    rows
}

/// The export file of `rows` for `statement`'s month and currency.
pub fn write(statement: &Statement, rows: &[SampleRow], columns: ColumnSet) -> Vec<u8> {
    let start = format!("{}T00:00:00Z", statement.period.first_day());
    let end = format!("{}T00:00:00Z", statement.period.next_first_day());
    let mut header = vec![
        "BilledCost",
        "BillingAccountId",
        "BillingAccountName",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "ChargeCategory",
        "ChargeClass",
        "ChargeDescription",
        "ChargeFrequency",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "ConsumedQuantity",
        "ConsumedUnit",
        "EffectiveCost",
        "ProviderName",
        "ResourceId",
        "ResourceName",
        "ServiceName",
    ];
    if columns == ColumnSet::Focus12 {
        header.push("SkuMeter");
    }
    header.extend(["x_ResourceType", "x_SkuMeterName", "x_SkuMeterSubcategory"]);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&header);
    for r in rows {
        let cost = r.cost.normalize().to_string();
        let mut record = vec![
            cost.clone(),
            "/providers/Microsoft.Billing/billingAccounts/demo".to_owned(),
            "Demo billing account".to_owned(),
            statement.currency.to_string(),
            end.clone(),
            start.clone(),
            r.category.clone(),
            String::new(),
            r.meter.clone(),
            "Usage-Based".to_owned(),
            end.clone(),
            start.clone(),
            r.quantity.normalize().to_string(),
            r.unit.clone(),
            cost,
            "Microsoft".to_owned(),
            r.resource_id.clone(),
            r.resource_id.rsplit('/').next().unwrap_or_default().to_owned(),
            r.service.clone(),
        ];
        if columns == ColumnSet::Focus12 {
            record.push(r.meter.clone());
        }
        record.extend([r.resource_type.clone(), r.meter.clone(), r.product.clone()]);
        let _ = writer.write_record(&record);
    }
    writer.into_inner().unwrap_or_default()
}
