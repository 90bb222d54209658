//! Reading the invoice: Azure Cost Management's FOCUS cost export
//! (`FocusCost`), CSV or gzip-compressed CSV, in the FOCUS 1.0 and
//! 1.2-preview column sets Microsoft exports.
//!
//! The columns read (by name, in any order; 1.0 has only `x_SkuMeterName`,
//! 1.2-preview has `SkuMeter` and keeps `x_SkuMeterName`):
//!
//! | column | use |
//! |---|---|
//! | `BillingPeriodStart`, `BillingCurrency` | every row must be of the month and currency reconciled |
//! | `ResourceId` (and `x_ResourceType`) | the Azure OpenAI account; rows of other resource types are other services |
//! | `SkuMeter` or `x_SkuMeterName`, `x_SkuMeterId`, `x_SkuMeterSubcategory` | the meter, read by the price sync's meter parser |
//! | `EffectiveCost` (`BilledCost` is checked too) | the cost compared: amortized, so a PTU reservation's cost sits on the account that used it |
//! | `ConsumedQuantity`, `ConsumedUnit` | tokens (`1K`, `1M`, `Tokens` …) or PTU hours |
//! | `ChargeCategory` | `Tax` rows are not ours to compare and are counted as other rows |
//!
//! Every error names the row (1 is the first row after the header) and the
//! column, and nothing is kept from a file that has one.

use std::io::Read;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{ACCOUNT_RESOURCE_TYPE, Currency, Money, Period, serialize_amount};

/// Why an invoice file cannot be reconciled.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// The file could not be read.
    #[error("reading the invoice {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No header or no rows.
    #[error("the invoice {file} is empty: {what}")]
    Empty {
        /// The file.
        file: String,
        /// What is missing.
        what: String,
    },
    /// Columns the reconciliation needs are not in the header.
    #[error("the invoice {file} lacks the column(s) {}: is it a FOCUS cost export (FocusCost 1.0 or 1.2)?", columns.join(", "))]
    MissingColumns {
        /// The file.
        file: String,
        /// What is missing.
        columns: Vec<String>,
    },
    /// A cell is wrong.
    #[error("the invoice {file}, row {row}, column {column}: {message}")]
    Cell {
        /// The file.
        file: String,
        /// 1-based data row (the header is row 0).
        row: usize,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The CSV is malformed.
    #[error("the invoice {file}, row {row}: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// 1-based data row.
        row: usize,
        /// What is wrong.
        message: String,
    },
}

/// The FOCUS column set of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ColumnSet {
    /// FOCUS 1.0 (`x_SkuMeterName`, no `SkuMeter`).
    #[serde(rename = "1.0")]
    Focus10,
    /// FOCUS 1.2 (`SkuMeter`).
    #[serde(rename = "1.2")]
    Focus12,
}

/// One Azure OpenAI row of the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceRow {
    /// 1-based data row in the file.
    pub row: usize,
    /// The account's ARM id (without a `/deployments/…` suffix).
    pub account: String,
    /// The deployment, when the row's `ResourceId` names one.
    pub deployment: String,
    /// The meter name.
    pub meter_name: String,
    /// The meter id, when exported.
    pub meter_id: String,
    /// The meter's product (`x_SkuMeterSubcategory`), when exported.
    pub product: String,
    /// `EffectiveCost`, exact as exported.
    #[serde(serialize_with = "serialize_amount")]
    pub cost: Money,
    /// `ConsumedQuantity` (none when empty).
    pub quantity: Option<Decimal>,
    /// `ConsumedUnit` ('' when not exported).
    pub unit: String,
}

/// The Azure OpenAI rows of one month's FOCUS cost export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    /// The file it was read from.
    pub file: String,
    /// The month.
    pub period: Period,
    /// The billing currency.
    pub currency: Currency,
    /// Which FOCUS column set the export has.
    pub columns: ColumnSet,
    /// Rows of the file.
    pub total_rows: usize,
    /// Rows of Azure OpenAI (Cognitive Services) accounts.
    pub rows: Vec<InvoiceRow>,
    /// Rows of other services and tax rows: not compared, counted.
    pub other_rows: usize,
}

const REQUIRED: [&str; 7] = [
    "BillingPeriodStart",
    "BillingCurrency",
    "ResourceId",
    "BilledCost",
    "EffectiveCost",
    "ChargeCategory",
    "ConsumedQuantity",
];

impl Invoice {
    /// Reads an export file (CSV, or gzip-compressed CSV).
    pub fn load(path: &std::path::Path, period: Period, currency: &Currency) -> Result<Self, InvoiceError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| InvoiceError::Read { file: file.clone(), source })?;
        Self::parse(&bytes, &file, period, currency)
    }

    /// Reads an export from its bytes; `file` names it in messages. Every row
    /// must be of `period` and billed in `currency`.
    pub fn parse(bytes: &[u8], file: &str, period: Period, currency: &Currency) -> Result<Self, InvoiceError> {
        let text = decompress(bytes).map_err(|source| InvoiceError::Read { file: file.to_owned(), source })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text.trim().is_empty() {
            return Err(InvoiceError::Empty { file: file.to_owned(), what: "no header and no rows".into() });
        }
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| InvoiceError::Malformed { file: file.to_owned(), row: 0, message: e.to_string() })?
            .clone();
        let index = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let meter_column = index("SkuMeter").or_else(|| index("x_SkuMeterName"));
        let mut missing: Vec<String> =
            REQUIRED.iter().filter(|c| index(c).is_none()).map(|c| (*c).to_owned()).collect();
        if meter_column.is_none() {
            missing.push("SkuMeter (or x_SkuMeterName)".to_owned());
        }
        if !missing.is_empty() {
            return Err(InvoiceError::MissingColumns { file: file.to_owned(), columns: missing });
        }
        let columns = if index("SkuMeter").is_some() { ColumnSet::Focus12 } else { ColumnSet::Focus10 };
        let mut invoice = Invoice {
            file: file.to_owned(),
            period,
            currency: currency.clone(),
            columns,
            total_rows: 0,
            rows: Vec::new(),
            other_rows: 0,
        };
        for (i, record) in reader.records().enumerate() {
            let row = i + 1;
            let record =
                record.map_err(|e| InvoiceError::Malformed { file: file.to_owned(), row, message: e.to_string() })?;
            invoice.total_rows += 1;
            let cell = |name: &str| index(name).and_then(|c| record.get(c)).unwrap_or("");
            let bad = |column: &str, message: String| InvoiceError::Cell {
                file: file.to_owned(),
                row,
                column: column.to_owned(),
                message,
            };
            check_period(cell("BillingPeriodStart"), period).map_err(|m| bad("BillingPeriodStart", m))?;
            let billed_in = cell("BillingCurrency");
            if !billed_in.eq_ignore_ascii_case(currency.as_str()) {
                return Err(bad(
                    "BillingCurrency",
                    format!("{billed_in:?}, but the statement is in {currency}: reconcile an export in {currency}"),
                ));
            }
            let cost = decimal(cell("EffectiveCost")).map_err(|m| bad("EffectiveCost", m))?;
            decimal(cell("BilledCost")).map_err(|m| bad("BilledCost", m))?;
            let quantity = match cell("ConsumedQuantity") {
                "" => None,
                raw => Some(decimal(raw).map_err(|m| bad("ConsumedQuantity", m))?),
            };
            let resource_id = cell("ResourceId");
            let resource_type = match cell("x_ResourceType") {
                "" => resource_type(resource_id),
                t => t.to_ascii_lowercase(),
            };
            if resource_type != ACCOUNT_RESOURCE_TYPE || cell("ChargeCategory").eq_ignore_ascii_case("Tax") {
                invoice.other_rows += 1;
                continue;
            }
            let (account, deployment) = split_resource(resource_id)
                .ok_or_else(|| bad("ResourceId", format!("{resource_id:?} is not the ARM id of an account")))?;
            let meter_name = meter_column.and_then(|c| record.get(c)).unwrap_or("").to_owned();
            let meter_name = if meter_name.is_empty() { cell("x_SkuMeterName").to_owned() } else { meter_name };
            invoice.rows.push(InvoiceRow {
                row,
                account,
                deployment,
                meter_name,
                meter_id: cell("x_SkuMeterId").to_owned(),
                product: cell("x_SkuMeterSubcategory").to_owned(),
                cost: Money::new(cost, currency.clone()),
                quantity,
                unit: cell("ConsumedUnit").to_owned(),
            });
        }
        if invoice.total_rows == 0 {
            return Err(InvoiceError::Empty { file: file.to_owned(), what: "a header but no rows".into() });
        }
        Ok(invoice)
    }
}

fn decompress(bytes: &[u8]) -> std::io::Result<String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(bytes).read_to_string(&mut text)?;
        Ok(text)
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// A FOCUS decimal: plain or in E notation.
fn decimal(raw: &str) -> Result<Decimal, String> {
    if raw.is_empty() {
        return Err("empty, but a cost is never null in FOCUS".into());
    }
    raw.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(raw))
        .map_err(|_| format!("{raw:?} is not a decimal number"))
}

/// Checks `BillingPeriodStart` (`2026-10-01T00:00:00Z`, `2026-10-01T00:00Z`
/// as FOCUS 1.0 wrote it, or `2026-10-01`) is the first day of `period`.
fn check_period(raw: &str, period: Period) -> Result<(), String> {
    let date = raw.get(..10).and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match date {
        None => Err(format!("{raw:?} is not an ISO 8601 date and time")),
        Some(d) if d == period.first_day() => Ok(()),
        Some(d) => Err(format!("{raw:?} is the billing period of {}, not of {period}", Period::of(d))),
    }
}

/// The lower-case ARM resource type of a resource id (`microsoft.cognitiveservices/accounts`).
fn resource_type(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.iter().rposition(|p| p.eq_ignore_ascii_case("providers")) {
        Some(i) if parts.len() > i + 2 => format!("{}/{}", parts[i + 1], parts[i + 2]).to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// An account id and the deployment, when the id names one (`…/accounts/a/deployments/d`).
fn split_resource(id: &str) -> Option<(String, String)> {
    let id = id.trim_end_matches('/');
    let lower = id.to_ascii_lowercase();
    let start = lower.find("/providers/microsoft.cognitiveservices/accounts/")?;
    let after = start + "/providers/microsoft.cognitiveservices/accounts/".len();
    let rest = &id[after..];
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if name.is_empty() {
        return None;
    }
    let account = id[..after + name.len()].to_owned();
    let deployment = match tail.split_once('/') {
        Some((kind, d)) if kind.eq_ignore_ascii_case("deployments") && !d.is_empty() && !d.contains('/') => d,
        _ => "",
    };
    Some((account, deployment.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/oai";
    const HEADER: &str = "BillingPeriodStart,BillingCurrency,ResourceId,x_ResourceType,BilledCost,EffectiveCost,ChargeCategory,ConsumedQuantity,ConsumedUnit,SkuMeter,x_SkuMeterName\n";

    fn october() -> Period {
        Period::new(2026, 10).unwrap()
    }

    fn row(start: &str, currency: &str, resource: &str, cost: &str, quantity: &str) -> String {
        format!("{start},{currency},{resource},,{cost},{cost},Usage,{quantity},1K,gpt 4o 0806 Inp glbl Tokens,\n")
    }

    fn parse(text: &str) -> Result<Invoice, InvoiceError> {
        Invoice::parse(text.as_bytes(), "invoice.csv", october(), &Currency::USD)
    }

    #[test]
    fn openai_rows_are_kept_other_services_counted() {
        let text = format!(
            "{HEADER}{}{}{}",
            row("2026-10-01T00:00:00Z", "USD", ACCOUNT, "1.25", "500"),
            row("2026-10-01T00:00Z", "usd", &format!("{ACCOUNT}/deployments/chat"), "1.5E-2", ""),
            row(
                "2026-10-01",
                "USD",
                "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
                "9",
                "1"
            ),
        );
        let invoice = parse(&text).unwrap();
        assert_eq!((invoice.total_rows, invoice.rows.len(), invoice.other_rows), (3, 2, 1));
        assert_eq!(invoice.columns, ColumnSet::Focus12);
        assert_eq!(invoice.rows[0].account, ACCOUNT);
        assert_eq!(invoice.rows[1].deployment, "chat");
        assert_eq!(invoice.rows[1].cost.amount(), "0.015".parse::<Decimal>().unwrap());
        assert_eq!(invoice.rows[0].meter_name, "gpt 4o 0806 Inp glbl Tokens");
    }

    #[test]
    fn gzip_files_read_as_their_csv() {
        use std::io::Write;
        let text = format!("{HEADER}{}", row("2026-10-01T00:00:00Z", "USD", ACCOUNT, "1.25", "500"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let invoice = Invoice::parse(&gz.finish().unwrap(), "invoice.csv.gz", october(), &Currency::USD).unwrap();
        assert_eq!(invoice.rows.len(), 1);
    }

    #[test]
    fn bad_input_names_the_row_and_column() {
        let good = row("2026-10-01T00:00:00Z", "USD", ACCOUNT, "1.25", "500");
        for (text, expected) in [
            (String::new(), "is empty".to_owned()),
            (HEADER.to_owned(), "a header but no rows".to_owned()),
            (
                "BillingPeriodStart,BilledCost\n2026-10-01,1\n".to_owned(),
                "lacks the column(s) BillingCurrency".to_owned(),
            ),
            (
                format!("{HEADER}{good}{}", row("2026-09-01T00:00:00Z", "USD", ACCOUNT, "1", "1")),
                "row 2, column BillingPeriodStart: \"2026-09-01T00:00:00Z\" is the billing period of 2026-09"
                    .to_owned(),
            ),
            (
                format!("{HEADER}{}", row("2026-10-01T00:00:00Z", "EUR", ACCOUNT, "1", "1")),
                "row 1, column BillingCurrency".to_owned(),
            ),
            (format!("{HEADER}{}", row("2026-10-01T00:00:00Z", "USD", ACCOUNT, "1,50", "1")), "row 1".to_owned()),
            (
                format!("{HEADER}{}", row("2026-10-01T00:00:00Z", "USD", ACCOUNT, "abc", "1")),
                "row 1, column EffectiveCost: \"abc\" is not a decimal number".to_owned(),
            ),
            (
                format!("{HEADER}{}", row("2026-10-01T00:00:00Z", "USD", ACCOUNT, "1", "lots")),
                "row 1, column ConsumedQuantity".to_owned(),
            ),
            (
                format!("{HEADER}{}", row("yesterday", "USD", ACCOUNT, "1", "1")),
                "row 1, column BillingPeriodStart".to_owned(),
            ),
        ] {
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(&expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn resource_ids_split_into_account_and_deployment() {
        assert_eq!(resource_type(ACCOUNT), ACCOUNT_RESOURCE_TYPE);
        assert_eq!(split_resource(&format!("{ACCOUNT}/deployments/d1/")), Some((ACCOUNT.to_owned(), "d1".to_owned())));
        assert_eq!(split_resource("/subscriptions/1"), None);
    }
}
