//! The monthly chargeback report, rendered from a fixture month and opened in
//! headless Chromium: the page loads from a file with nothing external, its
//! charts are SVG in the rendered DOM, and text from records stays text.

use std::path::Path;
use std::process::Command;

use chargeback::billing::{self, DeploymentCatalogue, PriceCatalogue, REPORT_FILES, Statement};
use chargeback::directory::seed::parse_deployments;
use chargeback::domain::{ApplicationMap, Period, TokenSource, TokenTotals, UsageAggregate};
use chrono::NaiveDate;

use crate::helpers::chromium;

const DEPLOYMENTS: &str = "deployment,model,deployment_type,ptu_monthly_cost,capacity_tokens_per_minute\n\
                           chat-global,gpt-4o,global,,\n\
                           mini-global,gpt-4o-mini,global,,\n\
                           eu-nano,gpt-5-nano,data-zone,,\n\
                           embed,text-embedding-3-small,regional,,\n\
                           ptu-claims,gpt-4.1,provisioned,2600.00,30000\n";

/// A month of usage: four business units, an unmapped party whose name is
/// markup, a model without a price, pending records and a PTU deployment.
pub fn fixture_statement() -> Statement {
    let applications = ApplicationMap::from_rows([
        ("app-claims", "Claims assistant", "Insurance"),
        ("app-underwriting", "Underwriting copilot", "Insurance"),
        ("app-search", "Product search", "Retail"),
        ("app-support", "Support chat", "Customer Service"),
        ("app-hr", "HR policy bot", "People"),
    ])
    .unwrap();
    let mut aggregates = Vec::new();
    for n in 1..=30u32 {
        let day = NaiveDate::from_ymd_opt(2026, 11, n).unwrap();
        let weekday = !matches!(n % 7, 0 | 6);
        let load = if weekday { 10 + u64::from(n % 5) } else { 3 };
        let mut push = |party: &str,
                        model: &str,
                        deployment: &str,
                        source: TokenSource,
                        requests: u64,
                        prompt: u64,
                        completion: u64| {
            let pending = source == TokenSource::Pending;
            aggregates.push(UsageAggregate {
                day,
                party: party.into(),
                model: model.into(),
                deployment: deployment.into(),
                token_source: source,
                service_tier: String::new(),
                spilled_from: String::new(),
                tokens: TokenTotals {
                    requests,
                    prompt: if pending { 0 } else { prompt },
                    completion: if pending { 0 } else { completion },
                    cached: if pending || model.starts_with("text-embedding") || model == "gpt-5-nano" {
                        0
                    } else {
                        prompt / 3
                    },
                    reasoning: 0,
                    ..Default::default()
                },
            });
        };
        push(
            "app-claims",
            "gpt-4.1-2025-04-14",
            "ptu-claims",
            TokenSource::Reported,
            400 * load,
            2_600_000 * load,
            310_000 * load,
        );
        push(
            "app-underwriting",
            "gpt-4.1-2025-04-14",
            "ptu-claims",
            TokenSource::Reported,
            120 * load,
            900_000 * load,
            90_000 * load,
        );
        push(
            "app-underwriting",
            "gpt-4o-2024-08-06",
            "chat-global",
            TokenSource::Reported,
            90 * load,
            700_000 * load,
            120_000 * load,
        );
        push(
            "app-search",
            "gpt-4o-mini-2024-07-18",
            "mini-global",
            TokenSource::Reported,
            2_000 * load,
            9_000_000 * load,
            600_000 * load,
        );
        push(
            "app-search",
            "text-embedding-3-small",
            "embed",
            TokenSource::Reported,
            5_000 * load,
            12_000_000 * load,
            0,
        );
        push(
            "app-support",
            "gpt-4o-2024-08-06",
            "chat-global",
            TokenSource::Reported,
            300 * load,
            1_800_000 * load,
            420_000 * load,
        );
        push(
            "app-support",
            "gpt-4o-2024-08-06",
            "chat-global",
            TokenSource::Estimated,
            40 * load,
            200_000 * load,
            60_000 * load,
        );
        push("app-support", "gpt-4o-2024-08-06", "chat-global", TokenSource::Pending, 3, 0, 0);
        push("app-hr", "gpt-5-nano", "eu-nano", TokenSource::Reported, 150 * load, 1_100_000 * load, 0);
        push(
            "<script>alert('x')</script>",
            "llama-3.3-70b",
            "oss",
            TokenSource::Reported,
            20 * load,
            300_000 * load,
            40_000 * load,
        );
    }
    let deployments = DeploymentCatalogue::new(&parse_deployments(DEPLOYMENTS).unwrap());
    let prices = PriceCatalogue::shipped().unwrap();
    billing::compute(Period::new(2026, 11).unwrap(), &aggregates, &applications, &deployments, &prices).unwrap()
}

fn write_report(statement: &Statement, dir: &Path) {
    for (name, bytes) in billing::render(statement) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn the_report_files_are_the_lines_the_days_the_json_and_the_page() {
    let statement = fixture_statement();
    let files = billing::render(&statement);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, REPORT_FILES);
    let text = |name: &str| String::from_utf8(files.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap();

    let lines = text("chargeback.csv");
    let mut reader = csv::Reader::from_reader(lines.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "period");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), statement.lines.len());
    let at = header.iter().position(|h| h == "cost").unwrap();
    assert!(rows.iter().any(|r| &r[at] == "unpriced" && &r[4] == "llama-3.3-70b"));
    let cost: rust_decimal::Decimal = rows.iter().filter_map(|r| r[at].parse::<rust_decimal::Decimal>().ok()).sum();
    assert_eq!(cost, statement.total.amount());

    let daily = text("daily.csv");
    assert_eq!(daily.lines().count(), 31, "a header and every day of November");
    assert!(daily.lines().next().unwrap().ends_with(",cost,currency,unpriced_tokens"), "{daily}");

    let json: serde_json::Value = serde_json::from_str(&text("chargeback.json")).unwrap();
    assert_eq!(json["period"], "2026-11");
    // Unpriced is never an amount: the unpriced line and the unit with only it have no cost.
    let llama = json["lines"].as_array().unwrap().iter().find(|l| l["model"] == "llama-3.3-70b").unwrap();
    assert!(llama["cost"].is_null(), "{llama}");
    let unassigned = json["business_units"].as_array().unwrap().iter().find(|b| b["business_unit"] == "unassigned");
    assert!(unassigned.unwrap()["cost"].is_null(), "{json}");
    assert!(json["daily"].as_array().unwrap().iter().all(|d| d["unpriced_tokens"].as_u64().unwrap() > 0));
    assert!(json["total"].is_string(), "money is a decimal string: {}", json["total"]);
    assert_eq!(json["total"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap(), statement.total.amount());

    let html = text("chargeback.html");
    assert!(!html.contains("<script"), "record text is escaped, and the page has no scripts");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    for external in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "nothing external: {external}");
    }
}

#[test]
fn the_page_renders_in_headless_chromium_with_its_charts() {
    let Some(chromium) = chromium() else { return };
    let statement = fixture_statement();
    let dir = tempfile::tempdir().unwrap();
    write_report(&statement, dir.path());
    if let Some(keep) = std::env::var_os("CHARGEBACK_KEEP_REPORT") {
        std::fs::create_dir_all(&keep).unwrap();
        write_report(&statement, Path::new(&keep));
    }
    let page = format!("file://{}", dir.path().join("chargeback.html").display());
    let run = |args: &[&str]| {
        let output = Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2000"])
            .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
            .args(args)
            .arg(&page)
            .output()
            .unwrap();
        assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
        output
    };

    let dom = String::from_utf8(run(&["--dump-dom"]).stdout).unwrap();
    assert!(dom.contains("Azure OpenAI chargeback"), "the page loaded: {}", &dom[..dom.len().min(300)]);
    assert!(dom.matches("<svg").count() >= 2, "both charts are SVG in the DOM");
    assert!(dom.contains("<rect class=\"bar\""), "the business unit bars are drawn");
    assert!(dom.contains("<rect class=\"column\""), "the daily columns are drawn");
    assert!(dom.contains("<polyline class=\"token-line\""), "the token line is drawn");
    assert!(!dom.contains("<script"), "no script element, the party name stayed text");
    assert!(dom.contains("unpriced") && dom.contains("unused capacity"));
    // Unpriced usage is never an amount: the rows of the unpriced model and of
    // the unit that has only it say so, in every table of the rendered page.
    let rows: Vec<&str> = dom.split("<tr").skip(1).filter_map(|r| r.split("</tr>").next()).collect();
    let unpriced_rows: Vec<&&str> =
        rows.iter().filter(|r| r.contains("llama-3.3-70b") || r.contains("unassigned")).collect();
    assert!(unpriced_rows.len() >= 6, "top models, all lines, business units, top applications: {unpriced_rows:?}");
    for row in &unpriced_rows {
        assert!(!row.contains("$0.00") && !row.contains(">0.00"), "an unpriced row shows no amount: {row}");
    }
    let top_model = rows.iter().find(|r| r.contains("llama-3.3-70b") && r.contains("meter")).unwrap();
    assert!(top_model.contains(">unpriced<"), "the top models row says unpriced: {top_model}");

    let screenshot = dir.path().join("report.png");
    run(&[&format!("--screenshot={}", screenshot.display())]);
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot ({} bytes)", png.len());
    if let Some(keep) = std::env::var_os("CHARGEBACK_KEEP_REPORT") {
        std::fs::copy(&screenshot, Path::new(&keep).join("report.png")).unwrap();
    }
}
