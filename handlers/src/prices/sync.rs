//! The sync: an API answer reconciled with the catalogue's history.
//!
//! [`reconcile`] is pure: from the lines the catalogue has and the prices the
//! API answered it computes the new lines and the report.
//!
//! - Each price is identified ([`meter::identify`]: the mapping file, else the
//!   parser) and normalised to per 1M tokens (per hour for PTUs). What cannot
//!   be identified is listed, never guessed; reservations, tiered meters,
//!   long-context bands and meters the mapping ignores are listed as skipped.
//! - A global price that every region read gives alike becomes one line
//!   without a region; otherwise a line per region.
//! - A price the catalogue already has changes nothing. A new price is a new
//!   line from the API's `effectiveStartDate`; the line in force before is
//!   never edited, so past days keep their price. A price dated on or before
//!   the catalogue's latest line for it is a conflict: listed, nothing changed.
//! - The unit guard refuses a zero or negative price, and one more than 300
//!   times above or below the price it follows (or, for a first price, the
//!   shipped price of the same model): the sign of a per-1K/per-1M mix-up.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::client::{RetailPrice, url_with};
use super::meter::{self, Context, Identified, Meter, MeterMapping, Unit};
use super::report::{Added, Notes, SyncReport};
use crate::billing::synced::SyncedPrice;
use crate::domain::{Currency, DeploymentType, Price};

/// A price this many times above or below the one it follows is a unit mistake.
pub const UNIT_GUARD_RATIO: u32 = 300;

/// What a reconciliation starts from.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// The catalogue's lines.
    pub previous: &'a [SyncedPrice],
    /// The API's answer.
    pub items: &'a [RetailPrice],
    /// The user's meter mapping.
    pub mapping: &'a MeterMapping,
    /// The shipped prices, for the unit guard of a first price.
    pub shipped: &'a [Price],
    /// The user's own prices (`CHARGEBACK_PRICES`), which win over synced lines.
    pub user: &'a [Price],
    /// The API endpoint (for each line's source URL).
    pub endpoint: &'a str,
    /// The currency asked for.
    pub currency: &'a Currency,
    /// Today.
    pub read_on: NaiveDate,
}

impl std::fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs").field("previous", &self.previous.len()).field("items", &self.items.len()).finish()
    }
}

/// The new catalogue and what changed.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// Every line: the previous ones and the new ones.
    pub prices: Vec<SyncedPrice>,
    /// Whether any line is new.
    pub changed: bool,
    /// The report (without `source`, `pages`, `regions` and `written`, which the caller knows).
    pub report: SyncReport,
}

struct Candidate {
    line: SyncedPrice,
    primary: bool,
    meter: Meter,
}

#[derive(Default)]
struct Sorting {
    unparsed: Notes,
    skipped: Notes,
    rejected: Notes,
    conflicts: Notes,
    overridden: Notes,
}

/// Reconciles an answer with the catalogue's lines.
pub fn reconcile(inputs: Inputs<'_>) -> Reconciled {
    let mut notes = Sorting::default();
    let candidates = identify_all(&inputs, &mut notes);
    let candidates = collapse_global(dedupe(candidates, &mut notes), &inputs);

    let mut history: BTreeMap<String, Vec<SyncedPrice>> = BTreeMap::new();
    for line in inputs.previous {
        history.entry(key_text(line)).or_default().push(line.clone());
    }
    for lines in history.values_mut() {
        lines.sort_by_key(|l| l.effective_from);
    }
    let mut mentioned = HashSet::new();
    let (mut added, mut unchanged) = (Vec::new(), 0);
    for Candidate { line, meter, .. } in candidates {
        let key = key_text(&line);
        mentioned.insert(key.clone());
        let note = |notes: &mut Notes, reason: String| {
            notes.add(&line.meter_name, &line.product_name, &line.meter_id, &line.region, &reason);
        };
        let lines = history.entry(key).or_default();
        let latest = lines.last();
        if latest.is_some_and(|l| l.price == line.price)
            || lines.iter().any(|l| l.effective_from == line.effective_from && l.price == line.price)
        {
            unchanged += 1;
            continue;
        }
        if let Some(same_day) = lines.iter().find(|l| l.effective_from == line.effective_from) {
            note(
                &mut notes.conflicts,
                format!(
                    "the API prices {meter} at {} from {}; the catalogue has {} from that day (lines are never edited)",
                    line.price.normalize(),
                    line.effective_from,
                    same_day.price.normalize()
                ),
            );
            continue;
        }
        if let Some(latest) = latest
            && line.effective_from < latest.effective_from
        {
            note(
                &mut notes.conflicts,
                format!(
                    "the API prices {meter} at {} from {}, before the catalogue's latest line ({} from {}); nothing changed",
                    line.price.normalize(),
                    line.effective_from,
                    latest.price.normalize(),
                    latest.effective_from
                ),
            );
            continue;
        }
        let previous = latest.map(|l| l.price);
        let guard = match previous {
            Some(p) => Some((p, "the price it follows")),
            None => reference(inputs.shipped, &line).map(|p| (p, "the shipped price")),
        };
        if let Some((before, what)) = guard
            && let Some(reason) = unit_guard(line.price, before, what)
        {
            note(&mut notes.rejected, format!("{meter}: {reason}"));
            continue;
        }
        if let Some(user) = overriding(inputs.user, &line) {
            note(
                &mut notes.overridden,
                format!(
                    "{meter}: your prices in {} ({} from {}) price it too; on each day the latest in force wins, yours at the same date",
                    user.origin,
                    user.price.normalize(),
                    user.effective_from
                ),
            );
        }
        added.push(Added {
            what: meter.to_string(),
            region: line.region.clone(),
            effective_from: line.effective_from,
            price: line.price,
            per: if line.kind.is_tokens() { "per 1M tokens" } else { "per PTU-hour" },
            previous,
            meter_id: line.meter_id.clone(),
            meter_name: line.meter_name.clone(),
        });
        lines.push(line);
    }
    let kept = history.iter().filter(|(k, lines)| !mentioned.contains(*k) && !lines.is_empty()).count();
    let mut prices: Vec<SyncedPrice> = history.into_values().flatten().collect();
    prices.sort_by(|a, b| (a.key(), a.effective_from).cmp(&(b.key(), b.effective_from)));
    let report = SyncReport {
        source: String::new(),
        currency: inputs.currency.to_string(),
        regions: Vec::new(),
        read_on: inputs.read_on,
        pages: 0,
        items: inputs.items.len(),
        added,
        unchanged,
        kept,
        unparsed: notes.unparsed.into_list(),
        skipped: notes.skipped.into_list(),
        rejected: notes.rejected.into_list(),
        conflicts: notes.conflicts.into_list(),
        overridden: notes.overridden.into_list(),
        written: None,
    };
    Reconciled { changed: !report.added.is_empty(), prices, report }
}

/// The shipped per-1M price a first synced price is checked against: the
/// latest of the same model, type and kind in the same currency.
fn reference(shipped: &[Price], line: &SyncedPrice) -> Option<Decimal> {
    shipped
        .iter()
        .filter(|p| {
            p.model.eq_ignore_ascii_case(&line.model)
                && p.deployment_type == line.deployment_type
                && p.kind == line.kind
                && p.currency == line.currency
        })
        .max_by_key(|p| p.effective_from)
        .map(|p| p.price)
}

/// The user's latest price of the same model, type, tier and kind, if any.
fn overriding<'a>(user: &'a [Price], line: &SyncedPrice) -> Option<&'a Price> {
    user.iter()
        .filter(|p| {
            p.model.eq_ignore_ascii_case(&line.model)
                && p.deployment_type == line.deployment_type
                && p.tier == line.tier
                && p.kind == line.kind
        })
        .max_by_key(|p| p.effective_from)
}

fn key_text(line: &SyncedPrice) -> String {
    let (model, version, scope, region, tier, kind) = line.key();
    format!(
        "{model}\u{1f}{version}\u{1f}{}\u{1f}{region}\u{1f}{}\u{1f}{}",
        scope.as_str(),
        tier.as_str(),
        kind.as_str()
    )
}

/// Why the unit guard refuses `price` after `before`, if it does.
pub fn unit_guard(price: Decimal, before: Decimal, what: &str) -> Option<String> {
    let ratio = Decimal::from(UNIT_GUARD_RATIO);
    if price <= Decimal::ZERO {
        return Some(format!("price {price} is not above zero"));
    }
    if before <= Decimal::ZERO {
        return None;
    }
    if price > before * ratio {
        Some(format!(
            "{} is more than {UNIT_GUARD_RATIO} times {what} ({}): a per-1K price read as per-1M?",
            price.normalize(),
            before.normalize()
        ))
    } else if price * ratio < before {
        Some(format!(
            "{} is less than 1/{UNIT_GUARD_RATIO} of {what} ({}): a per-1M price read as per-1K?",
            price.normalize(),
            before.normalize()
        ))
    } else {
        None
    }
}

/// Every item identified and normalised, or noted with the reason it is not used.
fn identify_all(inputs: &Inputs<'_>, notes: &mut Sorting) -> Vec<Candidate> {
    let tiered: HashSet<&str> =
        inputs.items.iter().filter(|i| i.tier_minimum_units > Decimal::ZERO).map(|i| i.meter_id.as_str()).collect();
    let mut out = Vec::new();
    for item in inputs.items {
        let region = item.arm_region_name.trim().to_ascii_lowercase();
        let note = |notes: &mut Notes, reason: &str| {
            notes.add(&item.meter_name, &item.product_name, &item.meter_id, &region, reason);
        };
        if item.price_type != "Consumption" {
            note(&mut notes.skipped, &format!("price type {} (only Consumption prices are per use)", item.price_type));
            continue;
        }
        if tiered.contains(item.meter_id.as_str()) {
            note(&mut notes.skipped, "a tiered meter (its price depends on volume): not supported");
            continue;
        }
        let meter =
            match meter::identify(inputs.mapping, &item.meter_id, &item.meter_name, &item.sku_name, &item.product_name)
            {
                Identified::Meter(m) => m,
                Identified::Ignored => {
                    note(&mut notes.skipped, "the meter mapping file says to ignore it");
                    continue;
                }
                Identified::Unparsed(u) => {
                    note(&mut notes.unparsed, &u.reason);
                    continue;
                }
            };
        let unit = match Unit::parse(&item.unit_of_measure) {
            Ok(u) if u.is_tokens() == meter.kind.is_tokens() => u,
            Ok(_) => {
                let reason =
                    format!("{meter} is quoted per {:?}, which does not count what it prices", item.unit_of_measure);
                note(&mut notes.unparsed, &reason);
                continue;
            }
            Err(e) => {
                note(&mut notes.unparsed, &e.to_string());
                continue;
            }
        };
        if meter.context == Context::Long {
            note(
                &mut notes.skipped,
                "a long-context price: the ledger does not record which requests crossed the threshold",
            );
            continue;
        }
        let price = unit.normalise(item.retail_price).normalize();
        if price <= Decimal::ZERO {
            note(&mut notes.rejected, &format!("{meter}: price {} is not above zero", item.retail_price));
            continue;
        }
        let source = url_with(
            inputs.endpoint,
            inputs.currency.as_str(),
            &format!("meterId eq '{}' and armRegionName eq '{region}'", item.meter_id),
        );
        out.push(Candidate {
            primary: item.is_primary_meter_region,
            line: SyncedPrice {
                model: meter.model.clone().unwrap_or_default(),
                version: meter.version.clone().unwrap_or_default(),
                deployment_type: meter.scope.into(),
                region,
                tier: meter.tier,
                kind: meter.kind,
                effective_from: item.effective_from(),
                currency: inputs.currency.clone(),
                price,
                unit_of_measure: item.unit_of_measure.clone(),
                retail_price: item.retail_price,
                meter_id: item.meter_id.clone(),
                meter_name: item.meter_name.clone(),
                product_name: item.product_name.clone(),
                read_on: inputs.read_on,
                source,
            },
            meter,
        });
    }
    out
}

/// One candidate per key and date: meters that agree are one price; meters
/// that disagree are a conflict and none of them is used.
fn dedupe(candidates: Vec<Candidate>, notes: &mut Sorting) -> Vec<Candidate> {
    let mut groups: BTreeMap<(String, NaiveDate), Vec<Candidate>> = BTreeMap::new();
    for c in candidates {
        groups.entry((key_text(&c.line), c.line.effective_from)).or_default().push(c);
    }
    let mut out = Vec::new();
    for (_, mut group) in groups {
        if group.iter().any(|c| c.line.price != group[0].line.price) {
            let prices: Vec<String> =
                group.iter().map(|c| format!("{} ({})", c.line.price.normalize(), c.line.meter_id)).collect();
            for c in &group {
                notes.conflicts.add(
                    &c.line.meter_name,
                    &c.line.product_name,
                    &c.line.meter_id,
                    &c.line.region,
                    &format!("meters that read as the same price disagree: {}", prices.join(", ")),
                );
            }
            continue;
        }
        group.sort_by(|a, b| (!a.primary, &a.line.meter_id).cmp(&(!b.primary, &b.line.meter_id)));
        out.extend(group.into_iter().next());
    }
    out
}

/// Global prices that every region read gives alike become one line without
/// a region (a global deployment is not tied to one); others stay per region.
fn collapse_global(candidates: Vec<Candidate>, inputs: &Inputs<'_>) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut global: BTreeMap<(String, NaiveDate), Vec<Candidate>> = BTreeMap::new();
    for c in candidates {
        if c.line.deployment_type == DeploymentType::Global {
            let mut regionless = c.line.clone();
            regionless.region.clear();
            global.entry((key_text(&regionless), c.line.effective_from)).or_default().push(c);
        } else {
            out.push(c);
        }
    }
    for (_, mut group) in global {
        if group.iter().all(|c| c.line.price == group[0].line.price) {
            group.sort_by(|a, b| (!a.primary, &a.line.region).cmp(&(!b.primary, &b.line.region)));
            let mut first = group.swap_remove(0);
            first.line.region.clear();
            first.line.source =
                url_with(inputs.endpoint, inputs.currency.as_str(), &format!("meterId eq '{}'", first.line.meter_id));
            out.push(first);
        } else {
            out.extend(group);
        }
    }
    out
}

#[cfg(test)]
mod tests;
