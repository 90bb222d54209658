//! The price in force for one kind of a usage, and how the layers merge.
//!
//! - The synced prices replace the shipped ones of every model and deployment
//!   type they price; a user price replaces any price with the same key (model,
//!   version, type, region, tier, kind and date) and adds the others ([`merge`]).
//! - Each token kind is priced on its own ([`lookup`]): of the prices of the
//!   model's catalogue name (the longest that is the model or is followed in it
//!   by `-` and a version), for that type, tier and kind, in the deployment's
//!   region or in any region, for the record's version or any version, the
//!   latest in force on the day wins (then the higher layer, then the more
//!   specific). A tier, kind, version or region without a price is
//!   **unpriced** with the reason — never zero, and never the default tier's.

use chrono::NaiveDate;

use crate::domain::{DeploymentType, Price, ServiceTier, TokenKind};

/// What is priced: one token kind of a usage.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// Model as the records name it (`gpt-4o-mini-2024-07-18`); ignored for PTU hours.
    pub model: &'a str,
    /// Deployment type (for PTU-hours: where the PTUs are deployed).
    pub deployment_type: DeploymentType,
    /// The deployment's region, if known.
    pub region: Option<&'a str>,
    /// Service tier.
    pub tier: ServiceTier,
    /// Token kind.
    pub kind: TokenKind,
    /// The usage's day.
    pub day: NaiveDate,
}

/// Why a usage has no price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unpriced {
    /// No catalogue model is the record's model.
    #[error("no {scope} price for {model}")]
    Model {
        /// The record's model.
        model: String,
        /// Deployment type.
        scope: &'static str,
    },
    /// The model has no price for this kind, type and tier on that day.
    #[error("no {what} price for {model} {scope}{tier} on {day}")]
    Kind {
        /// Catalogue model.
        model: String,
        /// Token kind in words.
        what: &'static str,
        /// Deployment type.
        scope: &'static str,
        /// ` (priority tier)` or empty.
        tier: String,
        /// The day.
        day: NaiveDate,
    },
    /// The prices differ by version and none is for the record's.
    #[error("{model} is priced by version ({versions}) and there is none for {record:?}")]
    Version {
        /// Catalogue model.
        model: String,
        /// The versions priced.
        versions: String,
        /// The record's model.
        record: String,
    },
    /// The prices differ by region and the deployment names none (or another).
    #[error("{model} {scope} is priced by region ({regions}); {wanted}")]
    Region {
        /// Catalogue model.
        model: String,
        /// Deployment type.
        scope: &'static str,
        /// The regions priced.
        regions: String,
        /// What is missing.
        wanted: String,
    },
}

/// The layers merged (see the module documentation), sorted.
pub fn merge(shipped: Vec<Price>, synced: Vec<Price>, user: Vec<Price>) -> Vec<Price> {
    let synced_models: std::collections::HashSet<(String, DeploymentType)> = synced
        .iter()
        .filter(|p| p.kind.is_tokens())
        .map(|p| (p.model.to_ascii_lowercase(), p.deployment_type))
        .collect();
    let mut prices: Vec<Price> = shipped
        .into_iter()
        .filter(|p| !synced_models.contains(&(p.model.to_ascii_lowercase(), p.deployment_type)))
        .chain(synced)
        .collect();
    for u in user {
        prices.retain(|p| (p.key(), p.effective_from) != (u.key(), u.effective_from));
        prices.push(u);
    }
    prices.sort_by(|a, b| (a.key(), a.effective_from, a.layer).cmp(&(b.key(), b.effective_from, b.layer)));
    prices
}

/// The price in force for one kind of a usage (see the module documentation).
pub fn lookup<'a>(prices: &'a [Price], q: &Lookup<'_>) -> Result<&'a Price, Unpriced> {
    let scope = q.deployment_type.as_str();
    let (family, version) = if q.kind == TokenKind::ProvisionedUnit {
        (String::new(), None)
    } else {
        let family = prices
            .iter()
            .filter(|p| p.kind.is_tokens() && model_matches(&p.model, q.model))
            .map(|p| p.model.to_ascii_lowercase())
            .max_by_key(String::len)
            .ok_or_else(|| Unpriced::Model { model: q.model.to_owned(), scope })?;
        let version = record_version(q.model, &family);
        (family, version)
    };
    let tier = if q.tier == ServiceTier::Default { String::new() } else { format!(" ({} tier)", q.tier.as_str()) };
    let no_price =
        || Unpriced::Kind { model: family.clone(), what: q.kind.words(), scope, tier: tier.clone(), day: q.day };
    let in_force: Vec<&Price> = prices
        .iter()
        .filter(|p| {
            p.model.eq_ignore_ascii_case(&family)
                && p.deployment_type == q.deployment_type
                && p.tier == q.tier
                && p.kind == q.kind
                && p.effective_from <= q.day
        })
        .collect();
    if in_force.is_empty() {
        return Err(no_price());
    }
    let by_version: Vec<&Price> = in_force
        .iter()
        .copied()
        .filter(|p| p.version.is_empty() || version.as_ref().is_some_and(|v| version_matches(&p.version, v)))
        .collect();
    if by_version.is_empty() {
        let mut versions: Vec<&str> = in_force.iter().map(|p| p.version.as_str()).collect();
        versions.sort();
        versions.dedup();
        return Err(Unpriced::Version {
            model: family.clone(),
            versions: versions.join(", "),
            record: q.model.to_owned(),
        });
    }
    let by_region: Vec<&Price> = by_version
        .iter()
        .copied()
        .filter(|p| p.region.is_empty() || q.region.is_some_and(|r| p.region.eq_ignore_ascii_case(r)))
        .collect();
    if by_region.is_empty() {
        let mut regions: Vec<&str> = by_version.iter().map(|p| p.region.as_str()).collect();
        regions.sort();
        regions.dedup();
        let wanted = match q.region {
            None => "name the deployment's region in the deployment file".to_owned(),
            Some(r) => format!("none for {r}"),
        };
        return Err(Unpriced::Region { model: family.clone(), scope, regions: regions.join(", "), wanted });
    }
    by_region
        .into_iter()
        .max_by_key(|p| (p.effective_from, p.layer, !p.version.is_empty(), !p.region.is_empty()))
        .ok_or_else(no_price)
}

/// Whether catalogue model `catalogue` prices a record's `model`: equal
/// (ignoring case), or followed in it by `-` and a version or date starting
/// with a digit. `gpt-4o` prices `gpt-4o-2024-08-06`, never `gpt-4o-mini`.
pub fn model_matches(catalogue: &str, model: &str) -> bool {
    if catalogue.is_empty() {
        return false;
    }
    let (catalogue, model) = (catalogue.to_ascii_lowercase(), model.trim().to_ascii_lowercase());
    match model.strip_prefix(&catalogue) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
        None => false,
    }
}

/// The version part of a record's model after its catalogue name.
fn record_version(model: &str, family: &str) -> Option<String> {
    let model = model.trim().to_ascii_lowercase();
    let rest = model.strip_prefix(family)?.strip_prefix('-')?;
    (!rest.is_empty()).then(|| rest.to_owned())
}

/// Whether a catalogue version (`0718`, `08062026`, `2024-07-18`) is the
/// record's (`2024-07-18`, `0718`).
fn version_matches(catalogue: &str, record: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (c, r) = (digits(catalogue), digits(record));
    if c.is_empty() || r.is_empty() {
        return false;
    }
    // A dated record (YYYYMMDD) against MMDD or MMDDYYYY.
    let record_forms: Vec<String> = if r.len() == 8 && record.contains('-') {
        vec![r.clone(), r[4..].to_owned(), format!("{}{}", &r[4..], &r[..4])]
    } else {
        vec![r.clone()]
    };
    record_forms.contains(&c)
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
