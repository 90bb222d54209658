//! The price catalogue: one price per token kind (and per PTU-hour) by
//! model, version, deployment type, region, service tier and effective date,
//! from three layers.
//!
//! - **Shipped**: `prices/azure-openai.csv`, compiled in.
//! - **Synced**: the Retail Prices API's prices as the price sync keeps them
//!   ([`synced`]; the tenant's document in the report store, handed over by a
//!   [`SyncedPrices`] source).
//! - **User**: `CHARGEBACK_PRICES`, in either format.
//!
//! A file is either the people's format ([`wide`]: a row per model, type and
//! date with a column per kind) or the synced one (a line per meter). Prices
//! are per 1M tokens (`*_per_1m`) or per 1K tokens (`*_per_1k`, converted
//! ×1000); a header that does not name the unit is rejected, and so is a user
//! price more than 300 times above or below the shipped (or synced) price of
//! the same model, type and kind, the sign of a per-1K figure in a per-1M
//! column or the reverse. How the layers merge and which price applies is in
//! [`lookup`].

mod lookup;
pub mod synced;
mod wide;

pub use lookup::{Lookup, Unpriced};

use std::cmp::Reverse;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;

use crate::domain::{Price, PriceLayer, Tenant};

/// The catalogue shipped with the app.
const SHIPPED: &str = include_str!("../../../../prices/azure-openai.csv");
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
    /// A synced catalogue's line is wrong.
    #[error(transparent)]
    Synced(#[from] synced::SyncedError),
    /// The synced catalogue could not be read from where it is kept.
    #[error("reading the synced prices failed")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where a tenant's synced prices are kept (the price sync's catalogue).
#[async_trait]
pub trait SyncedPrices: Send + Sync + fmt::Debug {
    /// The tenant's synced catalogue text and where it is, or `None` before a first sync.
    async fn synced_text(&self, tenant: &Tenant) -> Result<Option<(String, String)>, PriceError>;
}

/// Where the prices come from: the shipped catalogue, the tenant's synced
/// prices when a source is given, and the user's file (`CHARGEBACK_PRICES`)
/// when configured — read each time a month is priced, so a new sync or a
/// corrected file applies to the next rollup.
#[derive(Debug, Clone, Default)]
pub struct PriceSource {
    user_file: Option<PathBuf>,
    synced: Option<Arc<dyn SyncedPrices>>,
}

impl PriceSource {
    /// The shipped catalogue, with `user_file`'s rows when given.
    pub fn new(user_file: Option<PathBuf>) -> Self {
        Self { user_file, synced: None }
    }

    /// With the tenant's synced prices from `source`.
    pub fn with_synced(mut self, source: Arc<dyn SyncedPrices>) -> Self {
        self.synced = Some(source);
        self
    }

    /// The user's file, if configured.
    pub fn user_file(&self) -> Option<&Path> {
        self.user_file.as_deref()
    }

    /// The catalogue of `tenant` as the files and the synced prices are now.
    pub async fn catalogue(&self, tenant: &Tenant) -> Result<PriceCatalogue, PriceError> {
        let synced = match &self.synced {
            Some(source) => match source.synced_text(tenant).await? {
                Some((text, origin)) => read_prices(&text, &origin, PriceLayer::Synced)?,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let (mut more_synced, user) = match &self.user_file {
            Some(path) => read_user_file(path)?,
            None => (Vec::new(), Vec::new()),
        };
        let mut synced = synced;
        synced.append(&mut more_synced);
        PriceCatalogue::from_layers(PriceCatalogue::shipped()?.prices, synced, user)
    }

    /// The rows the user wrote (none without a file, or when the file is a synced catalogue).
    pub fn user_prices(&self) -> Result<Vec<Price>, PriceError> {
        self.user_file.as_deref().map_or(Ok(Vec::new()), |path| Ok(read_user_file(path)?.1))
    }
}

/// The user's file: a synced catalogue (`chargeback prices sync --out`) is
/// read as synced prices, anything else as the user's own rows.
fn read_user_file(path: &Path) -> Result<(Vec<Price>, Vec<Price>), PriceError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PriceError::Io { origin: origin.clone(), source })?;
    split_layers(&text, &origin)
}

/// (synced, user) prices of a user-given text.
fn split_layers(text: &str, origin: &str) -> Result<(Vec<Price>, Vec<Price>), PriceError> {
    if synced::is_synced(text) {
        Ok((read_prices(text, origin, PriceLayer::Synced)?, Vec::new()))
    } else {
        Ok((Vec::new(), read_prices(text, origin, PriceLayer::User)?))
    }
}

/// The prices of a file in either format (the synced one by its header).
pub fn read_prices(text: &str, origin: &str, layer: PriceLayer) -> Result<Vec<Price>, PriceError> {
    if synced::is_synced(text) {
        Ok(synced::parse(text, origin)?.iter().map(|line| line.to_price(origin, layer)).collect())
    } else {
        wide::parse(text, origin, layer)
    }
}

/// Every price of the shipped, synced and user layers, merged.
#[derive(Debug, Clone, Default)]
pub struct PriceCatalogue {
    prices: Vec<Price>,
}

impl PriceCatalogue {
    /// The shipped catalogue, overridden and extended by `user_file` when given.
    pub fn load(user_file: Option<&Path>) -> Result<Self, PriceError> {
        let (synced, user) = match user_file {
            Some(path) => read_user_file(path)?,
            None => (Vec::new(), Vec::new()),
        };
        Self::from_layers(Self::shipped()?.prices, synced, user)
    }

    /// The catalogue shipped in `prices/azure-openai.csv`.
    pub fn shipped() -> Result<Self, PriceError> {
        Self::parse(SHIPPED, SHIPPED_ORIGIN)
    }

    /// A catalogue of one file's prices (as the shipped layer); `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PriceError> {
        let prices = read_prices(text, origin, PriceLayer::Shipped)?;
        let mut keys: Vec<_> = prices.iter().map(|p| (p.key(), p.effective_from)).collect();
        keys.sort();
        if let Some(pair) = keys.windows(2).find(|w| w[0] == w[1]) {
            let ((model, _, deployment_type, _, _, kind), from) = &pair[0];
            return Err(PriceError::Header {
                origin: origin.to_owned(),
                message: format!("{model} {deployment_type} {} from {from} is priced twice", kind.words()),
            });
        }
        let prices = lookup::merge(prices, Vec::new(), Vec::new());
        Ok(Self { prices })
    }

    /// The layers merged; user prices pass the unit guard first.
    pub fn from_layers(shipped: Vec<Price>, synced: Vec<Price>, user: Vec<Price>) -> Result<Self, PriceError> {
        let base = lookup::merge(shipped, synced, Vec::new());
        for price in &user {
            check_units(&base, price)?;
        }
        Ok(Self { prices: lookup::merge(base, Vec::new(), user) })
    }

    /// This catalogue with a user file's text: its rows (a row with the same
    /// key and date replaces ours, others are added; a price ~1000× off ours is
    /// refused), or, when it is a synced catalogue, its prices as synced ones.
    pub fn with_overrides(self, text: &str, origin: &str) -> Result<Self, PriceError> {
        let (synced, user) = split_layers(text, origin)?;
        Self::from_layers(self.prices, synced, user)
    }

    /// Every price, by model, type, region, tier, kind and date.
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    /// The price in force for one kind of a usage, or why there is none.
    pub fn lookup(&self, q: &Lookup<'_>) -> Result<&Price, Unpriced> {
        lookup::lookup(&self.prices, q)
    }
}

/// Refuses a user price about 1000× off the price of the same model, type
/// and kind it would replace or follow.
fn check_units(base: &[Price], user: &Price) -> Result<(), PriceError> {
    let Some(ours) = base
        .iter()
        .filter(|p| {
            p.model.eq_ignore_ascii_case(&user.model)
                && p.deployment_type == user.deployment_type
                && p.kind == user.kind
                && p.currency == user.currency
        })
        .min_by_key(|p| (p.effective_from > user.effective_from, Reverse(p.effective_from)))
    else {
        return Ok(());
    };
    let (theirs, shipped) = (user.price, ours.price);
    if theirs.is_zero() || shipped.is_zero() {
        return Ok(());
    }
    let ratio = Decimal::from(UNIT_GUARD_RATIO);
    let hint = if theirs > shipped * ratio {
        "more than 300 times the shipped price: is it a per-1K price in a per-1M column? Use the header *_per_1k for per-1K prices"
    } else if theirs * ratio < shipped {
        "less than 1/300 of the shipped price: is it a per-1M price in a per-1K column, or a per-token price? Prices are per 1M tokens under *_per_1m, per 1K tokens under *_per_1k"
    } else {
        return Ok(());
    };
    Err(PriceError::Unit {
        origin: user.origin.clone(),
        message: format!(
            "{} {} {} price {} per 1M is {hint} (shipped: {} per 1M)",
            user.model,
            user.deployment_type,
            user.kind.words(),
            theirs,
            shipped
        ),
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::{DeploymentType, ServiceTier, TokenKind};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ask<'a>(model: &'a str, deployment_type: DeploymentType, kind: TokenKind, on: &str) -> Lookup<'a> {
        Lookup { model, deployment_type, region: None, tier: ServiceTier::Default, kind, day: day(on) }
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
        assert!(catalogue.prices().iter().all(|p| p.layer == PriceLayer::Shipped));
    }

    #[test]
    fn a_dated_model_matches_its_family_but_never_a_longer_sibling() {
        let catalogue = PriceCatalogue::shipped().unwrap();
        let price = |m| {
            catalogue
                .lookup(&ask(m, DeploymentType::Global, TokenKind::Input, "2026-11-01"))
                .ok()
                .map(|p| p.model.as_str())
        };
        assert_eq!(price("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(price("GPT-4o"), Some("gpt-4o"));
        assert_eq!(price("gpt-4o-mini-2024-07-18"), Some("gpt-4o-mini"));
        assert_eq!(price("gpt-4.1-nano-2025-04-14"), Some("gpt-4.1-nano"));
        assert_eq!(price("gpt-4o-realtime-preview"), None);
        assert_eq!(price("gpt-4"), None);
        assert_eq!(price(""), None);
        assert!(!lookup::model_matches("gpt-4o", "gpt-4o-mini"));
    }

    #[test]
    fn a_model_without_the_sibling_in_the_catalogue_is_still_not_matched() {
        let catalogue =
            PriceCatalogue::parse(&format!("{HEADER}gpt-4o,global,2026-01-01,USD,2.5,1.25,10,x,\n"), "t").unwrap();
        let q = ask("gpt-4o-mini-2024-07-18", DeploymentType::Global, TokenKind::Input, "2026-02-01");
        assert!(catalogue.lookup(&q).is_err());
    }

    #[test]
    fn the_price_in_force_on_the_day_applies_and_history_is_not_repriced() {
        let text = format!("{HEADER}m,global,2026-01-01,USD,1,0.5,2,x,\nm,global,2026-03-15,USD,3,1.5,6,x,\n");
        let catalogue = PriceCatalogue::parse(&text, "t").unwrap();
        let input =
            |on: &str| catalogue.lookup(&ask("m", DeploymentType::Global, TokenKind::Input, on)).ok().map(|p| p.price);
        assert_eq!(input("2025-12-31"), None);
        assert_eq!(input("2026-03-14"), Some(d("1")));
        assert_eq!(input("2026-03-15"), Some(d("3")));
        assert_eq!(input("2026-03-31"), Some(d("3")));
        assert!(catalogue.lookup(&ask("m", DeploymentType::Regional, TokenKind::Input, "2026-03-31")).is_err());
    }

    #[test]
    fn per_1k_prices_are_converted_to_per_1m() {
        let text = "model,deployment_type,effective_from,currency,input_per_1k,cached_input_per_1k,output_per_1k,source,read_on\n\
                    gpt-4o,global,2026-02-01,usd,0.0025,0.00125,0.01,mine,\n";
        let catalogue = PriceCatalogue::shipped().unwrap().with_overrides(text, "user.csv").unwrap();
        let at = |kind| catalogue.lookup(&ask("gpt-4o", DeploymentType::Global, kind, "2026-02-01")).unwrap();
        assert_eq!((at(TokenKind::Input).price, at(TokenKind::Output).price), (d("2.5"), d("10")));
        let input = at(TokenKind::Input);
        assert_eq!(
            (input.origin.as_str(), input.currency.as_str(), input.layer),
            ("user.csv", "USD", PriceLayer::User)
        );
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
        let on = "2026-06-01";
        let input = catalogue.lookup(&ask("gpt-4o", DeploymentType::Global, TokenKind::Input, on)).unwrap();
        assert_eq!(input.price, d("2.0"));
        let mine = catalogue.lookup(&ask("my-model", DeploymentType::Regional, TokenKind::Input, on)).unwrap();
        assert_eq!(mine.currency.as_str(), "EUR");
        assert_eq!(catalogue.prices().iter().filter(|p| p.model == "gpt-4o" && p.kind == TokenKind::Input).count(), 1);
        let cached = catalogue.lookup(&ask("my-model", DeploymentType::Regional, TokenKind::CachedInput, on));
        assert!(cached.unwrap_err().to_string().contains("no cached input price for my-model regional"));
    }

    #[test]
    fn tiers_regions_versions_and_more_kinds_have_their_own_columns() {
        let text = "model,version,deployment_type,region,service_tier,effective_from,currency,input_per_1m,cached_input_per_1m,\
                    output_per_1m,cache_write_per_1m,audio_input_per_1m,audio_output_per_1m,source,read_on\n\
                    gpt-x,0718,data-zone,SwedenCentral,batch,2026-01-01,USD,1,0.1,4,1.25,40,80,mine,\n";
        let catalogue = PriceCatalogue::parse(text, "mine.csv").unwrap();
        assert_eq!(catalogue.prices().len(), 6);
        let q = Lookup {
            region: Some("swedencentral"),
            tier: ServiceTier::Batch,
            ..ask("gpt-x-2024-07-18", DeploymentType::DataZone, TokenKind::CacheWrite, "2026-02-01")
        };
        assert_eq!(catalogue.lookup(&q).unwrap().price, d("1.25"));
        assert!(catalogue.lookup(&Lookup { tier: ServiceTier::Default, ..q }).is_err(), "never the default tier");
        let bad = text.replace("batch", "fast");
        assert!(PriceCatalogue::parse(&bad, "mine.csv").unwrap_err().to_string().contains("service_tier"));
    }

    #[test]
    fn a_synced_catalogue_is_read_as_prices_of_its_layer() {
        let line = synced::SyncedPrice {
            model: "gpt-4.1".into(),
            version: String::new(),
            deployment_type: DeploymentType::Global,
            region: String::new(),
            tier: ServiceTier::Default,
            kind: TokenKind::Input,
            effective_from: day("2025-04-14"),
            currency: crate::domain::Currency::USD,
            price: d("2"),
            unit_of_measure: "1K".into(),
            retail_price: d("0.002"),
            meter_id: "m-1".into(),
            meter_name: "gpt 4.1 Inp glbl Tokens".into(),
            product_name: "Azure OpenAI".into(),
            read_on: day("2026-11-01"),
            source: "https://prices.azure.com/api/retail/prices?x".into(),
        };
        let text = synced::render(&[line]);
        let prices = read_prices(&text, "prices.csv", PriceLayer::User).unwrap();
        assert_eq!((prices[0].price, prices[0].meter_id.as_str(), prices[0].layer), (d("2"), "m-1", PriceLayer::User));
        // Given as the user's file, a synced catalogue is synced prices: they
        // replace the shipped rows of their model (the shipped gpt-4.1 row of
        // 2026-01-01 would otherwise win on later days).
        let catalogue = PriceCatalogue::shipped().unwrap().with_overrides(&text, "prices.csv").unwrap();
        let q = ask("gpt-4.1-2025-04-14", DeploymentType::Global, TokenKind::Input, "2026-01-05");
        let price = catalogue.lookup(&q).unwrap();
        assert_eq!((price.layer, price.price, price.origin.as_str()), (PriceLayer::Synced, d("2"), "prices.csv"));
        assert!(catalogue.lookup(&ask("gpt-4.1", DeploymentType::Global, TokenKind::Output, "2026-01-05")).is_err());
        assert!(catalogue.lookup(&ask("gpt-4o", DeploymentType::Global, TokenKind::Output, "2026-01-05")).is_ok());
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
