//! Keys and entity shapes of the Table Storage ledger (see `docs/storage.md`).
//!
//! - ledger:     PK `<tenant>_<YYYY-MM-DD>_<party>`, RK `<record id>`
//! - claims:     PK `<tenant>_<bucket>` (bucket = first byte of SHA-256(id) mod 16),
//!   RK `<record id>`, property `LedgerPartition`
//! - partitions: PK `<tenant>_<YYYY-MM-DD>`, RK `<party>`: the index of ledger partitions
//!
//! Free text (party, record id) is escaped to the characters keys allow: bytes
//! outside `[A-Za-z0-9.-]` become `~XX`. Tenants are `[a-z0-9-]` and days have
//! a fixed width, so `_` separates the parts without ambiguity and a day range
//! of one tenant is a key range.

use chrono::NaiveDate;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::{RecordId, Tenant, UsageRecord};
use crate::storage::StorageError;
use crate::storage::sql::ledger::{day_text, to_i64};

/// Claim buckets per tenant: spreads claims over partitions (write
/// throughput) while keeping a batch's claims in few transactions.
pub const CLAIM_BUCKETS: u8 = 16;

/// Escapes free text for a key.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("~{b:02X}"));
        }
    }
    out
}

/// Undoes [`escape`].
pub fn unescape(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            let hex = key.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The ledger partition of a day and party.
pub fn ledger_pk(tenant: &Tenant, day: NaiveDate, party: &str) -> String {
    format!("{}_{}_{}", tenant.as_str(), day_text(day), escape(party))
}

/// The first key of a tenant's day (ledger and partition index): every key of
/// that day sorts at or after it, and before the next day's.
pub fn day_key(tenant: &Tenant, day: NaiveDate) -> String {
    format!("{}_{}", tenant.as_str(), day_text(day))
}

/// The claim partition of a record id.
pub fn claim_pk(tenant: &Tenant, id: &RecordId) -> String {
    let digest = Sha256::digest(id.as_str().as_bytes());
    format!("{}_{:02x}", tenant.as_str(), digest[0] % CLAIM_BUCKETS)
}

/// The row key of a record id.
pub fn record_rk(id: &RecordId) -> String {
    escape(id.as_str())
}

fn put_i64(m: &mut Map<String, Value>, name: &str, v: i64) {
    // Edm.Int64 travels as a string with a type annotation; a bare JSON
    // number would be taken as Int32 or Double.
    m.insert(name.to_owned(), Value::String(v.to_string()));
    m.insert(format!("{name}@odata.type"), Value::String("Edm.Int64".into()));
}

fn put_opt(m: &mut Map<String, Value>, name: &str, v: Option<&str>) {
    if let Some(v) = v {
        m.insert(name.to_owned(), Value::String(v.to_owned()));
    }
}

/// A ledger entity.
pub fn ledger_entity(pk: &str, r: &UsageRecord) -> Value {
    let mut m = Map::new();
    m.insert("PartitionKey".into(), pk.into());
    m.insert("RowKey".into(), record_rk(&r.id).into());
    m.insert("RecordId".into(), r.id.as_str().into());
    put_i64(&mut m, "OccurredAtUs", r.occurred_at.timestamp_micros());
    m.insert("Day".into(), r.occurred_at.format("%Y-%m-%d").to_string().into());
    m.insert("Party".into(), r.caller.chargeable_party().into());
    put_opt(&mut m, "SubscriptionId", r.caller.subscription_id.as_deref());
    put_opt(&mut m, "KeyFingerprint", r.caller.key_fingerprint.as_ref().map(|f| f.as_str()));
    put_opt(&mut m, "Application", r.caller.application.as_deref());
    put_opt(&mut m, "UserId", r.caller.user.as_deref());
    put_opt(&mut m, "Deployment", r.deployment.as_deref());
    put_opt(&mut m, "Model", r.model.as_deref());
    put_opt(&mut m, "Operation", r.operation.as_deref());
    if let Some(status) = r.status {
        m.insert("Status".into(), status.into());
    }
    m.insert("Streamed".into(), r.streamed.into());
    put_i64(&mut m, "PromptTokens", to_i64(r.usage.prompt()));
    put_i64(&mut m, "CompletionTokens", to_i64(r.usage.completion()));
    put_i64(&mut m, "CachedTokens", to_i64(r.usage.cached()));
    put_i64(&mut m, "ReasoningTokens", to_i64(r.usage.reasoning()));
    m.insert("TokenSource".into(), r.token_source.as_str().into());
    m.insert("Shape".into(), r.shape.as_str().into());
    put_opt(&mut m, "Backend", r.backend.as_deref());
    if let Some(latency) = r.latency_ms {
        put_i64(&mut m, "LatencyMs", to_i64(latency));
    }
    put_opt(&mut m, "CountedWith", r.counted_with.as_ref().map(|c| c.to_stored()).as_deref());
    // The billing dimensions of 2026, only when the record has them (an
    // entity without one reads as zero / not stated).
    let d = r.usage.details();
    for (name, n) in [
        ("CacheWriteTokens", d.cache_write),
        ("AudioPromptTokens", d.audio_prompt),
        ("AudioCompletionTokens", d.audio_completion),
        ("AcceptedPredictionTokens", d.accepted_prediction),
        ("RejectedPredictionTokens", d.rejected_prediction),
    ] {
        if n > 0 {
            put_i64(&mut m, name, to_i64(n));
        }
    }
    put_opt(&mut m, "ServiceTier", r.service_tier.as_ref().map(|t| t.as_str()));
    put_opt(&mut m, "SpilledFrom", r.spilled_from.as_deref());
    Value::Object(m)
}

/// A claim entity: the record id belongs to this ledger partition.
pub fn claim_entity(tenant: &Tenant, id: &RecordId, ledger_pk: &str) -> Value {
    let mut m = Map::new();
    m.insert("PartitionKey".into(), claim_pk(tenant, id).into());
    m.insert("RowKey".into(), record_rk(id).into());
    m.insert("LedgerPartition".into(), ledger_pk.into());
    Value::Object(m)
}

/// A partition-index entity.
pub fn partition_entity(tenant: &Tenant, day: NaiveDate, party: &str) -> Value {
    let mut m = Map::new();
    m.insert("PartitionKey".into(), day_key(tenant, day).into());
    m.insert("RowKey".into(), escape(party).into());
    m.insert("Day".into(), day_text(day).into());
    m.insert("Party".into(), party.into());
    Value::Object(m)
}

/// A string property.
pub fn get_str<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, StorageError> {
    m.get(name).and_then(Value::as_str).ok_or_else(|| StorageError::Corrupt(format!("entity without {name}")))
}

/// An optional string property.
pub fn get_opt(m: &Map<String, Value>, name: &str) -> Option<String> {
    m.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// An Int64 (string) or Int32 (number) property.
pub fn get_i64(m: &Map<String, Value>, name: &str) -> Result<i64, StorageError> {
    match m.get(name) {
        Some(Value::String(s)) => s.parse().map_err(|_| StorageError::Corrupt(format!("{name} = {s:?}"))),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| StorageError::Corrupt(format!("{name} = {n}"))),
        _ => Err(StorageError::Corrupt(format!("entity without {name}"))),
    }
}

/// An Int64 property that entities written before it existed lack (or a
/// `$select` returns as null): zero then.
pub fn get_i64_or_zero(m: &Map<String, Value>, name: &str) -> Result<i64, StorageError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(_) => get_i64(m, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_keys_to_allowed_characters_and_round_trips() {
        for text in ["app/one", "a#b?c\\d", "fp_0123", "ünïcode 'quoted'", "plain-name.v2"] {
            let key = escape(text);
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b"~.-".contains(&b)), "{key}");
            assert_eq!(unescape(&key).as_deref(), Some(text));
        }
    }

    #[test]
    fn a_days_keys_sort_between_that_day_and_the_next() {
        let t = Tenant::parse("contoso").unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let next = d.succ_opt().unwrap();
        let pk = ledger_pk(&t, d, "zzz~~~");
        assert!(day_key(&t, d) <= pk && pk < day_key(&t, next));
        let other_tenant = ledger_pk(&Tenant::parse("contoso-eu").unwrap(), d, "a");
        assert!(!(day_key(&t, d) <= other_tenant && other_tenant < day_key(&t, next)));
    }

    #[test]
    fn claims_spread_over_a_fixed_number_of_buckets() {
        let t = Tenant::default_tenant();
        let buckets: std::collections::HashSet<String> =
            (0..1000).map(|i| claim_pk(&t, &RecordId::parse(&format!("req-{i}")).unwrap())).collect();
        assert_eq!(buckets.len(), usize::from(CLAIM_BUCKETS));
    }
}
