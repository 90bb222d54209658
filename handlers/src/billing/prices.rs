//! The price catalogue: pay-as-you-go prices per model, deployment type and
//! effective date.
//!
//! The shipped catalogue is `prices/azure-openai.csv` (compiled in); a user
//! file in the same format (`CHARGEBACK_PRICES`) overrides rows with the same
//! model, deployment type and `effective_from`, and adds the others. Prices
//! are per 1M tokens (`*_per_1m`) or per 1K tokens (`*_per_1k`, converted
//! ×1000); a header that does not name the unit is rejected, and so is a user
//! price more than 300 times above or below the shipped price of the same
//! model and type, the sign of a per-1K figure in a per-1M column or the
//! reverse.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::{Currency, DeploymentType, Price};

/// The catalogue shipped with the app.
const SHIPPED: &str = include_str!("../../../prices/azure-openai.csv");
/// Where the shipped catalogue lives in the repository.
const SHIPPED_ORIGIN: &str = "prices/azure-openai.csv";
/// A user price this many times above or below the shipped one is a unit mistake.
const UNIT_GUARD_RATIO: u32 = 300;

/// Why a price file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file could not be read.
    #[error("reading {origin} failed")]
    Io {
        /// The file.
        origin: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not CSV (or a row is not).
    #[error("{origin} is not CSV")]
    Csv {
        /// The file.
        origin: String,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// The header is wrong.
    #[error("{origin}: {message}")]
    Header {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A user price is about 1000 times off the shipped one (per-1K vs per-1M).
    #[error("{origin}: {message}")]
    Unit {
        /// The file.
        origin: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A row is wrong.
    #[error("{origin} line {line}: {message}")]
    Row {
        /// The file.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Where the prices come from: the shipped catalogue and, when configured,
/// the user's file (`CHARGEBACK_PRICES`), read each time a month is priced
/// so a corrected file applies to the next rollup.
#[derive(Debug, Clone, Default)]
pub struct PriceSource {
    user_file: Option<PathBuf>,
}

impl PriceSource {
    /// The shipped catalogue, with `user_file`'s rows when given.
    pub fn new(user_file: Option<PathBuf>) -> Self {
        Self { user_file }
    }

    /// The catalogue as the files are now.
    pub fn catalogue(&self) -> Result<PriceCatalogue, PriceError> {
        PriceCatalogue::load(self.user_file.as_deref())
    }
}

/// Pay-as-you-go prices by model, deployment type and effective date.
#[derive(Debug, Clone, Default)]
pub struct PriceCatalogue {
    prices: Vec<Price>,
}

impl PriceCatalogue {
    /// The shipped catalogue, overridden and extended by `user_file` when given.
    pub fn load(user_file: Option<&Path>) -> Result<Self, PriceError> {
        let shipped = Self::shipped()?;
        match user_file {
            None => Ok(shipped),
            Some(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|source| PriceError::Io { origin: origin.clone(), source })?;
                shipped.with_overrides(&text, &origin)
            }
        }
    }

    /// The catalogue shipped in `prices/azure-openai.csv`.
    pub fn shipped() -> Result<Self, PriceError> {
        Self::parse(SHIPPED, SHIPPED_ORIGIN)
    }

    /// Parses a catalogue from CSV text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PriceError> {
        let mut prices = parse_rows(text, origin)?;
        prices.sort_by(|a, b| {
            (&a.model, a.deployment_type, a.effective_from).cmp(&(&b.model, b.deployment_type, b.effective_from))
        });
        for pair in prices.windows(2) {
            if let [a, b] = pair
                && (&a.model, a.deployment_type, a.effective_from) == (&b.model, b.deployment_type, b.effective_from)
            {
                return Err(PriceError::Header {
                    origin: origin.to_owned(),
                    message: format!("{} {} from {} is priced twice", a.model, a.deployment_type, a.effective_from),
                });
            }
        }
        Ok(Self { prices })
    }

    /// This catalogue with the rows of a user file: a row with the same model,
    /// deployment type and `effective_from` replaces ours, others are added.
    /// Rejects a price ~1000× off ours (per-1K written as per-1M or back).
    pub fn with_overrides(mut self, text: &str, origin: &str) -> Result<Self, PriceError> {
        let user = Self::parse(text, origin)?;
        for price in &user.prices {
            self.check_units(price)?;
        }
        self.prices.retain(|p| {
            !user.prices.iter().any(|u| {
                u.model == p.model && u.deployment_type == p.deployment_type && u.effective_from == p.effective_from
            })
        });
        self.prices.extend(user.prices);
        self.prices.sort_by(|a, b| {
            (&a.model, a.deployment_type, a.effective_from).cmp(&(&b.model, b.deployment_type, b.effective_from))
        });
        Ok(self)
    }

    /// Every price, by model, deployment type and date.
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    /// The price in force on `day` for a record's model on a deployment type.
    ///
    /// The catalogue model is the longest name that equals the record's model
    /// (case-insensitively) or is followed in it by `-` and a version or date
    /// starting with a digit: `gpt-4o` prices `gpt-4o-2024-08-06` but never
    /// `gpt-4o-mini-2024-07-18`. Of that model's prices for the type, the one
    /// with the latest `effective_from` on or before `day` applies.
    pub fn price_for(&self, model: &str, deployment_type: DeploymentType, day: NaiveDate) -> Option<&Price> {
        let catalogue_model =
            self.prices.iter().map(|p| p.model.as_str()).filter(|m| model_matches(m, model)).max_by_key(|m| m.len())?;
        self.prices
            .iter()
            .filter(|p| p.model == catalogue_model && p.deployment_type == deployment_type && p.effective_from <= day)
            .max_by_key(|p| p.effective_from)
    }

    fn check_units(&self, user: &Price) -> Result<(), PriceError> {
        let Some(ours) = self
            .prices
            .iter()
            .filter(|p| p.model == user.model && p.deployment_type == user.deployment_type)
            .min_by_key(|p| (p.effective_from > user.effective_from, Reverse(p.effective_from)))
        else {
            return Ok(());
        };
        let pairs = [
            ("input", Some(user.input_per_1m), Some(ours.input_per_1m)),
            ("cached input", user.cached_input_per_1m, ours.cached_input_per_1m),
            ("output", user.output_per_1m, ours.output_per_1m),
        ];
        let ratio = Decimal::from(UNIT_GUARD_RATIO);
        for (what, theirs, shipped) in pairs {
            let (Some(theirs), Some(shipped)) = (theirs, shipped) else { continue };
            if theirs.is_zero() || shipped.is_zero() {
                continue;
            }
            let hint = if theirs > shipped * ratio {
                "more than 300 times the shipped price: is it a per-1K price in a per-1M column? Use the header *_per_1k for per-1K prices"
            } else if theirs * ratio < shipped {
                "less than 1/300 of the shipped price: is it a per-1M price in a per-1K column, or a per-token price? Prices are per 1M tokens under *_per_1m, per 1K tokens under *_per_1k"
            } else {
                continue;
            };
            return Err(PriceError::Unit {
                origin: user.origin.clone(),
                message: format!(
                    "{} {} {what} price {} per 1M is {hint} (shipped: {} per 1M)",
                    user.model, user.deployment_type, theirs, shipped
                ),
            });
        }
        Ok(())
    }
}

/// Whether catalogue model `catalogue` prices a record's `model`.
fn model_matches(catalogue: &str, model: &str) -> bool {
    let (catalogue, model) = (catalogue.to_ascii_lowercase(), model.trim().to_ascii_lowercase());
    match model.strip_prefix(&catalogue) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
        None => false,
    }
}

/// The price columns and their unit multiplier to per-1M.
struct Columns {
    index: std::collections::HashMap<String, usize>,
    to_per_1m: Decimal,
}

fn columns(headers: &csv::StringRecord, origin: &str) -> Result<Columns, PriceError> {
    let header_error = |message: String| PriceError::Header { origin: origin.to_owned(), message };
    let index: std::collections::HashMap<String, usize> =
        headers.iter().enumerate().map(|(i, h)| (h.to_ascii_lowercase(), i)).collect();
    for required in ["model", "deployment_type", "effective_from", "currency", "source", "read_on"] {
        if !index.contains_key(required) {
            return Err(header_error(format!("missing column {required}")));
        }
    }
    let has_unit =
        |unit: &str| ["input", "cached_input", "output"].iter().all(|c| index.contains_key(&format!("{c}_{unit}")));
    let any_unit =
        |unit: &str| ["input", "cached_input", "output"].iter().any(|c| index.contains_key(&format!("{c}_{unit}")));
    let to_per_1m = match (has_unit("per_1m"), has_unit("per_1k")) {
        (true, false) if !any_unit("per_1k") => Decimal::ONE,
        (false, true) if !any_unit("per_1m") => Decimal::ONE_THOUSAND,
        _ => {
            return Err(header_error(
                "the price columns must name their unit, all the same: input_per_1m,cached_input_per_1m,output_per_1m \
                 (per 1M tokens) or input_per_1k,cached_input_per_1k,output_per_1k (per 1K tokens)"
                    .to_owned(),
            ));
        }
    };
    let unit = if to_per_1m == Decimal::ONE { "per_1m" } else { "per_1k" };
    let mut index = index;
    for c in ["input", "cached_input", "output"] {
        if let Some(i) = index.remove(&format!("{c}_{unit}")) {
            index.insert(c.to_owned(), i);
        }
    }
    Ok(Columns { index, to_per_1m })
}

fn parse_rows(text: &str, origin: &str) -> Result<Vec<Price>, PriceError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|source| PriceError::Csv { origin: origin.to_owned(), source })?.clone();
    let columns = columns(&headers, origin)?;
    let mut prices = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|source| PriceError::Csv { origin: origin.to_owned(), source })?;
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
        let input_per_1m = price("input")?.ok_or_else(|| row_error("an input price is required".to_owned()))?;
        prices.push(Price {
            model: model.to_owned(),
            deployment_type,
            effective_from,
            currency,
            input_per_1m,
            cached_input_per_1m: price("cached_input")?,
            output_per_1m: price("output")?,
            source: field("source").to_owned(),
            read_on,
            origin: origin.to_owned(),
        });
    }
    Ok(prices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const HEADER: &str =
        "model,deployment_type,effective_from,currency,input_per_1m,cached_input_per_1m,output_per_1m,source,read_on\n";

    #[test]
    fn the_shipped_catalogue_parses_and_names_its_sources() {
        let catalogue = PriceCatalogue::shipped().unwrap();
        for model in ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "text-embedding-3-small"] {
            assert!(catalogue.prices().iter().any(|p| p.model == model), "{model}");
        }
        assert!(catalogue.prices().iter().all(|p| p.source.starts_with("https://") && p.read_on.is_some()));
    }

    #[test]
    fn a_dated_model_matches_its_family_but_never_a_longer_sibling() {
        let catalogue = PriceCatalogue::shipped().unwrap();
        let on = day("2026-11-01");
        let price = |m| catalogue.price_for(m, DeploymentType::Global, on).map(|p| p.model.as_str());
        assert_eq!(price("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(price("GPT-4o"), Some("gpt-4o"));
        assert_eq!(price("gpt-4o-mini-2024-07-18"), Some("gpt-4o-mini"));
        assert_eq!(price("gpt-4.1-nano-2025-04-14"), Some("gpt-4.1-nano"));
        assert_eq!(price("gpt-4o-realtime-preview"), None);
        assert_eq!(price("gpt-4"), None);
        assert_eq!(price(""), None);
        assert!(!model_matches("gpt-4o", "gpt-4o-mini"));
    }

    #[test]
    fn a_model_without_the_sibling_in_the_catalogue_is_still_not_matched() {
        let catalogue =
            PriceCatalogue::parse(&format!("{HEADER}gpt-4o,global,2026-01-01,USD,2.5,1.25,10,x,\n"), "t").unwrap();
        assert!(catalogue.price_for("gpt-4o-mini-2024-07-18", DeploymentType::Global, day("2026-02-01")).is_none());
    }

    #[test]
    fn the_price_in_force_on_the_day_applies_and_history_is_not_repriced() {
        let text = format!("{HEADER}m,global,2026-01-01,USD,1,0.5,2,x,\nm,global,2026-03-15,USD,3,1.5,6,x,\n");
        let catalogue = PriceCatalogue::parse(&text, "t").unwrap();
        let input = |d: &str| catalogue.price_for("m", DeploymentType::Global, day(d)).map(|p| p.input_per_1m);
        assert_eq!(input("2025-12-31"), None);
        assert_eq!(input("2026-03-14"), Some(d("1")));
        assert_eq!(input("2026-03-15"), Some(d("3")));
        assert_eq!(input("2026-03-31"), Some(d("3")));
        assert!(catalogue.price_for("m", DeploymentType::Regional, day("2026-03-31")).is_none());
    }

    #[test]
    fn per_1k_prices_are_converted_to_per_1m() {
        let text = "model,deployment_type,effective_from,currency,input_per_1k,cached_input_per_1k,output_per_1k,source,read_on\n\
                    gpt-4o,global,2026-02-01,usd,0.0025,0.00125,0.01,mine,\n";
        let catalogue = PriceCatalogue::shipped().unwrap().with_overrides(text, "user.csv").unwrap();
        let price = catalogue.price_for("gpt-4o", DeploymentType::Global, day("2026-02-01")).unwrap();
        assert_eq!((price.input_per_1m, price.output_per_1m), (d("2.5"), Some(d("10"))));
        assert_eq!((price.origin.as_str(), price.currency.as_str()), ("user.csv", "USD"));
    }

    #[test]
    fn a_header_without_a_unit_is_rejected() {
        let text = "model,deployment_type,effective_from,currency,input,cached_input,output,source,read_on\n";
        let error = PriceCatalogue::parse(text, "user.csv").unwrap_err().to_string();
        assert!(error.contains("must name their unit"), "{error}");
    }

    #[test]
    fn a_per_1k_figure_under_a_per_1m_header_is_rejected_and_the_reverse() {
        let shipped = PriceCatalogue::shipped().unwrap();
        let per_1k_as_1m = format!("{HEADER}gpt-4o,global,2026-02-01,USD,0.0025,0.00125,0.01,mine,\n");
        let error = shipped.clone().with_overrides(&per_1k_as_1m, "user.csv").unwrap_err().to_string();
        assert!(error.contains("per-1M") && error.contains("per-1K") && error.contains("user.csv"), "{error}");
        let per_1m_as_1k = "model,deployment_type,effective_from,currency,input_per_1k,cached_input_per_1k,output_per_1k,source,read_on\n\
                            gpt-4o,global,2026-02-01,USD,2.5,1.25,10,mine,\n";
        let error = shipped.with_overrides(per_1m_as_1k, "user.csv").unwrap_err().to_string();
        assert!(error.contains("more than 300 times") && error.contains("per-1K"), "{error}");
    }

    #[test]
    fn a_user_row_replaces_the_same_date_and_adds_new_models() {
        let text = format!(
            "{HEADER}gpt-4o,global,2026-01-01,USD,2.0,1.0,8.0,negotiated,\nmy-model,regional,2026-01-01,EUR,1,,,internal,\n"
        );
        let catalogue = PriceCatalogue::shipped().unwrap().with_overrides(&text, "user.csv").unwrap();
        let on = day("2026-06-01");
        assert_eq!(catalogue.price_for("gpt-4o", DeploymentType::Global, on).unwrap().input_per_1m, d("2.0"));
        assert_eq!(catalogue.price_for("my-model", DeploymentType::Regional, on).unwrap().currency.as_str(), "EUR");
        assert_eq!(catalogue.prices().iter().filter(|p| p.model == "gpt-4o").count(), 1);
    }

    #[test]
    fn bad_rows_name_their_line() {
        for (row, expected) in [
            ("gpt-4o,provisioned,2026-01-01,USD,1,1,1,x,", "PTU cost"),
            ("gpt-4o,standard,2026-01-01,USD,1,1,1,x,", "use global"),
            ("gpt-4o,global,2026-13-01,USD,1,1,1,x,", "YYYY-MM-DD"),
            ("gpt-4o,global,2026-01-01,dollars,1,1,1,x,", "3-letter"),
            ("gpt-4o,global,2026-01-01,USD,,1,1,x,", "input price is required"),
            ("gpt-4o,global,2026-01-01,USD,-1,1,1,x,", "negative"),
            ("gpt-4o,global,2026-01-01,USD,1.2.3,1,1,x,", "not a decimal"),
        ] {
            let error = PriceCatalogue::parse(&format!("{HEADER}{row}\n"), "user.csv").unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains("line 2"), "{row}: {error}");
        }
    }
}
