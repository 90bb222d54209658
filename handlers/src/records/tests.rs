//! Golden tests: every file in `tests/fixtures/records/*.json` is an event
//! body; its `.expected.json` twin is what parsing must produce. Set
//! `UPDATE_GOLDEN=1` to rewrite the expectations after a deliberate change,
//! then review the diff.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::domain::Fingerprinter;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/records")
}

fn summarise(result: &Result<ParsedRecord, Rejection>) -> Value {
    match result {
        Ok(ParsedRecord { record: r, count_input }) => json!({
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
        Err(r) => {
            json!({ "rejected": { "reason": r.reason.as_str(), "detail": r.detail, "own_id": r.own_id.as_ref().map(|i| i.as_str()) } })
        }
    }
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
        let actual = summarise(&parse_fixture(body));
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
        }

        #[test]
        fn on_json_like_text(body in r#"\{("[A-Za-z_]{1,20}":(-?[0-9]{1,25}(\.[0-9]+)?|"[^"\\]{0,30}"|null|true|\{\}|\[\]),?){0,12}\}?"#) {
            let _ = parse_fixture(&body);
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
