//! The sync report: what a price sync read, what it added to the catalogue,
//! and every meter it did not use, with the reason.
//!
//! The CLI prints it ([`SyncReport::to_text`]); the timer function returns it
//! as JSON and stores it beside the catalogue (`prices/<tenant>/last-sync.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// A line the sync added to the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Added {
    /// What it prices, as a sentence (`gpt-4o (1120) global input`).
    pub what: String,
    /// Region (empty: every region read).
    pub region: String,
    /// First day it applies.
    pub effective_from: NaiveDate,
    /// Per 1M tokens, or per PTU-hour.
    pub price: Decimal,
    /// `per 1M tokens` or `per PTU-hour`.
    pub per: &'static str,
    /// The price in force before, if the catalogue had one.
    pub previous: Option<Decimal>,
    /// The meter.
    pub meter_id: String,
    /// The meter's name.
    pub meter_name: String,
}

/// Meters left out for one reason: their names, ids and regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterNote {
    /// The meter's name.
    pub meter_name: String,
    /// Its product.
    pub product_name: String,
    /// Its ids (one per region, usually).
    pub meter_ids: Vec<String>,
    /// The regions it was read in.
    pub regions: Vec<String>,
    /// Why it was left out.
    pub reason: String,
}

/// (meter name, product, reason) → (meter ids, regions).
type Grouped = BTreeMap<(String, String, String), (Vec<String>, Vec<String>)>;

/// Notes grouped by meter name, product and reason.
#[derive(Debug, Clone, Default)]
pub struct Notes(Grouped);

impl Notes {
    /// Adds a meter.
    pub fn add(&mut self, meter_name: &str, product_name: &str, meter_id: &str, region: &str, reason: &str) {
        let (ids, regions) =
            self.0.entry((meter_name.to_owned(), product_name.to_owned(), reason.to_owned())).or_default();
        for (list, value) in [(ids, meter_id), (regions, region)] {
            if !value.is_empty() && !list.iter().any(|v| v == value) {
                list.push(value.to_owned());
            }
        }
    }

    /// The notes, by meter name.
    pub fn into_list(self) -> Vec<MeterNote> {
        self.0
            .into_iter()
            .map(|((meter_name, product_name, reason), (mut meter_ids, mut regions))| {
                meter_ids.sort();
                regions.sort();
                MeterNote { meter_name, product_name, meter_ids, regions, reason }
            })
            .collect()
    }
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The first page read.
    pub source: String,
    /// Currency asked for.
    pub currency: String,
    /// Regions read (empty: every region).
    pub regions: Vec<String>,
    /// The day of the sync.
    pub read_on: NaiveDate,
    /// Pages read.
    pub pages: usize,
    /// Prices read.
    pub items: usize,
    /// Lines added to the catalogue.
    pub added: Vec<Added>,
    /// Prices the catalogue already had.
    pub unchanged: usize,
    /// Catalogue lines the answer did not mention (kept: history is never dropped).
    pub kept: usize,
    /// Meters the parser could not read and the mapping file does not name.
    pub unparsed: Vec<MeterNote>,
    /// Meters read but not kept (other price types, tiered, long context, ignored by the mapping).
    pub skipped: Vec<MeterNote>,
    /// Prices the unit guard refused (zero, negative, or about 1000× the price they follow).
    pub rejected: Vec<MeterNote>,
    /// Prices that disagree with the catalogue's history or with each other; nothing was changed for them.
    pub conflicts: Vec<MeterNote>,
    /// Synced lines your own prices file overrides (its rows win).
    pub overridden: Vec<MeterNote>,
    /// Where the catalogue was written; `None` when nothing was new (the catalogue is untouched).
    pub written: Option<String>,
}

impl SyncReport {
    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let regions = if self.regions.is_empty() { "every region".to_owned() } else { self.regions.join(", ") };
        let _ =
            writeln!(out, "Read {} prices on {} page(s) ({}; {regions}) from", self.items, self.pages, self.currency);
        let _ = writeln!(out, "  {}", self.source);
        let _ = writeln!(
            out,
            "Catalogue: {} new line(s), {} unchanged, {} kept from earlier syncs; {}",
            self.added.len(),
            self.unchanged,
            self.kept,
            match &self.written {
                Some(to) => format!("written to {to}"),
                None => "nothing new, the catalogue is untouched".to_owned(),
            }
        );
        if !self.added.is_empty() {
            let _ = writeln!(out, "\nNew lines:");
            for a in &self.added {
                let region = if a.region.is_empty() { String::new() } else { format!(" in {}", a.region) };
                let was = a.previous.map(|p| format!(" (was {})", p.normalize())).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {}{region}: {} {} from {}{was}  [{} {:?}]",
                    a.what,
                    a.price.normalize(),
                    a.per,
                    a.effective_from,
                    a.meter_id,
                    a.meter_name
                );
            }
        }
        for (title, notes) in [
            ("Unparsed meters (never guessed; name them in the meter mapping file to use them)", &self.unparsed),
            ("Rejected by the unit guard", &self.rejected),
            ("Conflicts (nothing changed for them)", &self.conflicts),
            ("Overridden by your own prices file", &self.overridden),
            ("Skipped", &self.skipped),
        ] {
            if notes.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{title}: {}", notes.len());
            for n in notes {
                let _ = writeln!(
                    out,
                    "  {:?} ({}) ids {} in {}: {}",
                    n.meter_name,
                    n.product_name,
                    n.meter_ids.join(" "),
                    if n.regions.is_empty() { "-".to_owned() } else { n.regions.join(" ") },
                    n.reason
                );
            }
        }
        out
    }
}
