//! A local stand-in for the Azure Retail Prices API: it answers the query
//! the sync sends with pages shaped exactly like the real answers
//! (`BillingCurrency`, `CustomerEntityId`, `CustomerEntityType`, `Items`,
//! `NextPageLink`, `Count`; items with every field the API returns), from
//! `tests/fixtures/retail-prices/foundry-models-usd.json`. It honours the
//! `$filter` (service, product prefix, regions) and `currencyCode`, and can
//! be told to fail: a 429 or a 5xx, a truncated page, a page that is not JSON.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Items per page (the real API gives 100; fewer here so a query has several pages).
pub const PAGE_SIZE: usize = 7;
/// EUR prices are the USD ones times this (exactly).
pub const EUR_RATE: &str = "0.92";

/// What the next request gets instead of its page.
#[derive(Debug, Clone)]
pub enum Failure {
    /// This status (429 comes with `Retry-After: 0`).
    Status(u16),
    /// The page's JSON cut off in the middle.
    Truncated,
    /// An HTML error page with status 200.
    NotJson,
}

#[derive(Debug, Default)]
struct Scenario {
    items: Vec<Value>,
    failures: VecDeque<(usize, Failure)>,
    requests: Vec<HashMap<String, String>>,
}

/// The running stand-in.
#[derive(Debug, Clone)]
pub struct ReplayApi {
    /// `http://127.0.0.1:PORT/api/retail/prices`.
    pub endpoint: String,
    scenario: Arc<Mutex<Scenario>>,
}

/// The fixture's items (USD).
pub fn fixture_items() -> Vec<Value> {
    let path = crate::helpers::app_root().join("tests/fixtures/retail-prices/foundry-models-usd.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl ReplayApi {
    /// Serves the fixture on a free port.
    pub async fn start() -> Self {
        let scenario = Arc::new(Mutex::new(Scenario { items: fixture_items(), ..Default::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/api/retail/prices", listener.local_addr().unwrap());
        let app =
            Router::new().route("/api/retail/prices", get(answer)).with_state((scenario.clone(), endpoint.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { endpoint, scenario }
    }

    /// Replaces a meter's price (in every region) from a date on, as the API
    /// does when Microsoft changes it: the item then carries the new
    /// `effectiveStartDate`.
    pub fn change_price(&self, meter_name: &str, retail_price: &str, effective: &str) {
        let mut s = self.scenario.lock().unwrap();
        for item in s.items.iter_mut().filter(|i| i["meterName"] == meter_name) {
            let price: Value = serde_json::from_str(retail_price).unwrap();
            item["retailPrice"] = price.clone();
            item["unitPrice"] = price;
            item["effectiveStartDate"] = json!(format!("{effective}T00:00:00Z"));
        }
    }

    /// The `n`-th request from now (0: the next) gets `failure` instead.
    pub fn fail(&self, n: usize, failure: Failure) {
        let mut s = self.scenario.lock().unwrap();
        let at = s.requests.len() + n;
        s.failures.push_back((at, failure));
    }

    /// The query parameters of every request so far.
    pub fn requests(&self) -> Vec<HashMap<String, String>> {
        self.scenario.lock().unwrap().requests.clone()
    }
}

type Shared = (Arc<Mutex<Scenario>>, String);

async fn answer(State((scenario, endpoint)): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let (items, failure) = {
        let mut s = scenario.lock().unwrap();
        let index = s.requests.len();
        s.requests.push(q.clone());
        let failure = match s.failures.iter().position(|(at, _)| *at == index) {
            Some(i) => s.failures.remove(i).map(|(_, f)| f),
            None => None,
        };
        (s.items.clone(), failure)
    };
    let currency = q.get("currencyCode").map(|c| c.trim_matches('\'').to_owned()).unwrap_or_else(|| "USD".into());
    let filter = q.get("$filter").cloned().unwrap_or_default();
    let skip: usize = q.get("$skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let selected: Vec<Value> =
        items.into_iter().filter(|i| matches(i, &filter)).map(|i| in_currency(i, &currency)).collect();
    let page: Vec<Value> = selected.iter().skip(skip).take(PAGE_SIZE).cloned().collect();
    let next = (skip + PAGE_SIZE < selected.len()).then(|| {
        // The API's own links name the port and repeat the query.
        let mut params: Vec<(String, String)> =
            q.iter().filter(|(k, _)| *k != "$skip").map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort();
        params.push(("$skip".into(), (skip + PAGE_SIZE).to_string()));
        format!("{endpoint}?{}", serde_urlencoded::to_string(&params).unwrap())
    });
    let body = json!({
        "BillingCurrency": currency,
        "CustomerEntityId": "Default",
        "CustomerEntityType": "Retail",
        "Items": page,
        "NextPageLink": next,
        "Count": page.len(),
    })
    .to_string();
    match failure {
        None => ([("content-type", "application/json; charset=utf-8")], body).into_response(),
        Some(Failure::Status(code)) => {
            let mut headers = HeaderMap::new();
            if code == 429 {
                headers.insert("retry-after", "0".parse().unwrap());
            }
            let status = StatusCode::from_u16(code).unwrap();
            (status, headers, format!("{{\"Error\":{{\"Code\":\"{}\",\"Message\":\"try later\"}}}}", status.as_str()))
                .into_response()
        }
        Some(Failure::Truncated) => {
            let cut = body.len() / 2;
            ([("content-type", "application/json; charset=utf-8")], body[..cut].to_owned()).into_response()
        }
        Some(Failure::NotJson) => {
            ([("content-type", "text/html")], "<html><body><h1>Service Unavailable</h1></body></html>").into_response()
        }
    }
}

/// Whether an item answers the filter: the service, the product prefix and,
/// when named, one of the regions (as the API evaluates them, case-sensitively).
fn matches(item: &Value, filter: &str) -> bool {
    let service = item["serviceName"].as_str().unwrap_or("");
    let product = item["productName"].as_str().unwrap_or("");
    let region = item["armRegionName"].as_str().unwrap_or("");
    let service_ok = filter.contains(&format!("serviceName eq '{service}'"));
    let product_ok = filter
        .split("startswith(productName, '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .is_some_and(|prefix| product.starts_with(prefix));
    let regions: Vec<&str> = filter.split("armRegionName eq '").skip(1).filter_map(|r| r.split('\'').next()).collect();
    let price_type_ok = filter.contains("priceType eq 'Consumption'") && item["type"] == "Consumption";
    service_ok && product_ok && price_type_ok && (regions.is_empty() || regions.contains(&region))
}

/// The item as the API gives it in `currency` (EUR: USD × 0.92, exactly).
fn in_currency(mut item: Value, currency: &str) -> Value {
    if currency == "USD" {
        return item;
    }
    let rate: Decimal = EUR_RATE.parse().unwrap();
    for field in ["retailPrice", "unitPrice"] {
        let text = item[field].to_string();
        let usd =
            if text.contains(['e', 'E']) { Decimal::from_scientific(&text).unwrap() } else { text.parse().unwrap() };
        item[field] = serde_json::from_str(&(usd * rate).normalize().to_string()).unwrap();
    }
    item["currencyCode"] = json!(currency);
    item
}
