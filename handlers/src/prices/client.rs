//! The Azure Retail Prices API client: one query, every page.
//!
//! `GET {endpoint}?api-version=2023-01-01-preview&currencyCode='USD'&$filter=…`
//! answers `{"BillingCurrency", "CustomerEntityId", "CustomerEntityType",
//! "Items": [...], "NextPageLink", "Count"}`; the client follows
//! `NextPageLink` (on the same host only) until it is null. A 429, a 5xx or
//! a dropped connection is retried with exponential backoff (honouring
//! `Retry-After`); any other failure, or a page that is not that envelope,
//! ends the read with an error and no items at all, so a caller can never
//! act on part of an answer. Prices are read from the JSON text exactly
//! (decimal, never through a float).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::{StatusCode, Url};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Where Microsoft publishes the retail prices.
pub const DEFAULT_ENDPOINT: &str = "https://prices.azure.com/api/retail/prices";
/// The API version: filter values are case-sensitive from this one on.
pub const API_VERSION: &str = "2023-01-01-preview";
/// Azure OpenAI meters: this service, products whose name starts so.
pub const SERVICE_NAME: &str = "Foundry Models";
/// The product name prefix of Azure OpenAI meters (`Azure OpenAI`, `Azure OpenAI GPT5`, …).
pub const PRODUCT_PREFIX: &str = "Azure OpenAI";

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Three-letter currency code (`USD`).
    pub currency: String,
    /// `armRegionName`s to read (`eastus2`); empty: every region.
    pub regions: Vec<String>,
}

/// Why a query is refused before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Not a currency code.
    #[error("currency {0:?} is not a three-letter code such as USD or EUR")]
    Currency(String),
    /// Not an Azure region name.
    #[error("region {0:?} is not an Azure region name such as eastus2 or swedencentral")]
    Region(String),
}

impl Query {
    /// A checked query; region names are lower-cased and deduplicated.
    pub fn new(currency: &str, regions: &[String]) -> Result<Self, QueryError> {
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(QueryError::Currency(currency));
        }
        let mut checked = Vec::new();
        for region in regions {
            let r = region.trim().to_ascii_lowercase();
            if r.is_empty() || !r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                return Err(QueryError::Region(region.clone()));
            }
            if !checked.contains(&r) {
                checked.push(r);
            }
        }
        checked.sort();
        Ok(Self { currency, regions: checked })
    }

    /// The OData `$filter` (values quoted; they contain no quote).
    pub fn filter(&self) -> String {
        let mut filter = format!(
            "serviceName eq '{SERVICE_NAME}' and startswith(productName, '{PRODUCT_PREFIX}') and priceType eq 'Consumption'"
        );
        if !self.regions.is_empty() {
            let regions: Vec<String> = self.regions.iter().map(|r| format!("armRegionName eq '{r}'")).collect();
            filter.push_str(&format!(" and ({})", regions.join(" or ")));
        }
        filter
    }

    /// The first page's URL at `endpoint`.
    pub fn url(&self, endpoint: &str) -> String {
        url_with(endpoint, &self.currency, &self.filter())
    }
}

/// A URL at `endpoint` with the API version, currency and `filter`.
pub fn url_with(endpoint: &str, currency: &str, filter: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("api-version", API_VERSION),
        ("currencyCode", &format!("'{currency}'")),
        ("$filter", filter),
    ])
    .unwrap_or_default();
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{separator}{query}")
}

/// One item of an answer: every field the API returns that we keep.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetailPrice {
    /// Currency of the prices.
    pub currency_code: String,
    /// Units from which this price applies (0 unless the meter is tiered).
    #[serde(deserialize_with = "exact_decimal", default)]
    pub tier_minimum_units: Decimal,
    /// Microsoft's retail price per `unit_of_measure`.
    #[serde(deserialize_with = "exact_decimal")]
    pub retail_price: Decimal,
    /// The unit price (the retail price, on the retail API).
    #[serde(deserialize_with = "exact_decimal", default)]
    pub unit_price: Decimal,
    /// Region (`eastus2`).
    pub arm_region_name: String,
    /// Region as a display name (`US East 2`).
    #[serde(default)]
    pub location: String,
    /// When the price took effect.
    pub effective_start_date: DateTime<Utc>,
    /// The meter's id.
    pub meter_id: String,
    /// The meter's name.
    pub meter_name: String,
    /// Product id.
    #[serde(default)]
    pub product_id: String,
    /// SKU id.
    #[serde(default)]
    pub sku_id: String,
    /// Product name (`Azure OpenAI GPT5`).
    pub product_name: String,
    /// SKU name.
    #[serde(default)]
    pub sku_name: String,
    /// Service name (`Foundry Models`).
    pub service_name: String,
    /// Service id.
    #[serde(default)]
    pub service_id: String,
    /// Service family.
    #[serde(default)]
    pub service_family: String,
    /// What one unit of the price is (`1K`, `1M Tokens`, `1 Hour`).
    pub unit_of_measure: String,
    /// `Consumption`, `Reservation` or `DevTestConsumption`.
    #[serde(rename = "type")]
    pub price_type: String,
    /// Whether this is the meter's primary region.
    #[serde(default)]
    pub is_primary_meter_region: bool,
    /// ARM SKU name (empty for these meters).
    #[serde(default)]
    pub arm_sku_name: String,
    /// Reservation term, for reservations.
    #[serde(default)]
    pub reservation_term: Option<String>,
}

impl RetailPrice {
    /// The first UTC day the price applies.
    pub fn effective_from(&self) -> NaiveDate {
        self.effective_start_date.date_naive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    billing_currency: String,
    items: Vec<RetailPrice>,
    #[serde(default)]
    next_page_link: Option<String>,
    count: usize,
}

/// A price number as the JSON text writes it (`0.00015`, `1.5E-05`), exactly.
fn exact_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let raw: &RawValue = Deserialize::deserialize(deserializer)?;
    let text = raw.get().trim_matches('"');
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(text) } else { text.parse() };
    parsed.map_err(|_| serde::de::Error::custom(format!("{text} is not a decimal number")))
}

/// Every item of a query's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The items of every page, in order.
    pub items: Vec<RetailPrice>,
    /// Pages read.
    pub pages: usize,
    /// The first page's URL.
    pub url: String,
}

/// How failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per page, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub first_delay: Duration,
    /// Longest wait (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 5, first_delay: Duration::from_secs(2), max_delay: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.first_delay.saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        retry_after.unwrap_or(backoff).min(self.max_delay)
    }
}

/// Why a read failed. Nothing of the answer is returned.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    /// The endpoint or a next-page link is not a URL we follow.
    #[error("{0}")]
    Url(String),
    /// The API answered with an error status (after the retries, for 429 and 5xx).
    #[error("GET {url} answered {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The page.
        url: String,
        /// The last status.
        status: StatusCode,
        /// Tries made.
        attempts: u32,
        /// The start of the answer's body.
        body: String,
    },
    /// The API could not be reached or the answer was cut off (after the retries).
    #[error("GET {url} failed after {attempts} attempt(s): {source}")]
    Transport {
        /// The page.
        url: String,
        /// Tries made.
        attempts: u32,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A page is not the API's JSON envelope.
    #[error("page {page} ({url}) is not a Retail Prices answer: {message}")]
    Malformed {
        /// 1-based page number.
        page: usize,
        /// The page.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// The Retail Prices API at an endpoint.
#[derive(Debug, Clone)]
pub struct RetailPricesClient {
    http: reqwest::Client,
    endpoint: String,
    retry: RetryPolicy,
    max_pages: usize,
}

/// Longest page body read (a page is 100 items, some 60 KB).
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

impl RetailPricesClient {
    /// A client for `endpoint` (usually [`DEFAULT_ENDPOINT`]).
    pub fn new(endpoint: &str, retry: RetryPolicy) -> Result<Self, ClientError> {
        let url = Url::parse(endpoint).map_err(|e| ClientError::Url(format!("endpoint {endpoint:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(ClientError::Url(format!("endpoint {endpoint:?}: use an https:// (or http://) URL")));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("chargeback/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self { http, endpoint: endpoint.to_owned(), retry, max_pages: 5_000 })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every item the query answers, or an error and nothing.
    pub async fn fetch(&self, query: &Query) -> Result<Answer, ClientError> {
        let first = query.url(&self.endpoint);
        let origin = Url::parse(&first).map_err(|e| ClientError::Url(format!("{first}: {e}")))?;
        let mut items = Vec::new();
        let mut next = Some(first.clone());
        let mut seen = std::collections::HashSet::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > self.max_pages || !seen.insert(url.clone()) {
                return Err(ClientError::Malformed {
                    page: pages,
                    url,
                    message: "the next-page links do not end (a page repeats, or more than 5000 pages)".to_owned(),
                });
            }
            let body = self.get(&url).await?;
            let malformed = |message: String| ClientError::Malformed { page: pages, url: url.clone(), message };
            let page: Page = serde_json::from_slice(&body).map_err(|e| malformed(e.to_string()))?;
            if page.count != page.items.len() {
                return Err(malformed(format!("Count is {} but it holds {} items", page.count, page.items.len())));
            }
            if page.billing_currency != query.currency {
                return Err(malformed(format!(
                    "BillingCurrency {} (asked for {})",
                    page.billing_currency, query.currency
                )));
            }
            if let Some(other) = page.items.iter().find(|i| i.currency_code != query.currency) {
                return Err(malformed(format!("meter {} is priced in {}", other.meter_id, other.currency_code)));
            }
            items.extend(page.items);
            next = match page.next_page_link.filter(|l| !l.trim().is_empty()) {
                None => None,
                Some(link) => Some(same_origin(&origin, &link).map_err(malformed)?),
            };
        }
        Ok(Answer { items, pages, url: first })
    }

    /// One page's body, retrying 429, 5xx and transport failures.
    async fn get(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts.max(1);
            let (retry_after, failure) = match self.http.get(url).send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        match read_body(response).await {
                            Ok(body) => return Ok(body),
                            Err(source) => {
                                (None, ClientError::Transport { url: url.to_owned(), attempts: attempt, source })
                            }
                        }
                    } else {
                        let retry_after = retry_after(&response);
                        let body = response.text().await.unwrap_or_default();
                        let failure = ClientError::Status {
                            url: url.to_owned(),
                            status,
                            attempts: attempt,
                            body: body.chars().take(300).collect(),
                        };
                        if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) {
                            return Err(failure);
                        }
                        (retry_after, failure)
                    }
                }
                Err(source) => (None, ClientError::Transport { url: url.to_owned(), attempts: attempt, source }),
            };
            if last {
                return Err(failure);
            }
            let wait = self.retry.delay(attempt, retry_after);
            tracing::warn!(url, attempt, wait_ms = wait.as_millis() as u64, error = %failure, "retail prices: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_PAGE_BYTES {
            break;
        }
    }
    Ok(body)
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `link` if it is on the same scheme, host and port as `origin`.
fn same_origin(origin: &Url, link: &str) -> Result<String, String> {
    let url = Url::parse(link).or_else(|_| origin.join(link)).map_err(|e| format!("NextPageLink {link:?}: {e}"))?;
    let same = url.scheme() == origin.scheme()
        && url.host_str() == origin.host_str()
        && url.port_or_known_default() == origin.port_or_known_default();
    if same {
        Ok(url.to_string())
    } else {
        Err(format!("NextPageLink {link:?} leaves {}", origin.origin().ascii_serialization()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_names_the_service_the_products_and_the_regions() {
        let query =
            Query::new("usd", &["SwedenCentral".to_owned(), "eastus2".to_owned(), "eastus2".to_owned()]).unwrap();
        assert_eq!(query.currency, "USD");
        assert_eq!(
            query.filter(),
            "serviceName eq 'Foundry Models' and startswith(productName, 'Azure OpenAI') and priceType eq 'Consumption' \
             and (armRegionName eq 'eastus2' or armRegionName eq 'swedencentral')"
        );
        let url = query.url(DEFAULT_ENDPOINT);
        assert!(url.starts_with("https://prices.azure.com/api/retail/prices?api-version=2023-01-01-preview&currencyCode=%27USD%27&%24filter=serviceName+eq+%27Foundry+Models%27"), "{url}");
        assert!(!Query::new("USD", &[]).unwrap().filter().contains("armRegionName"));
    }

    #[test]
    fn bad_currencies_and_regions_are_refused_before_anything_is_sent() {
        assert_eq!(Query::new("dollars", &[]), Err(QueryError::Currency("DOLLARS".into())));
        assert!(matches!(Query::new("USD", &["east us".into()]), Err(QueryError::Region(_))));
        assert!(matches!(Query::new("USD", &["x' or 1 eq 1".into()]), Err(QueryError::Region(_))));
    }

    #[test]
    fn prices_are_read_exactly_from_the_json_text() {
        let item = r#"{"currencyCode":"USD","tierMinimumUnits":0.0,"retailPrice":1.5E-05,"unitPrice":0.00015,
            "armRegionName":"eastus2","location":"US East 2","effectiveStartDate":"2024-07-18T00:00:00Z",
            "meterId":"m","meterName":"n","productId":"p","skuId":"s","productName":"Azure OpenAI","skuName":"n",
            "serviceName":"Foundry Models","serviceId":"x","serviceFamily":"AI + Machine Learning",
            "unitOfMeasure":"1K","type":"Consumption","isPrimaryMeterRegion":true,"armSkuName":""}"#;
        let price: RetailPrice = serde_json::from_str(item).unwrap();
        assert_eq!(price.retail_price, "0.000015".parse().unwrap());
        assert_eq!(price.unit_price, "0.00015".parse().unwrap());
        assert_eq!(price.effective_from(), NaiveDate::from_ymd_opt(2024, 7, 18).unwrap());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy =
            RetryPolicy { attempts: 5, first_delay: Duration::from_millis(100), max_delay: Duration::from_millis(350) };
        let waits: Vec<u128> = (1..=4).map(|n| policy.delay(n, None).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        assert_eq!(policy.delay(1, Some(Duration::from_secs(30))).as_millis(), 350);
    }

    #[test]
    fn next_page_links_stay_on_the_api_host() {
        let origin = Url::parse("https://prices.azure.com/api/retail/prices?x=1").unwrap();
        assert!(same_origin(&origin, "https://prices.azure.com:443/api/retail/prices?$skip=100").is_ok());
        assert!(same_origin(&origin, "https://evil.example/api/retail/prices?$skip=100").is_err());
        assert!(same_origin(&origin, "http://prices.azure.com/api/retail/prices").is_err());
    }
}
