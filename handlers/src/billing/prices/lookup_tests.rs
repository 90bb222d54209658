//! The lookup: layers, effective dates, versions, regions, tiers and kinds.

use rust_decimal::Decimal;

use super::*;
use crate::domain::{Currency, PriceLayer};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn price(layer: PriceLayer, model: &str, kind: TokenKind, from: &str, per_1m: &str) -> Price {
    Price {
        model: model.to_owned(),
        version: String::new(),
        deployment_type: DeploymentType::Global,
        region: String::new(),
        tier: ServiceTier::Default,
        kind,
        effective_from: day(from),
        currency: Currency::USD,
        price: d(per_1m),
        source: "x".to_owned(),
        read_on: None,
        origin: format!("{layer:?}"),
        layer,
        meter_id: String::new(),
    }
}

fn ask<'a>(model: &'a str, kind: TokenKind, on: &str) -> Lookup<'a> {
    Lookup {
        model,
        deployment_type: DeploymentType::Global,
        region: None,
        tier: ServiceTier::Default,
        kind,
        day: day(on),
    }
}

/// The merged layers, looked up as the catalogue does.
struct Cat(Vec<Price>);

impl Cat {
    fn new(shipped: Vec<Price>, synced: Vec<Price>, user: Vec<Price>) -> Self {
        Self(merge(shipped, synced, user))
    }

    fn lookup(&self, q: &Lookup<'_>) -> Result<&Price, Unpriced> {
        lookup(&self.0, q)
    }

    fn prices(&self) -> &[Price] {
        &self.0
    }
}

use PriceLayer::*;
use TokenKind::*;

#[test]
fn each_kind_is_priced_at_its_own_price_in_force_on_the_day() {
    let c = Cat::new(
        vec![],
        vec![
            price(Synced, "gpt-4.1", Input, "2025-04-14", "2"),
            price(Synced, "gpt-4.1", Input, "2026-11-16", "2.2"),
            price(Synced, "gpt-4.1", Output, "2025-04-14", "8"),
        ],
        vec![],
    );
    let input = |on| c.lookup(&ask("gpt-4.1-2025-04-14", Input, on)).map(|p| p.price);
    assert_eq!(input("2026-11-15"), Ok(d("2")));
    assert_eq!(input("2026-11-16"), Ok(d("2.2")));
    assert_eq!(c.lookup(&ask("gpt-4.1", Output, "2026-11-30")).unwrap().price, d("8"), "output did not change");
    assert!(matches!(input("2025-01-01"), Err(Unpriced::Kind { .. })), "before the first price");
    let cached = c.lookup(&ask("gpt-4.1", CachedInput, "2026-11-30")).unwrap_err();
    assert_eq!(cached.to_string(), "no cached input price for gpt-4.1 global on 2026-11-30");
}

#[test]
fn synced_prices_replace_the_shipped_ones_of_their_model_and_type_and_user_prices_win() {
    let shipped = vec![
        price(Shipped, "gpt-4o", Input, "2026-01-01", "2.5"),
        price(Shipped, "gpt-4o-mini", Input, "2026-01-01", "0.15"),
    ];
    let synced = vec![price(Synced, "gpt-4o", Input, "2024-11-20", "2.75")];
    let user =
        vec![price(User, "gpt-4o", Input, "2024-11-20", "2.0"), price(User, "gpt-4o", Output, "2026-06-01", "9")];
    let c = Cat::new(shipped, synced, user);
    let on = "2026-11-05";
    // The blog figure of 2026-01-01 is gone; the user's row of the synced row's date replaced it.
    assert_eq!(c.lookup(&ask("gpt-4o", Input, on)).unwrap().layer, User);
    assert_eq!(c.lookup(&ask("gpt-4o", Input, on)).unwrap().price, d("2.0"));
    assert_eq!(c.lookup(&ask("gpt-4o-mini", Input, on)).unwrap().layer, Shipped, "not synced: shipped stays");
    assert_eq!(c.prices().iter().filter(|p| p.model == "gpt-4o" && p.kind == Input).count(), 1);
    assert_eq!(c.lookup(&ask("gpt-4o", Output, on)).unwrap().price, d("9"));
}

#[test]
fn a_later_user_price_wins_and_at_the_same_date_the_higher_layer() {
    let mut regional = price(Synced, "gpt-4o", Input, "2026-01-01", "2.75");
    regional.region = "eastus2".into();
    let c = Cat::new(vec![], vec![regional], vec![price(User, "gpt-4o", Input, "2026-01-01", "2")]);
    let q = Lookup { region: Some("eastus2"), ..ask("gpt-4o", Input, "2026-02-01") };
    assert_eq!(c.lookup(&q).unwrap().layer, User);
}

#[test]
fn prices_by_version_pick_the_records_version_and_never_another() {
    let mut v0513 = price(Synced, "gpt-4o", Input, "2024-05-13", "5");
    v0513.version = "0513".into();
    let mut v1120 = price(Synced, "gpt-4o", Input, "2024-11-20", "2.5");
    v1120.version = "1120".into();
    let mut dated = price(Synced, "gpt-chat-latest", Input, "2026-08-06", "1");
    dated.version = "08062026".into();
    let c = Cat::new(vec![], vec![v0513, v1120, dated], vec![]);
    let on = "2026-11-01";
    assert_eq!(c.lookup(&ask("gpt-4o-2024-05-13", Input, on)).unwrap().price, d("5"));
    assert_eq!(c.lookup(&ask("gpt-4o-2024-11-20", Input, on)).unwrap().price, d("2.5"));
    assert_eq!(c.lookup(&ask("gpt-chat-latest-2026-08-06", Input, on)).unwrap().price, d("1"));
    let other = c.lookup(&ask("gpt-4o-2024-08-06", Input, on)).unwrap_err();
    assert_eq!(
        other.to_string(),
        "gpt-4o is priced by version (0513, 1120) and there is none for \"gpt-4o-2024-08-06\""
    );
    assert!(matches!(c.lookup(&ask("gpt-4o", Input, on)), Err(Unpriced::Version { .. })), "no version: no guess");
}

#[test]
fn regional_prices_need_the_deployments_region() {
    let mut us = price(Synced, "o3-mini", Input, "2025-01-31", "1.21");
    us.deployment_type = DeploymentType::DataZone;
    us.region = "eastus2".into();
    let mut se = us.clone();
    se.region = "swedencentral".into();
    se.price = d("1.25");
    let c = Cat::new(vec![], vec![us, se], vec![]);
    let q = |region| Lookup {
        deployment_type: DeploymentType::DataZone,
        region,
        ..ask("o3-mini-2025-01-31", Input, "2026-11-01")
    };
    assert_eq!(c.lookup(&q(Some("swedencentral"))).unwrap().price, d("1.25"));
    assert_eq!(c.lookup(&q(Some("EastUS2"))).unwrap().price, d("1.21"));
    let none = c.lookup(&q(None)).unwrap_err().to_string();
    assert!(none.contains("priced by region (eastus2, swedencentral)") && none.contains("deployment file"), "{none}");
    assert!(c.lookup(&q(Some("westeurope"))).unwrap_err().to_string().contains("none for westeurope"));
}

#[test]
fn a_tier_without_its_price_is_unpriced_never_the_default_tiers() {
    let mut batch = price(Synced, "gpt-4o-mini", Input, "2024-10-22", "0.075");
    batch.tier = ServiceTier::Batch;
    let c = Cat::new(vec![], vec![price(Synced, "gpt-4o-mini", Input, "2024-07-18", "0.15"), batch], vec![]);
    let tier = |t| Lookup { tier: t, ..ask("gpt-4o-mini-2024-07-18", Input, "2026-11-01") };
    assert_eq!(c.lookup(&tier(ServiceTier::Batch)).unwrap().price, d("0.075"));
    let priority = c.lookup(&tier(ServiceTier::Priority)).unwrap_err();
    assert_eq!(priority.to_string(), "no input price for gpt-4o-mini global (priority tier) on 2026-11-01");
}

#[test]
fn the_model_is_matched_by_its_longest_catalogue_name_never_a_sibling() {
    let c = Cat::new(vec![price(Shipped, "gpt-4o", Input, "2026-01-01", "2.5")], vec![], vec![]);
    assert!(c.lookup(&ask("gpt-4o-2024-08-06", Input, "2026-02-01")).is_ok());
    assert_eq!(
        c.lookup(&ask("gpt-4o-mini-2024-07-18", Input, "2026-02-01")).unwrap_err(),
        Unpriced::Model { model: "gpt-4o-mini-2024-07-18".into(), scope: "global" }
    );
    assert!(c.lookup(&ask("gpt-4o-realtime-preview", Input, "2026-02-01")).is_err());
    assert!(!model_matches("", "gpt-4o"));
}

#[test]
fn ptu_hours_are_looked_up_by_scope_and_region_for_any_model() {
    let mut dz = price(Synced, "", ProvisionedUnit, "2024-12-01", "1.1");
    dz.deployment_type = DeploymentType::DataZone;
    dz.region = "swedencentral".into();
    let c = Cat::new(vec![], vec![dz], vec![]);
    let q = Lookup {
        deployment_type: DeploymentType::DataZone,
        region: Some("swedencentral"),
        kind: ProvisionedUnit,
        ..ask("gpt-4o", ProvisionedUnit, "2026-11-01")
    };
    assert_eq!(c.lookup(&q).unwrap().price, d("1.1"));
    assert!(c.lookup(&Lookup { deployment_type: DeploymentType::Global, ..q }).is_err());
}
