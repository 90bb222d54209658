//! The demo's invoice: an Azure Cost Management FOCUS cost export for the
//! demo month, made up from its statement with two known differences, so
//! `chargeback reconcile` has something to find:
//!
//! - gpt-4.1 output tokens billed 3 % over what the shipped price gives;
//! - o3-mini data-zone usage billed at made-up rates (1.21 and 4.84 USD per
//!   1M input and output tokens): the shipped catalogue has no o3-mini price,
//!   so our statement leaves it unpriced and the invoice bills it alone.
//!
//! It also carries two rows of other services, which reconciliation ignores.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rust_decimal::Decimal;

use crate::billing::{Meter, Statement};
use crate::domain::{ACCOUNT_RESOURCE_TYPE, DeploymentType};
use crate::reconcile::ColumnSet;
use crate::reconcile::sample::{self, SampleRow};

/// Writes the demo month's invoice export under `<data dir>/invoices/` and returns its path.
pub fn write(statement: &Statement, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let mut rows = sample::rows_for(statement);
    let over = sample::meter_name("gpt-4.1", DeploymentType::Global, Meter::OutputTokens);
    for row in rows.iter_mut().filter(|r| r.meter == over) {
        row.cost *= Decimal::new(103, 2);
    }
    for line in statement.lines.iter().filter(|l| l.is_unpriced() && l.model.starts_with("o3-mini")) {
        let Some(account) = &line.resource_id else { continue };
        let uncached = line.tokens.prompt_tokens - line.tokens.cached_tokens;
        for (meter, tokens, per_1m) in [
            ("o3 mini 0131 input Data Zone Tokens", uncached, Decimal::new(121, 2)),
            ("o3 mini 0131 cached input Data Zone Tokens", line.tokens.cached_tokens, Decimal::new(605, 3)),
            ("o3 mini 0131 output Data Zone Tokens", line.tokens.completion_tokens, Decimal::new(484, 2)),
        ] {
            if tokens == 0 {
                continue;
            }
            rows.push(SampleRow {
                resource_id: account.to_string(),
                resource_type: ACCOUNT_RESOURCE_TYPE.to_owned(),
                service: "Azure OpenAI".to_owned(),
                meter: meter.to_owned(),
                product: "Azure OpenAI Reasoning".to_owned(),
                cost: Decimal::from(tokens) * per_1m / Decimal::from(1_000_000u32),
                quantity: Decimal::from(tokens) / Decimal::from(1000),
                unit: "1K Tokens".to_owned(),
                category: "Usage".to_owned(),
            });
        }
    }
    let dir = data_dir.join("invoices");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("focus-cost-{}.csv", statement.period));
    std::fs::write(&path, sample::write(statement, &rows, ColumnSet::Focus12))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
