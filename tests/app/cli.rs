//! The `chargeback` command as a user runs it.

use std::process::Command;

use crate::helpers::*;

fn chargeback(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(data_dir).env_remove("CHARGEBACK_FINGERPRINT_SECRET").env_remove("RUST_LOG");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ingesting_the_same_file_twice_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let key = "00112233445566778899aabbccddeeff";
    let lines = [
        v1_record("a", 10, 1),
        sample_record(key, 5, 5),
        sample_record(key, 5, 5),
        String::new(),
        "{broken".to_owned(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let data = dir.path().join("data");
    let first = run_ok(chargeback(&data).arg("ingest").arg(&file));
    assert!(first.contains("received 4  accepted 3  duplicates 0  dead-lettered 1"), "{first}");
    let second = run_ok(chargeback(&data).arg("ingest").arg(&file));
    assert!(second.contains("received 4  accepted 0  duplicates 3  dead-lettered 1"), "{second}");
}

#[test]
fn usage_reports_reconcile_with_what_was_ingested_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, [v1_record("a", 10, 1), v1_record("b", 20, 2)].join("\n")).unwrap();
    let data = dir.path().join("data");
    run_ok(chargeback(&data).arg("ingest").arg(&file));
    let json = run_ok(chargeback(&data).args(["usage", "--month", "2026-11", "--by", "model", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["total"]["total_tokens"], 33);
    assert_eq!(report["lines"][0]["key"], "gpt-4o");
    let csv = run_ok(chargeback(&data).args([
        "usage",
        "--from",
        "2026-11-26",
        "--to",
        "2026-11-26",
        "--by",
        "day",
        "--format",
        "csv",
    ]));
    assert!(csv.contains("2026-11-26,2,30,0,0,0,3,0,0,0,0,33,0,0"), "{csv}");
    let other_month = run_ok(chargeback(&data).args(["usage", "--month", "2026-10", "--format", "json"]));
    assert!(other_month.contains("\"requests\": 0"), "{other_month}");
}

#[test]
fn bad_arguments_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = chargeback(dir.path()).args(["usage", "--month", "2026-13"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not YYYY-MM"));
    let out = chargeback(dir.path()).args(["usage", "--by", "colour"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'colour'"));
}

#[test]
fn the_demo_ingests_a_month_and_prints_usage_per_business_unit() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(chargeback(dir.path()).args(["demo", "--month", "2026-10", "--records", "3000"]));
    for expected in
        ["Marketing", "Finance", "Customer Support", "R&D", "HR", "Legal", "unassigned", "TOTAL", "dead-lettered"]
    {
        assert!(out.contains(expected), "{expected} missing from:\n{out}");
    }
    let line = out.lines().find(|l| l.starts_with("Ingested:")).unwrap();
    let count = |line: &str, label: &str| -> u64 {
        let rest = &line[line.find(label).unwrap_or_else(|| panic!("{label} in {line}")) + label.len()..];
        rest.split_whitespace().next().unwrap().trim_end_matches(')').parse().unwrap()
    };
    let (received, accepted, duplicates, dead_lettered, ignored) = (
        count(line, "received "),
        count(line, "accepted "),
        count(line, "duplicates "),
        count(line, "dead-lettered "),
        count(line, "ignored "),
    );
    // 3000 events plus 3 replayed batches of 100; a resource-log event holds
    // one record per chunk or call, and every record is accounted for.
    assert!(received > 3300, "{line}");
    assert_eq!(received, accepted + duplicates + dead_lettered + ignored, "{line}");
    assert!(duplicates >= 290, "the replayed batches count as duplicates: {line}");
    let calls = out.lines().find(|l| l.contains("API Management resource logs:")).unwrap();
    assert!(count(calls, "logs: ") > 0 && count(calls, "subscription, ") > 0, "joined and unattributed calls: {calls}");

    // The fourth shape's calls are attributed to their subscription's
    // application, or unattributed when their gateway half never came.
    let usage = |by: &str| -> serde_json::Value {
        let json = run_ok(chargeback(dir.path()).args(["usage", "--month", "2026-10", "--by", by, "--format", "json"]));
        serde_json::from_str(&json).unwrap()
    };
    let line_of = |report: &serde_json::Value, key: &str| -> serde_json::Value {
        report["lines"].as_array().unwrap().iter().find(|l| l["key"] == key).cloned().unwrap_or_default()
    };
    let by_app = usage("app");
    assert!(line_of(&by_app, "contract-analyzer")["requests"].as_u64().unwrap_or(0) > 100, "{by_app}");
    assert!(line_of(&by_app, "unattributed")["requests"].as_u64().unwrap_or(0) > 0, "{by_app}");
    assert!(by_app["total"]["cache_write_tokens"].as_u64().unwrap() > 0, "cache writes: {by_app}");
    assert!(line_of(&usage("service-tier"), "priority")["requests"].as_u64().unwrap_or(0) > 0, "a priority tier");

    // The statement keeps the priority tier and the spilled calls apart and
    // the report shows them as such.
    let reports = dir.path().join("reports/default/2026-10");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("chargeback.json")).unwrap()).unwrap();
    let lines = json["lines"].as_array().unwrap();
    let spilled: Vec<_> = lines.iter().filter(|l| l["spilled_from"] == "gpt-4o-prod").collect();
    assert!(!spilled.is_empty() && spilled.iter().all(|l| l["deployment"] == "gpt-4o-std"), "{json:#}");
    assert!(lines.iter().any(|l| l["service_tier"] == "priority"), "{json:#}");
    let html = std::fs::read_to_string(reports.join("chargeback.html")).unwrap();
    assert!(html.contains("spilled from gpt-4o-prod") && html.contains("priority tier"), "the report says so");

    // No demo subscription key is on disk.
    let bytes = all_bytes_under(dir.path());
    let text = String::from_utf8_lossy(&bytes);
    for app in chargeback::cli::demo::traffic::apps() {
        assert!(
            !text.contains(&chargeback::cli::demo::traffic::subscription_key(&app, 42)),
            "{}'s key on disk",
            app.name
        );
    }
}

#[test]
fn the_demo_ends_with_the_months_report_and_its_budget_alerts_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_ok(chargeback(dir.path()).args(["demo", "--month", "2026-10"]));
    for expected in [
        "Chargeback 2026-10: 1618.28 USD in total",
        "Budget alert: R&D reached 100 % of its monthly budget",
        "Budget alert: Finance reached 80 % of its monthly budget",
        "reports/default/2026-10/chargeback.html",
    ] {
        assert!(first.contains(expected), "{expected} missing from:\n{first}");
    }
    assert!(!first.contains("Customer Support reached"), "{first}");
    let reports = dir.path().join("reports/default/2026-10");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("chargeback.json")).unwrap()).unwrap();
    let usage_total = first.lines().find(|l| l.starts_with("TOTAL")).unwrap().split_whitespace().nth(11).unwrap();
    assert_eq!(json["tokens"]["total_tokens"].to_string(), usage_total, "the report has every ledger token");
    let html = std::fs::read(reports.join("chargeback.html")).unwrap();

    let second = run_ok(chargeback(dir.path()).args(["demo", "--month", "2026-10"]));
    assert!(second.contains("Budget alerts: none new"), "{second}");
    assert!(second.contains("Chargeback 2026-10: 1618.28 USD in total"), "{second}");
    assert_eq!(std::fs::read(reports.join("chargeback.html")).unwrap(), html, "the same report, byte for byte");
}

#[test]
fn settings_lists_every_variable_the_code_reads() {
    let out = run_ok(Command::new(env!("CARGO_BIN_EXE_chargeback")).arg("settings"));
    for name in ["FUNCTIONS_CUSTOMHANDLER_PORT", "CHARGEBACK_DATA_DIR", "CHARGEBACK_FINGERPRINT_SECRET"] {
        assert!(out.contains(name), "{name}");
    }
    let src = std::fs::read_to_string(app_root().join("handlers/src/config.rs")).unwrap();
    for read in src.split("var(\"").skip(1) {
        let name = read.split('"').next().unwrap();
        assert!(out.contains(name), "config.rs reads {name} but `settings` does not list it");
    }
}

#[test]
fn an_unresolved_key_vault_reference_stops_the_app_instead_of_becoming_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = chargeback(dir.path())
        .env("CHARGEBACK_FINGERPRINT_SECRET", "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/fp)")
        .args(["fingerprint", "abc"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unresolved Key Vault reference"));
}
