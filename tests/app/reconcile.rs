//! Reconciling the demo month with its invoice: the CLI (exit codes, formats,
//! the true-up and its re-run), the API route, and a real-shaped Azure export
//! of other services.

use std::path::Path;
use std::process::Command;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::api::{KEY, keyed_settings, spawn_with};
use crate::helpers::*;
use chargeback::domain::{Currency, Period};
use chargeback::reconcile::Invoice;

fn chargeback(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(data_dir).env_remove("CHARGEBACK_FINGERPRINT_SECRET").env_remove("RUST_LOG");
    for name in ["CHARGEBACK_INVOICE_FILE", "CHARGEBACK_INVOICE_TRUE_UP", "CHARGEBACK_DEPLOYMENTS", "CHARGEBACK_PRICES"]
    {
        cmd.env_remove(name);
    }
    cmd
}

/// The demo month in `dir`; the path of its invoice export.
fn demo(dir: &Path) -> std::path::PathBuf {
    let out = chargeback(dir).args(["demo", "--month", "2026-10"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let invoice = dir.join("invoices/focus-cost-2026-10.csv");
    assert!(String::from_utf8_lossy(&out.stdout).contains("chargeback reconcile --month 2026-10 --invoice"));
    invoice
}

fn reports(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("reports/default/2026-10"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn the_demo_month_does_not_reconcile_and_its_true_up_sums_to_the_invoice_and_reruns_identically() {
    let dir = tempfile::tempdir().unwrap();
    let invoice = demo(dir.path());

    let out = chargeback(dir.path())
        .args(["reconcile", "--month", "2026-10", "--format", "json", "--invoice"])
        .arg(&invoice)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "does not reconcile: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["total"]["reconciles"], false);
    let status =
        |meter: &str| r["groups"].as_array().unwrap().iter().find(|g| g["meter"] == meter).map(|g| g["status"].clone());
    assert_eq!(status("gpt-4.1 global output"), Some("over".into()), "{r:#}");
    assert_eq!(status("o3-mini data-zone input"), Some("invoice only".into()), "{r:#}");
    assert_eq!(status("gpt-4o-mini global input"), Some("match".into()), "{r:#}");
    assert_eq!(status("provisioned"), Some("match".into()), "{r:#}");
    assert_eq!(r["other_rows"], 2);
    let invoice_total = d(r["total"]["invoice_cost"].as_str().unwrap());

    let table = chargeback(dir.path()).args(["reconcile", "--month", "2026-10", "--invoice"]).arg(&invoice).output();
    let table = String::from_utf8(table.unwrap().stdout).unwrap();
    assert!(table.contains("does NOT reconcile") && table.contains("invoice only"), "{table}");
    let csv = chargeback(dir.path())
        .args(["reconcile", "--month", "2026-10", "--format", "csv", "--invoice"])
        .arg(&invoice)
        .output();
    assert!(String::from_utf8(csv.unwrap().stdout).unwrap().starts_with("period,resource_id,deployment,meter,status"));

    // The demo's invoice-extractor records name no deployment: the invoice
    // cannot say what they cost, so the true-up is refused, not guessed.
    let before = reports(dir.path());
    let out = chargeback(dir.path())
        .args(["reconcile", "--month", "2026-10", "--true-up", "--invoice"])
        .arg(&invoice)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no resource_id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reports(dir.path()), before, "a refused true-up changes nothing");
    assert!(invoice_total > Decimal::ZERO);
}

const ACCOUNT: &str =
    "/subscriptions/0000/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-test";

/// A November of gpt-4o on one account: 3M prompt and 300k completion tokens,
/// 7.50 + 3.00 at the shipped global price.
fn november(dir: &Path) {
    november_for(dir, "default");
}

/// That November for a tenant.
fn november_for(dir: &Path, tenant: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("deployments.csv"),
        format!("deployment,model,resource_id\ngpt-4o-prod,gpt-4o,{ACCOUNT}\n"),
    )
    .unwrap();
    let file = dir.join("export.jsonl");
    let lines: Vec<String> = (0..3).map(|i| v1_record(&format!("r{i}"), 1_000_000, 100_000)).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    for args in [vec!["ingest", file.to_str().unwrap()], vec!["rollup", "--month", "2026-11"]] {
        let out = chargeback(dir).args(["--tenant", tenant]).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Microsoft's export of that November, with output billed 3 % over.
fn november_invoice(dir: &Path) -> std::path::PathBuf {
    let header = "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,\
                  ChargeClass,ConsumedQuantity,ConsumedUnit,EffectiveCost,ResourceId,ServiceName,SkuMeter,x_ResourceType,\
                  x_SkuMeterName";
    let row = |cost: &str, quantity: &str, meter: &str| {
        format!(
            "{cost},ba,USD,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,Usage,,{quantity},1K Tokens,{cost},{ACCOUNT},\
             Azure OpenAI,{meter},microsoft.cognitiveservices/accounts,{meter}"
        )
    };
    let vm = "4.20,ba,USD,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,Usage,,720,1 Hour,4.20,\
              /subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1,Virtual Machines,\
              D2s v5,microsoft.compute/virtualmachines,D2s v5";
    let text = [
        header.to_owned(),
        row("7.5", "3000", "gpt-4o-0806-Inp-glbl Tokens"),
        row("3.09", "300", "gpt-4o-0806-Outp-glbl Tokens"),
        vm.to_owned(),
    ]
    .join("\n");
    let path = dir.join("november.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_true_up_sums_to_the_invoice_shows_its_corrections_apart_and_reruns_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    november(&dir);
    let invoice = november_invoice(tmp.path());
    let before = std::fs::read(dir.join("reports/default/2026-11/chargeback.json")).unwrap();
    let true_up = || {
        let out = chargeback(&dir)
            .args(["reconcile", "--month", "2026-11", "--format", "json", "--true-up", "--invoice"])
            .arg(&invoice)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("reports/default/2026-11"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        (r, files)
    };
    let (r, first) = true_up();
    let groups = r["groups"].as_array().unwrap();
    let status: Vec<(&str, &str)> =
        groups.iter().map(|g| (g["meter"].as_str().unwrap(), g["status"].as_str().unwrap())).collect();
    assert_eq!(status, [("gpt-4o global input", "match"), ("gpt-4o global output", "over")], "{r:#}");
    assert_eq!((r["total"]["our_cost"].as_str(), r["total"]["invoice_cost"].as_str()), (Some("10.50"), Some("10.59")));
    assert_eq!(r["other_rows"], 1);
    let file = |name: &str| first.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_ne!(file("chargeback.json"), before);
    let statement: Value = serde_json::from_slice(&file("chargeback.json")).unwrap();
    assert_eq!(statement["total"], "10.59", "the trued-up statement sums to the invoice");
    assert_eq!(statement["corrections"], "0.09");
    let lines = String::from_utf8(file("chargeback.csv")).unwrap();
    assert!(lines.contains(",correction,unassigned,sub-a,gpt-4o,gpt-4o-prod,") && lines.contains(",0.09,"), "{lines}");
    let focus = file("focus.csv");
    let mut reader = csv::Reader::from_reader(focus.as_slice());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| d(&r[col("BilledCost")])).sum::<Decimal>(), d("10.59"));
    let corrections: Vec<_> = rows.iter().filter(|r| &r[col("ChargeClass")] == "Correction").collect();
    assert_eq!((corrections.len(), &corrections[0][col("BilledCost")]), (1, "0.09"));
    assert!(String::from_utf8(file("chargeback.html")).unwrap().contains("invoice correction"));
    assert!(first.iter().any(|(n, _)| n == "reconciliation.csv"));
    assert_eq!(true_up().1, first, "a second true-up writes byte-identical files");

    // Within the tolerance: the same export without the overbill reconciles (exit 0).
    let exact = std::fs::read_to_string(&invoice).unwrap().replace("3.09,", "3.00,").replace(",3.09,", ",3.00,");
    std::fs::write(&invoice, exact).unwrap();
    let out = chargeback(&dir).args(["reconcile", "--month", "2026-11", "--invoice"]).arg(&invoice).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2026-11 reconciles with the invoice"));
}

#[test]
fn bad_invoices_name_the_row_and_column_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let invoice = demo(dir.path());
    let before = reports(dir.path());
    let text = std::fs::read_to_string(&invoice).unwrap();
    for (name, body, expected) in [
        ("empty.csv", String::new(), "is empty".to_owned()),
        ("september.csv", text.replacen("2026-10-01T00:00:00Z", "2026-09-01T00:00:00Z", 1), "row 1, column".to_owned()),
        ("euro.csv", text.replace(",USD,", ",EUR,"), "row 1, column BillingCurrency".to_owned()),
        ("columns.csv", text.replacen("EffectiveCost", "Cost", 1), "lacks the column(s) EffectiveCost".to_owned()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &body).unwrap();
        let out = chargeback(dir.path())
            .args(["reconcile", "--month", "2026-10", "--true-up", "--invoice"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(&expected), "{name}: {stderr}");
        assert_eq!(reports(dir.path()), before, "{name} changed the reports");
    }
    let mut rows: Vec<String> = text.lines().map(str::to_owned).collect();
    let cost = rows[1].split(',').next().unwrap().to_owned();
    rows[1] = rows[1].replacen(&cost, "12.3.4", 1);
    let path = dir.path().join("number.csv");
    std::fs::write(&path, rows.join("\n")).unwrap();
    let out =
        chargeback(dir.path()).args(["reconcile", "--month", "2026-10", "--invoice"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 1, column BilledCost: \"12.3.4\" is not a decimal number"), "{stderr}");
    assert_eq!(reports(dir.path()), before);
}

#[test]
fn a_real_shaped_azure_export_of_other_services_is_read_and_its_rows_ignored() {
    let path = app_root().join("tests/fixtures/invoices/focus-data-toolkit-azure-1.2.csv");
    let may = Invoice::load(&path, Period::new(2026, 5).unwrap(), &Currency::USD).unwrap();
    assert_eq!((may.total_rows, may.rows.len(), may.other_rows), (40, 0, 40));
    let error = Invoice::load(&path, Period::new(2026, 10).unwrap(), &Currency::USD).unwrap_err().to_string();
    assert!(error.contains("row 1, column BillingPeriodStart") && error.contains("2026-05"), "{error}");
}

#[tokio::test]
async fn the_api_reconciles_a_posted_export_and_names_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let invoice = demo(dir.path());
    let api = spawn_with(keyed_settings(dir.path()), dir).await;
    let url = |q: &str| format!("{}/api/reconciliations/2026-10{q}", api.app.address);
    let body = std::fs::read(&invoice).unwrap();
    let response = api.app.client.post(url("")).header("x-functions-key", KEY).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let r: Value = response.json().await.unwrap();
    assert_eq!(r["total"]["reconciles"], false);
    assert!(r["groups"].as_array().unwrap().iter().any(|g| g["status"] == "over"));
    let csv =
        api.app.client.post(url("?format=csv")).header("x-functions-key", KEY).body(body.clone()).send().await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    // The demo's records name no deployment: its true-up is refused, naming the parameter.
    let refused =
        api.app.client.post(url("?true_up=true")).header("x-functions-key", KEY).body(body).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["parameter"], "true_up", "{problem}");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("no resource_id"), "{problem}");
    let bad = api.app.client.post(url("")).header("x-functions-key", KEY).body("x").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let problem: Value = bad.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap_or_default().contains("lacks the column"), "{problem}");
    let unrolled = api
        .app
        .client
        .post(format!("{}/api/reconciliations/2026-09", api.app.address))
        .header("x-functions-key", KEY)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(unrolled.status(), 404);
}

#[test]
fn the_rollup_reconciles_the_month_with_the_configured_export_and_trues_it_up_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    november(&dir);
    let invoice = november_invoice(tmp.path());
    let pattern = invoice.to_str().unwrap().replace("november", "{month}");
    std::fs::rename(&invoice, tmp.path().join("2026-11.csv")).unwrap();
    let rollup = |true_up: &str| {
        let out = chargeback(&dir)
            .args(["rollup", "--month", "2026-11"])
            .env("CHARGEBACK_INVOICE_FILE", &pattern)
            .env("CHARGEBACK_INVOICE_TRUE_UP", true_up)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = String::from_utf8(out.stdout).unwrap();
        let statement: Value =
            serde_json::from_slice(&std::fs::read(dir.join("reports/default/2026-11/chargeback.json")).unwrap())
                .unwrap();
        let reconciliation: Value =
            serde_json::from_slice(&std::fs::read(dir.join("reports/default/2026-11/reconciliation.json")).unwrap())
                .unwrap();
        (summary, statement["total"].clone(), reconciliation["total"]["reconciles"].clone())
    };
    let (summary, total, reconciles) = rollup("false");
    assert!(summary.contains("\"reconciles\": false"), "{summary}");
    assert_eq!((total, reconciles), (Value::from("10.50"), Value::from(false)), "reported, not trued up");
    let (_, total, _) = rollup("true");
    assert_eq!(total, "10.59", "trued up to the invoice");
}

/// A tenant's report files of a month, by name.
fn tenant_reports(dir: &Path, tenant: &str, month: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("reports").join(tenant).join(month))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn a_true_up_writes_its_own_tenants_reports_and_leaves_the_other_tenants_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    november(&dir);
    november_for(&dir, "acme");
    let invoice = november_invoice(tmp.path());
    let others = tenant_reports(&dir, "default", "2026-11");
    let out = chargeback(&dir)
        .args(["--tenant", "acme", "reconcile", "--month", "2026-11", "--true-up", "--invoice"])
        .arg(&invoice)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tenant_reports(&dir, "default", "2026-11"), others, "the other tenant's reports are untouched");
    assert!(!dir.join("reports/2026-11").exists(), "report files are tenant-scoped");
    let acme = tenant_reports(&dir, "acme", "2026-11");
    assert!(
        acme.iter().any(|(n, _)| n == "reconciliation.json"),
        "{:?}",
        acme.iter().map(|f| &f.0).collect::<Vec<_>>()
    );

    // `chargeback report` copies the trued-up files, the reconciliation's with them.
    let out_dir = tmp.path().join("out");
    let out = chargeback(&dir)
        .args(["--tenant", "acme", "report", "--month", "2026-11", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let statement: Value = serde_json::from_slice(&std::fs::read(out_dir.join("chargeback.json")).unwrap()).unwrap();
    assert_eq!(statement["total"], "10.59");
    assert!(out_dir.join("reconciliation.csv").exists());
    let untouched: Value =
        serde_json::from_slice(&std::fs::read(dir.join("reports/default/2026-11/chargeback.json")).unwrap()).unwrap();
    assert_eq!(untouched["total"], "10.50");
}
