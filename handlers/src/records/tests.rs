//! Golden tests: every file in `tests/fixtures/records/*.json` is an event
//! body; its `.expected.json` twin is what parsing must produce (one record,
//! or the records of a resource-log event, each with its outcome). Set
//! `UPDATE_GOLDEN=1` to rewrite the expectations after a deliberate change,
//! then review the diff. Fields of the billing dimensions are written only
//! when a record states them, so fixtures without them keep their form.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::domain::{Fingerprinter, UsageRecord};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/records")
}

fn summarise_event(event: &ParsedEvent) -> Value {
    if event.many {
        json!({ "records": event.items.iter().map(|i| summarise_item(&i.outcome)).collect::<Vec<_>>() })
    } else {
        event.items.first().map(|i| summarise_item(&i.outcome)).unwrap_or(Value::Null)
    }
}

fn summarise_item(item: &Result<EventItem, Rejection>) -> Value {
    match item {
        Ok(EventItem::Record(parsed)) => summarise(&Ok(parsed.clone())),
        Ok(EventItem::LlmLog(l)) => json!({
            "llm_log": {
                "tenant": l.tenant.as_str(), "correlation_id": l.correlation_id.as_str(), "sequence": l.sequence,
                "occurred_at": l.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "request_id": l.request_id, "deployment": l.deployment, "model": l.model, "operation": l.operation,
                "streamed": l.streamed, "region": l.region,
                "usage": l.usage.map(|u| json!({"prompt": u.prompt(), "completion": u.completion(),
                    "cached": u.cached(), "total": u.total()})),
            }
        }),
        Ok(EventItem::GatewayLog(g)) => json!({
            "gateway_log": {
                "tenant": g.tenant.as_str(), "correlation_id": g.correlation_id.as_str(),
                "occurred_at": g.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "subscription_id": g.subscription_id, "user": g.user, "api_id": g.api_id,
                "operation_id": g.operation_id, "product_id": g.product_id, "backend_id": g.backend_id,
                "status": g.status, "backend_status": g.backend_status, "latency_ms": g.latency_ms,
                "served_deployment": g.served_deployment, "spilled_from": g.spilled_from,
                "service_tier": g.service_tier.as_ref().map(|t| t.as_str()),
            }
        }),
        Ok(EventItem::Ignored { category }) => json!({ "ignored": { "category": category } }),
        Err(r) => summarise(&Err(r.clone())),
    }
}

fn summarise(result: &Result<ParsedRecord, Rejection>) -> Value {
    match result {
        Ok(ParsedRecord { record: r, count_input }) => with_billing_dimensions(
            r,
            json!({
                "accepted": {
                    "id": r.id.as_str(), "tenant": r.tenant.as_str(),
                    "occurred_at": r.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "party": r.caller.chargeable_party(), "subscription_id": r.caller.subscription_id,
                    "key_fingerprint": r.caller.key_fingerprint.as_ref().map(|f| f.as_str()),
                    "application": r.caller.application, "user": r.caller.user,
                    "deployment": r.deployment, "model": r.model, "operation": r.operation, "status": r.status,
                    "streamed": r.streamed, "shape": r.shape.as_str(), "token_source": r.token_source.as_str(),
                    "prompt": r.usage.prompt(), "completion": r.usage.completion(), "cached": r.usage.cached(),
                    "reasoning": r.usage.reasoning(), "total": r.usage.total(),
                    "backend": r.backend, "latency_ms": r.latency_ms,
                    "count_input": count_input.as_ref().map(|c| json!({
                        "request_body": c.request_body.is_some(), "response_body": c.response_body.is_some()})),
                }
            }),
        ),
        Err(r) => {
            json!({ "rejected": { "reason": r.reason.as_str(), "detail": r.detail, "own_id": r.own_id.as_ref().map(|i| i.as_str()) } })
        }
    }
}

/// Adds the billing dimensions a record states (cache writes, audio,
/// predictions, service tier, spillover) to its summary.
fn with_billing_dimensions(r: &UsageRecord, mut summary: Value) -> Value {
    let d = r.usage.details();
    let mut extra = serde_json::Map::new();
    for (name, n) in [
        ("cache_write", d.cache_write),
        ("audio_prompt", d.audio_prompt),
        ("audio_completion", d.audio_completion),
        ("accepted_prediction", d.accepted_prediction),
        ("rejected_prediction", d.rejected_prediction),
    ] {
        if n > 0 {
            extra.insert(name.to_owned(), json!(n));
        }
    }
    if let Some(tier) = &r.service_tier {
        extra.insert("service_tier".to_owned(), json!(tier.as_str()));
    }
    if let Some(from) = &r.spilled_from {
        extra.insert("spilled_from".to_owned(), json!(from));
    }
    if let Some(Value::Object(accepted)) = summary.get_mut("accepted") {
        accepted.extend(extra);
    }
    summary
}

fn parse_fixture_event(body: &str) -> ParsedEvent<'_> {
    let fingerprinter = Fingerprinter::new(b"golden-test-secret");
    let tenant = Tenant::default_tenant();
    let fallback = RecordId::parse("eh-usage-p0-s42").unwrap();
    parse_event(
        body,
        ParseContext { fingerprinter: &fingerprinter, default_tenant: &tenant, fallback_id: &|| fallback.clone() },
    )
}

fn parse_fixture(body: &str) -> Result<ParsedRecord, Rejection> {
    let fingerprinter = Fingerprinter::new(b"golden-test-secret");
    let tenant = Tenant::default_tenant();
    let fallback = RecordId::parse("eh-usage-p0-s42").unwrap();
    parse_record(
        body,
        ParseContext { fingerprinter: &fingerprinter, default_tenant: &tenant, fallback_id: &|| fallback.clone() },
    )
}

#[test]
fn every_golden_record_parses_as_recorded() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.ends_with(".expected.json") {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        let body = body.strip_suffix('\n').unwrap_or(&body);
        let actual = summarise_event(&parse_fixture_event(body));
        let expected_path = path.with_extension("expected.json");
        if update {
            std::fs::write(&expected_path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        } else {
            let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
                panic!("{} is missing: run with UPDATE_GOLDEN=1 and review it", expected_path.display())
            }))
            .unwrap();
            assert_eq!(actual, expected, "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden records found");
}

#[test]
fn no_raw_key_survives_parsing_of_any_golden_record() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".expected.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains("0123456789abcdef0123456789abcdef"), "{}", path.display());
        }
    }
}

mod never_panics {
    use proptest::prelude::*;

    use super::parse_fixture;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn on_arbitrary_text(body in ".{0,400}") {
            let _ = parse_fixture(&body);
            let _ = super::parse_fixture_event(&body);
        }

        #[test]
        fn on_json_like_text(body in r#"\{("[A-Za-z_]{1,20}":(-?[0-9]{1,25}(\.[0-9]+)?|"[^"\\]{0,30}"|null|true|\{\}|\[\]),?){0,12}\}?"#) {
            let _ = parse_fixture(&body);
            let _ = super::parse_fixture_event(&body);
        }

        #[test]
        fn on_resource_log_records_with_arbitrary_values(
            category in "(GatewayLlmLogs|GatewayLogs|gatewaylogs|Other)", prompt in "[-0-9a-z.]{0,12}",
            id in ".{0,30}", ts in ".{0,30}", seq in any::<i64>(), headers in r#"[a-z{}":\[\], -]{0,40}"#,
        ) {
            let record = serde_json::json!({"time": ts, "category": category, "properties": {
                "correlationId": id, "promptTokens": prompt, "completionTokens": prompt, "sequenceNumber": seq,
                "responseHeaders": headers, "backendResponseBody": headers}});
            let _ = super::parse_fixture_event(&serde_json::json!({"records": [record.clone(), record.clone()]}).to_string());
            let _ = super::parse_fixture_event(&serde_json::json!([record.clone()]).to_string());
            let _ = super::parse_fixture_event(&record.to_string());
        }

        #[test]
        fn on_records_with_arbitrary_values(
            prompt in any::<i64>(), completion in "[-0-9a-z.]{0,12}", ts in ".{0,30}", key in ".{0,40}",
        ) {
            let body = serde_json::json!({"Timestamp": ts, "AppKey": key, "PromptTokens": prompt.to_string(),
                "CompletionTokens": completion, "TotalTokens": "x"}).to_string();
            let _ = parse_fixture(&body);
            let body = serde_json::json!({"schema": "usage.v1", "id": key, "timestamp": ts,
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}).to_string();
            let _ = parse_fixture(&body);
        }
    }
}
