//! The catalogue written by people: one row per model, deployment type and
//! date, with a column per token kind (`prices/azure-openai.csv` as first
//! shipped, and most `CHARGEBACK_PRICES` files).
//!
//! Required columns: `model, deployment_type, effective_from, currency,
//! input_*, cached_input_*, output_*, source, read_on`, the price columns all
//! in one unit, named: `_per_1m` or `_per_1k` (converted ×1000). Optional:
//! `version`, `region`, `service_tier` (empty: default), and the price columns
//! `cache_write_*`, `audio_input_*`, `audio_output_*` in the same unit. An
//! empty price means no confirmed figure: that kind has no price from the row.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::PriceError;
use crate::domain::{Currency, DeploymentType, Price, PriceLayer, ServiceTier, TokenKind};

/// The price columns (without their unit suffix) and the kind each prices.
const KINDS: [(&str, TokenKind); 6] = [
    ("input", TokenKind::Input),
    ("cached_input", TokenKind::CachedInput),
    ("output", TokenKind::Output),
    ("cache_write", TokenKind::CacheWrite),
    ("audio_input", TokenKind::AudioInput),
    ("audio_output", TokenKind::AudioOutput),
];
/// The price columns every file has.
const REQUIRED_KINDS: [&str; 3] = ["input", "cached_input", "output"];

/// The price columns and their multiplier to per-1M.
struct Columns {
    index: HashMap<String, usize>,
    to_per_1m: Decimal,
}

fn columns(headers: &csv::StringRecord, origin: &str) -> Result<Columns, PriceError> {
    let header_error = |message: String| PriceError::Header { origin: origin.to_owned(), message };
    let mut index: HashMap<String, usize> =
        headers.iter().enumerate().map(|(i, h)| (h.to_ascii_lowercase(), i)).collect();
    for required in ["model", "deployment_type", "effective_from", "currency", "source", "read_on"] {
        if !index.contains_key(required) {
            return Err(header_error(format!("missing column {required}")));
        }
    }
    let has = |unit: &str| REQUIRED_KINDS.iter().all(|c| index.contains_key(&format!("{c}_{unit}")));
    let any = |unit: &str| KINDS.iter().any(|(c, _)| index.contains_key(&format!("{c}_{unit}")));
    let (unit, to_per_1m) = match (has("per_1m"), has("per_1k")) {
        (true, false) if !any("per_1k") => ("per_1m", Decimal::ONE),
        (false, true) if !any("per_1m") => ("per_1k", Decimal::ONE_THOUSAND),
        _ => {
            return Err(header_error(
                "the price columns must name their unit, all the same: input_per_1m,cached_input_per_1m,output_per_1m \
                 (per 1M tokens) or input_per_1k,cached_input_per_1k,output_per_1k (per 1K tokens)"
                    .to_owned(),
            ));
        }
    };
    for (c, _) in KINDS {
        if let Some(i) = index.remove(&format!("{c}_{unit}")) {
            index.insert(c.to_owned(), i);
        }
    }
    Ok(Columns { index, to_per_1m })
}

/// The prices of a wide file: one per row and kind with a figure.
pub fn parse(text: &str, origin: &str, layer: PriceLayer) -> Result<Vec<Price>, PriceError> {
    let csv_error = |source| PriceError::Csv { origin: origin.to_owned(), source };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(csv_error)?.clone();
    let columns = columns(&headers, origin)?;
    let mut prices = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_error)?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let row_error = |message: String| PriceError::Row { origin: origin.to_owned(), line, message };
        let field = |name: &str| columns.index.get(name).and_then(|i| row.get(*i)).unwrap_or("");
        let price = |name: &str| -> Result<Option<Decimal>, PriceError> {
            match field(name) {
                "" => Ok(None),
                raw => {
                    let value: Decimal =
                        raw.parse().map_err(|_| row_error(format!("{name} price {raw:?} is not a decimal number")))?;
                    if value < Decimal::ZERO {
                        return Err(row_error(format!("{name} price is negative")));
                    }
                    Ok(Some(value * columns.to_per_1m))
                }
            }
        };
        let model = field("model");
        if model.is_empty() {
            return Err(row_error("empty model".to_owned()));
        }
        let deployment_type = match DeploymentType::parse(field("deployment_type")) {
            Some(DeploymentType::Provisioned) => {
                return Err(row_error(
                    "provisioned deployments are priced by their PTU cost in the deployment file, not per token"
                        .to_owned(),
                ));
            }
            Some(t) => t,
            None => {
                return Err(row_error(format!(
                    "deployment_type {:?}: use global, data-zone or regional",
                    field("deployment_type")
                )));
            }
        };
        let date = |name: &str| NaiveDate::parse_from_str(field(name), "%Y-%m-%d");
        let effective_from = date("effective_from")
            .map_err(|_| row_error(format!("effective_from {:?} is not YYYY-MM-DD", field("effective_from"))))?;
        let read_on = match field("read_on") {
            "" => None,
            raw => Some(date("read_on").map_err(|_| row_error(format!("read_on {raw:?} is not YYYY-MM-DD")))?),
        };
        let currency = Currency::parse_any_case(field("currency"))
            .map_err(|_| row_error(format!("currency {:?} is not a 3-letter code", field("currency"))))?;
        let tier = ServiceTier::parse(field("service_tier")).ok_or_else(|| {
            row_error(format!("service_tier {:?}: use priority, flex, batch or leave it empty", field("service_tier")))
        })?;
        let region = field("region").to_ascii_lowercase();
        if !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(row_error(format!("region {region:?} is not an Azure region name such as eastus2")));
        }
        if price("input")?.is_none() {
            return Err(row_error("an input price is required".to_owned()));
        }
        for (column, kind) in KINDS {
            if let Some(figure) = price(column)? {
                prices.push(Price {
                    model: model.to_owned(),
                    version: field("version").to_owned(),
                    deployment_type,
                    region: region.clone(),
                    tier,
                    kind,
                    effective_from,
                    currency: currency.clone(),
                    price: figure,
                    source: field("source").to_owned(),
                    read_on,
                    origin: origin.to_owned(),
                    layer,
                    meter_id: String::new(),
                });
            }
        }
    }
    Ok(prices)
}
