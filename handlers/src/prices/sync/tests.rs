//! Reconciliation on answers shaped like the API's (meter names as Azure writes them).

use super::*;
use crate::domain::{PriceLayer, ServiceTier, TokenKind};

const TODAY: &str = "2026-11-20";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn item(id: &str, name: &str, product: &str, region: &str, unit: &str, price: &str, from: &str) -> RetailPrice {
    RetailPrice {
        currency_code: "USD".into(),
        tier_minimum_units: Decimal::ZERO,
        retail_price: d(price),
        unit_price: d(price),
        arm_region_name: region.into(),
        location: String::new(),
        effective_start_date: format!("{from}T00:00:00Z").parse().unwrap(),
        meter_id: id.into(),
        meter_name: name.into(),
        product_id: "DZH318Z0BQPS".into(),
        sku_id: format!("DZH318Z0BQPS/{id}"),
        product_name: product.into(),
        sku_name: name.trim_end_matches(" Tokens").trim_end_matches(" 1M").into(),
        service_name: "Foundry Models".into(),
        service_id: "DZH318Z0BQPS".into(),
        service_family: "AI + Machine Learning".into(),
        unit_of_measure: unit.into(),
        price_type: "Consumption".into(),
        is_primary_meter_region: region == "eastus2",
        arm_sku_name: String::new(),
        reservation_term: None,
    }
}

fn mini_input(region: &str, price: &str, from: &str) -> RetailPrice {
    item(&format!("mini-in-{region}"), "gpt-4o-mini-0718-Inp-glbl Tokens", "Azure OpenAI", region, "1K", price, from)
}

fn run(previous: &[SyncedPrice], items: &[RetailPrice]) -> Reconciled {
    run_with(previous, items, &MeterMapping::default(), &[])
}

fn run_with(previous: &[SyncedPrice], items: &[RetailPrice], mapping: &MeterMapping, shipped: &[Price]) -> Reconciled {
    reconcile(Inputs {
        previous,
        items,
        mapping,
        shipped,
        user: &[],
        endpoint: "http://127.0.0.1:1/api/retail/prices",
        currency: &Currency::USD,
        read_on: day(TODAY),
    })
}

/// A shipped or user price of a global default-tier model.
fn price(layer: PriceLayer, model: &str, kind: TokenKind, per_1m: &str) -> Price {
    Price {
        model: model.to_owned(),
        version: String::new(),
        deployment_type: DeploymentType::Global,
        region: String::new(),
        tier: ServiceTier::Default,
        kind,
        effective_from: day("2026-01-01"),
        currency: Currency::USD,
        price: d(per_1m),
        source: "x".into(),
        read_on: None,
        origin: "my-prices.csv".into(),
        layer,
        meter_id: String::new(),
    }
}

#[test]
fn a_first_sync_keeps_one_line_per_price_with_its_meter_and_source() {
    let items = [
        mini_input("eastus2", "0.00015", "2024-07-18"),
        mini_input("swedencentral", "0.00015", "2024-07-18"),
        item(
            "o3-dz-se",
            "o3 Inpt DZone 1M Tokens",
            "Azure OpenAI Reasoning",
            "swedencentral",
            "1M",
            "2.2",
            "2025-04-16",
        ),
        item("o3-dz-us", "o3 Inpt DZone 1M Tokens", "Azure OpenAI Reasoning", "eastus2", "1M", "2.1", "2025-04-16"),
        item("ptu-g", "Provisioned Managed Global Unit", "Azure OpenAI", "eastus2", "1 Hour", "1", "2024-08-01"),
    ];
    let r = run(&[], &items);
    assert!(r.changed);
    assert_eq!(r.report.added.len(), 4, "{:#?}", r.report.added);
    let mini = r.prices.iter().find(|p| p.model == "gpt-4o-mini").unwrap();
    // Both regions agree: one global line without a region, per 1M.
    assert_eq!((mini.region.as_str(), mini.price, mini.version.as_str()), ("", d("0.15"), "0718"));
    assert_eq!(
        (mini.meter_id.as_str(), mini.read_on, mini.effective_from),
        ("mini-in-eastus2", day(TODAY), day("2024-07-18"))
    );
    assert!(mini.source.contains("meterId+eq+%27mini-in-eastus2%27"), "{}", mini.source);
    // Data-zone prices stay per region.
    let o3: Vec<_> = r.prices.iter().filter(|p| p.model == "o3").map(|p| (p.region.as_str(), p.price)).collect();
    assert_eq!(o3, [("eastus2", d("2.1")), ("swedencentral", d("2.2"))]);
    let ptu = r.prices.iter().find(|p| p.kind == TokenKind::ProvisionedUnit).unwrap();
    assert_eq!((ptu.model.as_str(), ptu.price), ("", d("1")));
}

#[test]
fn the_same_answer_again_changes_nothing() {
    let items = [mini_input("eastus2", "0.00015", "2024-07-18")];
    let first = run(&[], &items);
    let again = run(&first.prices, &items);
    assert!(!again.changed);
    assert_eq!((again.report.unchanged, again.report.added.len()), (1, 0));
    assert_eq!(again.prices, first.prices);
    // A meter re-dated at the same price is not a change either.
    let redated = run(&first.prices, &[mini_input("eastus2", "0.00015", "2025-01-01")]);
    assert!(!redated.changed);
}

#[test]
fn a_price_change_is_a_new_line_and_the_old_line_stays() {
    let first = run(&[], &[mini_input("eastus2", "0.00015", "2024-07-18")]);
    let changed = run(&first.prices, &[mini_input("eastus2", "0.0002", "2026-11-16")]);
    assert!(changed.changed);
    let lines: Vec<_> = changed.prices.iter().map(|p| (p.effective_from, p.price, p.read_on)).collect();
    assert_eq!(lines, [(day("2024-07-18"), d("0.15"), day(TODAY)), (day("2026-11-16"), d("0.2"), day(TODAY))]);
    assert_eq!(changed.report.added[0].previous, Some(d("0.15")));
    assert_eq!(changed.report.kept, 0);
}

#[test]
fn a_change_dated_on_or_before_the_latest_line_is_a_conflict_and_changes_nothing() {
    let first = run(&[], &[mini_input("eastus2", "0.00015", "2024-07-18")]);
    for from in ["2024-07-18", "2024-01-01"] {
        let r = run(&first.prices, &[mini_input("eastus2", "0.0002", from)]);
        assert!(!r.changed, "{from}");
        assert_eq!(r.prices, first.prices);
        assert_eq!(r.report.conflicts.len(), 1, "{from}");
    }
}

#[test]
fn lines_the_answer_does_not_mention_are_kept() {
    let first = run(&[], &[mini_input("eastus2", "0.00015", "2024-07-18")]);
    let r = run(
        &first.prices,
        &[item("x", "gpt 4.1 Inp glbl Tokens", "Azure OpenAI", "eastus2", "1K", "0.002", "2025-04-14")],
    );
    assert_eq!((r.report.kept, r.prices.len()), (1, 2));
}

#[test]
fn the_unit_guard_refuses_zero_negative_and_thousandfold_prices() {
    let first = run(&[], &[mini_input("eastus2", "0.00015", "2024-07-18")]);
    // 0.15 per 1K (the per-1M figure in a per-1K meter) would be 150 per 1M.
    let r = run(&first.prices, &[mini_input("eastus2", "0.15", "2026-11-16")]);
    assert!(!r.changed);
    assert!(r.report.rejected[0].reason.contains("more than 300 times"), "{:?}", r.report.rejected);
    for price in ["0", "-0.00015"] {
        let r = run(&[], &[mini_input("eastus2", price, "2024-07-18")]);
        assert!(!r.changed && r.report.rejected[0].reason.contains("not above zero"), "{price}");
    }
    // A first price is checked against the shipped price of the model.
    let shipped = [price(PriceLayer::Shipped, "gpt-4o-mini", TokenKind::Input, "0.15")];
    let r = run_with(&[], &[mini_input("eastus2", "0.00000015", "2024-07-18")], &MeterMapping::default(), &shipped);
    assert!(r.report.rejected[0].reason.contains("less than 1/300 of the shipped price"), "{:?}", r.report.rejected);
}

#[test]
fn unusable_meters_are_listed_with_their_ids_and_regions() {
    let mut reservation =
        item("r", "Provisioned Managed Global Unit", "Azure OpenAI", "eastus2", "1 Hour", "700", "2024-08-01");
    reservation.price_type = "Reservation".into();
    let mut tiered = mini_input("eastus2", "0.00015", "2024-07-18");
    tiered.tier_minimum_units = d("1000");
    let items = [
        item("u1", "54 mini Inp Flex Gl 1M Tokens", "Azure OpenAI GPT5", "eastus2", "1M", "0.375", "2026-03-05"),
        item("u2", "54 mini Inp Flex Gl 1M Tokens", "Azure OpenAI GPT5", "swedencentral", "1M", "0.375", "2026-03-05"),
        item("l", "5.4 longco inp Gl 1M Tokens", "Azure OpenAI GPT5", "eastus2", "1M", "5", "2026-03-05"),
        item("h", "gpt 4.1 Inp glbl Tokens", "Azure OpenAI", "eastus2", "1 Hour", "2", "2025-04-14"),
        reservation,
        tiered,
    ];
    let r = run(&[], &items);
    assert!(!r.changed);
    let unparsed = &r.report.unparsed;
    assert_eq!(unparsed.len(), 2, "{unparsed:?}");
    let flex = unparsed.iter().find(|n| n.meter_name.starts_with("54")).unwrap();
    assert_eq!(
        (flex.meter_ids.clone(), flex.regions.clone()),
        (vec!["u1".to_owned(), "u2".to_owned()], vec!["eastus2".to_owned(), "swedencentral".to_owned()])
    );
    assert!(unparsed.iter().any(|n| n.reason.contains("does not count what it prices")));
    let skipped: Vec<&str> = r.report.skipped.iter().map(|n| n.reason.as_str()).collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(skipped.iter().any(|s| s.contains("long-context")) && skipped.iter().any(|s| s.contains("tiered")));
    assert!(skipped.iter().any(|s| s.contains("Reservation")));
}

#[test]
fn the_mapping_file_names_meters_the_parser_cannot_read() {
    let mapping = MeterMapping::parse(
        "meter,model,deployment_type,token_kind,service_tier\n54 mini Inp Flex Gl 1M Tokens,gpt-5.4-mini,global,input,flex\n",
        "meters.csv",
    )
    .unwrap();
    let items =
        [item("u1", "54 mini Inp Flex Gl 1M Tokens", "Azure OpenAI GPT5", "eastus2", "1M", "0.375", "2026-03-05")];
    let r = run_with(&[], &items, &mapping, &[]);
    assert!(r.report.unparsed.is_empty());
    assert_eq!((r.prices[0].model.as_str(), r.prices[0].tier), ("gpt-5.4-mini", ServiceTier::Flex));
}

#[test]
fn meters_that_read_alike_but_disagree_are_a_conflict_and_neither_is_used() {
    let items = [
        item("a", "gpt 4o 1120 Inp regnl Tokens", "Azure OpenAI", "eastus2", "1K", "0.00275", "2024-11-20"),
        item("b", "gpt-4o-1120-Input-regional Tokens", "Azure OpenAI", "eastus2", "1K", "0.003", "2024-11-20"),
    ];
    let r = run(&[], &items);
    assert!(!r.changed && r.prices.is_empty());
    assert_eq!(r.report.conflicts.len(), 2);
}

#[test]
fn global_prices_that_differ_by_region_stay_per_region() {
    let r =
        run(&[], &[mini_input("eastus2", "0.00015", "2024-07-18"), mini_input("japaneast", "0.000165", "2024-07-18")]);
    let regions: Vec<_> = r.prices.iter().map(|p| (p.region.as_str(), p.price)).collect();
    assert_eq!(regions, [("eastus2", d("0.15")), ("japaneast", d("0.165"))]);
}

#[test]
fn synced_lines_a_user_row_overrides_are_reported() {
    let user = [price(PriceLayer::User, "gpt-4o-mini", TokenKind::Input, "0.12")];
    let r = reconcile(Inputs {
        previous: &[],
        items: &[mini_input("eastus2", "0.00015", "2024-07-18")],
        mapping: &MeterMapping::default(),
        shipped: &[],
        user: &user,
        endpoint: "http://127.0.0.1:1/api/retail/prices",
        currency: &Currency::USD,
        read_on: day(TODAY),
    });
    assert!(r.changed, "the synced line is still kept; the user's row wins when pricing");
    assert!(r.report.overridden[0].reason.contains("my-prices.csv"));
}
