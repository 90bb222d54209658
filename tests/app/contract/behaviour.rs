//! What every implementation must do. Each function gets a fresh subject.

use std::collections::BTreeMap;
use std::time::Duration;

use chargeback::domain::{
    Caller, RecordId, RecordShape, RejectReason, ResponseTier, Tenant, TokenDetails, TokenSource, TokenTotals,
    TokenUsage, UsageAggregate, UsageRecord,
};
use chargeback::storage::{DeadLetter, LedgerRange, WriteCondition};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};

use super::subjects::Subject;

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
}

/// A record of `party` at `at`, with tokens derived from `n`. Some carry
/// the billing dimensions (a service tier, a spill, the detail counts), so
/// every backend stores and sums them; `n` = 3 carries none.
pub fn record(tenant: &Tenant, id: &str, party: &str, at: DateTime<Utc>, n: u64) -> UsageRecord {
    let prompt = 100 + n % 1000;
    let completion = 10 + n % 97;
    let details = if n % 3 == 1 {
        TokenDetails {
            cache_write: prompt / 5,
            audio_prompt: prompt / 10,
            audio_completion: completion / 5,
            accepted_prediction: completion / 3,
            rejected_prediction: completion / 6,
        }
    } else {
        TokenDetails::default()
    };
    UsageRecord {
        id: RecordId::parse(id).unwrap(),
        tenant: tenant.clone(),
        occurred_at: at,
        caller: Caller { application: Some(party.to_owned()), ..Default::default() },
        deployment: Some(format!("dep-{}", n % 2)),
        model: (!n.is_multiple_of(5)).then(|| ["gpt-4o", "gpt-4o-mini", "o3"][(n % 3) as usize].to_owned()),
        operation: Some("chat.completions".into()),
        status: Some(200),
        streamed: n.is_multiple_of(4),
        usage: TokenUsage::new(prompt, completion, Some(prompt + completion), prompt / 3, completion / 4)
            .and_then(|u| u.with_details(details))
            .unwrap(),
        token_source: if n.is_multiple_of(7) { TokenSource::Estimated } else { TokenSource::Reported },
        shape: RecordShape::V1,
        backend: None,
        latency_ms: Some(n),
        counted_with: None,
        service_tier: (n % 6 == 1).then(|| ResponseTier::parse("priority").unwrap()),
        spilled_from: (n % 8 == 5).then(|| "ptu-1".to_owned()),
    }
}

/// `count` records spread over three days and several parties, some with
/// awkward characters in their ids and parties.
pub fn spread(tenant: &Tenant, count: u64) -> Vec<UsageRecord> {
    let parties = ["app-a", "app/b", "sub #c", "fp_0123456789abcdef0123456789abcdef", "ünï côde"];
    (0..count)
        .map(|n| {
            let at = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
                + ChronoDuration::seconds(i64::try_from(n * 2591 % (3 * 86_400)).unwrap());
            record(tenant, &format!("req-{n:05}/x?{}", n % 3), parties[(n % 5) as usize], at, n)
        })
        .collect()
}

fn all_time(tenant: &Tenant) -> LedgerRange {
    LedgerRange {
        tenant: tenant.clone(),
        from: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
    }
}

/// The usage cells the ledger must give for `records` (computed here, in
/// memory): per day, party, model, deployment, token source, service tier
/// and spilled-from deployment.
pub fn expected(records: &[UsageRecord]) -> Vec<UsageAggregate> {
    type Key = (NaiveDate, String, String, String, TokenSource, String, String);
    let mut cells: BTreeMap<Key, TokenTotals> = BTreeMap::new();
    for r in records {
        let key = (
            r.occurred_at.date_naive(),
            r.caller.chargeable_party().to_owned(),
            r.model.clone().unwrap_or_default(),
            r.deployment.clone().unwrap_or_default(),
            r.token_source,
            r.service_tier.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            r.spilled_from.clone().unwrap_or_default(),
        );
        *cells.entry(key).or_default() += TokenTotals::of_record(&r.usage);
    }
    cells
        .into_iter()
        .map(|((day, party, model, deployment, token_source, service_tier, spilled_from), tokens)| UsageAggregate {
            day,
            party,
            model,
            deployment,
            token_source,
            service_tier,
            spilled_from,
            tokens,
        })
        .collect()
}

async fn cells(s: &Subject, range: &LedgerRange) -> Vec<UsageAggregate> {
    let mut got = s.ledger.usage_cells(range).await.unwrap();
    got.sort();
    got
}

async fn assert_totals(s: &Subject, records: &[UsageRecord]) {
    assert_eq!(cells(s, &all_time(&s.tenant)).await, expected(records), "usage cells");
}

pub async fn an_append_counts_each_record_id_once_also_within_one_call(s: &Subject) {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap();
    let a = record(&s.tenant, "req-a", "app-a", at, 1);
    let b = record(&s.tenant, "req-b", "app-a", at, 2);
    let outcome = s.ledger.append(&[a.clone(), b.clone(), b.clone()]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (2, 1));
    let again = s.ledger.append(&[a.clone(), b.clone()]).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 2));
    assert_totals(s, &[a, b]).await;
    s.ledger.health().await.unwrap();
}

pub async fn a_replayed_batch_counts_nothing_twice_and_totals_stay_exact(s: &Subject) {
    let records = spread(&s.tenant, 450);
    let first = s.ledger.append(&records).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (450, 0));
    // A replay of part of it, overlapping new records (as after a rebalance).
    let more = spread(&s.tenant, 500);
    let second = s.ledger.append(&more[300..]).await.unwrap();
    assert_eq!((second.inserted, second.duplicates), (50, 150));
    assert_totals(s, &more).await;
}

pub async fn a_record_id_arriving_again_with_other_content_is_still_one_record(s: &Subject) {
    let first = record(&s.tenant, "req-same", "app-a", Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 0).unwrap(), 3);
    let other = record(&s.tenant, "req-same", "app-b", Utc.with_ymd_and_hms(2026, 11, 26, 0, 1, 0).unwrap(), 8);
    assert_eq!(s.ledger.append(std::slice::from_ref(&first)).await.unwrap().inserted, 1);
    let again = s.ledger.append(&[other]).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 1));
    assert_totals(s, &[first]).await;
    // Another tenant's record with the same id is another record.
    let elsewhere = Tenant::parse(&format!("{}-other", s.tenant)).unwrap();
    let theirs = record(&elsewhere, "req-same", "app-a", Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap(), 3);
    assert_eq!(s.ledger.append(&[theirs]).await.unwrap().inserted, 1);
}

pub async fn totals_respect_the_half_open_time_range(s: &Subject) {
    let records = spread(&s.tenant, 120);
    s.ledger.append(&records).await.unwrap();
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 6, 30, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
    let inside: Vec<UsageRecord> =
        records.iter().filter(|r| r.occurred_at >= from && r.occurred_at < to).cloned().collect();
    assert!(!inside.is_empty() && inside.len() < records.len());
    let got = cells(s, &LedgerRange { tenant: s.tenant.clone(), from, to }).await;
    assert_eq!(got, expected(&inside));
}

pub async fn partitions_split_the_ledger_by_day_and_party_and_scans_cover_it(s: &Subject) {
    let records = spread(&s.tenant, 260);
    s.ledger.append(&records).await.unwrap();
    let partitions = s.ledger.partitions(&s.tenant, day(24), day(27)).await.unwrap();
    let mut want: Vec<(NaiveDate, String)> =
        records.iter().map(|r| (r.occurred_at.date_naive(), r.caller.chargeable_party().to_owned())).collect();
    want.sort();
    want.dedup();
    let got: Vec<(NaiveDate, String)> = partitions.iter().map(|p| (p.day, p.party.clone())).collect();
    assert_eq!(got, want);
    // One day only.
    let one_day = s.ledger.partitions(&s.tenant, day(25), day(26)).await.unwrap();
    assert!(one_day.iter().all(|p| p.day == day(25)) && one_day.len() == 5, "{one_day:?}");
    // Scans cover every record exactly once, sorted by id.
    let mut seen = 0;
    for p in &partitions {
        let entries = s.ledger.scan(p).await.unwrap();
        assert!(entries.windows(2).all(|w| w[0].id < w[1].id));
        for e in &entries {
            let r = records.iter().find(|r| r.id == e.id).unwrap();
            assert_eq!(r.occurred_at.date_naive(), p.day);
            assert_eq!(r.caller.chargeable_party(), p.party);
            assert_eq!(e.tokens, TokenTotals::of_record(&r.usage));
            assert_eq!((e.occurred_at, &e.model, e.token_source), (r.occurred_at, &r.model, r.token_source));
        }
        seen += entries.len();
    }
    assert_eq!(seen, records.len());
}

fn letter(tenant: &Tenant, id: &str, detail: &str) -> DeadLetter {
    DeadLetter {
        tenant: tenant.clone(),
        id: RecordId::parse(id).unwrap(),
        reason: RejectReason::InvalidJson,
        detail: detail.into(),
        origin: "eventhub:apim-usage/partition/3/sequence/42".into(),
        received_at: Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap(),
        body: "{\"not json".into(),
    }
}

pub async fn dead_letters_are_kept_per_tenant_and_replaced_by_identity(s: &Subject) {
    let Some(store) = &s.dead_letters else {
        eprintln!("no dead-letter store on this backend");
        return;
    };
    let other = Tenant::parse(&format!("{}-other", s.tenant)).unwrap();
    store
        .put(&[letter(&s.tenant, "eh-p3-s42", "first"), letter(&s.tenant, "a/b?c", "x"), letter(&other, "z", "y")])
        .await
        .unwrap();
    store.put(&[letter(&s.tenant, "eh-p3-s42", "second")]).await.unwrap();
    let letters = store.list(&s.tenant).await.unwrap();
    assert_eq!(letters, vec![letter(&s.tenant, "a/b?c", "x"), letter(&s.tenant, "eh-p3-s42", "second")]);
    assert_eq!(store.list(&other).await.unwrap().len(), 1);
}

pub async fn two_different_bodies_with_one_id_are_two_letters_and_any_id_can_be_kept(s: &Subject) {
    let Some(store) = &s.dead_letters else {
        eprintln!("no dead-letter store on this backend");
        return;
    };
    let first = letter(&s.tenant, "same-id", "first");
    let second = DeadLetter { body: "{\"other\": body".into(), ..letter(&s.tenant, "same-id", "second") };
    // The longest id there may be, every character of it escaped in a file name.
    let long = letter(&s.tenant, &"/%".repeat(100), "long");
    store.put(&[first.clone(), second.clone(), long.clone()]).await.unwrap();
    store.put(&[first.clone(), second.clone()]).await.unwrap();
    let mut expected = vec![long, first, second];
    expected.sort_by(|a, b| (&a.id, &a.body).cmp(&(&b.id, &b.body)));
    assert_eq!(store.list(&s.tenant).await.unwrap(), expected);
}

pub async fn known_ids_are_those_an_append_would_find(s: &Subject) {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap();
    let records: Vec<UsageRecord> =
        (0..5).map(|i| record(&s.tenant, &format!("known-{i}"), "sub-a", at, 10 + i)).collect();
    s.ledger.append(&records[..3]).await.unwrap();
    let ids: Vec<RecordId> = records.iter().map(|r| r.id.clone()).collect();
    let known = s.ledger.known_ids(&s.tenant, &ids).await.unwrap();
    let mut known: Vec<&str> = known.iter().map(RecordId::as_str).collect();
    known.sort();
    assert_eq!(known, ["known-0", "known-1", "known-2"]);
    let other = Tenant::parse(&format!("{}-other", s.tenant)).unwrap();
    assert!(s.ledger.known_ids(&other, &ids).await.unwrap().is_empty(), "per tenant");
    assert!(s.ledger.known_ids(&s.tenant, &[]).await.unwrap().is_empty());
}

pub async fn a_lease_is_exclusive_until_released_or_lost(s: &Subject) {
    let name = format!("{}-rollup", s.unique);
    let ttl = Duration::from_secs(15);
    let held = s.leases.acquire(&name, ttl).await.unwrap().expect("a free lease is granted");
    assert!(s.leases.acquire(&name, ttl).await.unwrap().is_none(), "a held lease is exclusive");
    assert!(s.leases.renew(&held).await.unwrap());
    let other = s.leases.acquire(&format!("{}-report", s.unique), ttl).await.unwrap();
    assert!(other.is_some(), "another name is another lease");
    s.leases.release(&held).await.unwrap();
    let next = s.leases.acquire(&name, ttl).await.unwrap().expect("a released lease is free");
    assert!(!s.leases.renew(&held).await.unwrap(), "the old holder lost it");
    s.leases.release(&held).await.unwrap();
    assert!(s.leases.acquire(&name, ttl).await.unwrap().is_none(), "a stale release changes nothing");
    s.leases.release(&next).await.unwrap();
}

pub async fn reports_are_written_with_optimistic_concurrency(s: &Subject) {
    let name = format!("{}/2026-11.csv", s.unique);
    assert!(s.reports.get(&name).await.unwrap().is_none());
    let v1 = s.reports.put(&name, b"one", WriteCondition::IfAbsent).await.unwrap().expect("absent, so written");
    assert!(s.reports.put(&name, b"two", WriteCondition::IfAbsent).await.unwrap().is_none());
    let stored = s.reports.get(&name).await.unwrap().unwrap();
    assert_eq!((stored.body.as_slice(), stored.etag.as_str()), (&b"one"[..], v1.as_str()));
    let v2 = s.reports.put(&name, b"two", WriteCondition::IfMatch(v1.clone())).await.unwrap().expect("current");
    assert_ne!(v1, v2);
    assert!(s.reports.put(&name, b"lost update", WriteCondition::IfMatch(v1)).await.unwrap().is_none());
    assert_eq!(s.reports.get(&name).await.unwrap().unwrap().body, b"two");
    let v3 = s.reports.put(&name, b"three", WriteCondition::Always).await.unwrap().unwrap();
    assert_eq!(s.reports.get(&name).await.unwrap().unwrap().etag, v3);
}
