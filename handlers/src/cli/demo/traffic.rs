//! Synthetic but realistic API Management traffic for one month: several
//! business units and applications, several models, all four record shapes
//! (the three our policies write, and API Management's resource logs with
//! their two halves in separate events), streamed responses without usage,
//! cache writes, a priority tier, calls spilled over from the provisioned
//! deployment, poison records and replayed batches. Deterministic for a given
//! seed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// How an application's gateway logs its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    /// Our v1 record with an application claim.
    V1App,
    /// Our v1 record with only a subscription id.
    V1Subscription,
    /// The APIM sample policy (raw key in `AppKey`).
    ApimSample,
    /// APIM forwarding full bodies (raw key in `appSubscriptionKey`).
    ApimFullBody,
    /// API Management's own resource logs from a diagnostic setting: a
    /// `GatewayLlmLogs` half (tokens) and a `GatewayLogs` half (the
    /// subscription id) per call, in separate events.
    ResourceLogs,
}

/// One application of the demo estate.
#[derive(Debug, Clone)]
pub struct DemoApp {
    /// Application name.
    pub name: &'static str,
    /// Business unit (None: deliberately missing from the mapping).
    pub business_unit: Option<&'static str>,
    /// How its calls are logged.
    pub logging: Logging,
    /// Relative traffic weight.
    pub weight: u32,
    /// (deployment, model) pairs it calls.
    pub deployments: &'static [(&'static str, &'static str)],
    /// Share of its calls that are streamed (per mille).
    pub streamed_per_mille: u32,
    /// Share of its calls served at the priority tier (per mille; v1 records).
    pub priority_per_mille: u32,
}

const GPT4O: (&str, &str) = ("gpt-4o-prod", "gpt-4o-2024-08-06");
const GPT4O_MINI: (&str, &str) = ("gpt-4o-mini-std", "gpt-4o-mini-2024-07-18");
const GPT41: (&str, &str) = ("gpt-41-global", "gpt-4.1-2025-04-14");
const O3_MINI: (&str, &str) = ("o3-mini-dz", "o3-mini-2025-01-31");
const EMBED: (&str, &str) = ("embed-large", "text-embedding-3-large");
const GPT35: (&str, &str) = ("legacy-35", "gpt-35-turbo-0125");
const GPT5_MINI: (&str, &str) = ("gpt-5-mini-global", "gpt-5-mini-2025-08-07");
/// The standard deployment the provisioned `gpt-4o-prod` spills over to.
const GPT4O_SPILLOVER: &str = "gpt-4o-std";

/// The demo estate.
pub fn apps() -> Vec<DemoApp> {
    vec![
        DemoApp {
            name: "marketing-copilot",
            business_unit: Some("Marketing"),
            logging: Logging::V1App,
            weight: 18,
            deployments: &[GPT4O, GPT4O_MINI],
            streamed_per_mille: 120,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "campaign-writer",
            business_unit: Some("Marketing"),
            logging: Logging::ApimSample,
            weight: 8,
            deployments: &[GPT35],
            streamed_per_mille: 0,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "finance-assistant",
            business_unit: Some("Finance"),
            logging: Logging::V1Subscription,
            weight: 10,
            deployments: &[GPT41, GPT4O_MINI],
            streamed_per_mille: 50,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "invoice-extractor",
            business_unit: Some("Finance"),
            logging: Logging::ApimFullBody,
            weight: 7,
            deployments: &[GPT4O],
            streamed_per_mille: 0,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "support-bot",
            business_unit: Some("Customer Support"),
            logging: Logging::V1App,
            weight: 22,
            deployments: &[GPT4O_MINI],
            streamed_per_mille: 200,
            priority_per_mille: 40,
        },
        DemoApp {
            name: "ticket-triage",
            business_unit: Some("Customer Support"),
            logging: Logging::V1App,
            weight: 9,
            deployments: &[GPT4O_MINI, EMBED],
            streamed_per_mille: 0,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "code-review",
            business_unit: Some("R&D"),
            logging: Logging::V1App,
            weight: 8,
            deployments: &[O3_MINI, GPT41, GPT5_MINI],
            streamed_per_mille: 80,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "research-rag",
            business_unit: Some("R&D"),
            logging: Logging::V1Subscription,
            weight: 10,
            deployments: &[EMBED, GPT41],
            streamed_per_mille: 30,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "hr-helpdesk",
            business_unit: Some("HR"),
            logging: Logging::ApimSample,
            weight: 5,
            deployments: &[GPT4O_MINI],
            streamed_per_mille: 0,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "contract-analyzer",
            business_unit: Some("Legal"),
            logging: Logging::ResourceLogs,
            weight: 6,
            deployments: &[GPT41, GPT4O],
            streamed_per_mille: 100,
            priority_per_mille: 0,
        },
        DemoApp {
            name: "shadow-script",
            business_unit: None,
            logging: Logging::V1Subscription,
            weight: 3,
            deployments: &[GPT4O],
            streamed_per_mille: 0,
            priority_per_mille: 0,
        },
    ]
}

/// The raw APIM subscription key of a demo application (deterministic; it
/// must never appear in anything the app stores).
pub fn subscription_key(app: &DemoApp, seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed ^ fnv(app.name));
    (0..32).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)])).collect()
}

/// The APIM subscription id of a demo application.
pub fn subscription_id(app: &DemoApp) -> String {
    format!("sub-{}", app.name)
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// One generated event body and its partition.
#[derive(Debug, Clone)]
pub struct GeneratedEvent {
    /// The body.
    pub body: String,
    /// The Event Hub partition it would land on (by subscription).
    pub partition: u32,
}

/// Which applications a generated month's traffic comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mix {
    /// The demo estate's applications that log with a policy: the three
    /// policy-written record shapes, one record per event (the mix of
    /// `docs/benchmarks.md`, measured before it had cache writes, a priority
    /// tier and spilled calls).
    #[default]
    Demo,
    /// The whole demo estate, what `chargeback demo` sends: the demo mix and
    /// the application whose gateway streams API Management's resource logs
    /// (two halves per call, in separate events).
    Full,
    /// Only the applications logging with the APIM sample policy (PascalCase
    /// records without an id, raw keys): the legacy shape.
    LegacySample,
}

impl Mix {
    /// The applications of this mix.
    pub fn apps(self) -> Vec<DemoApp> {
        let all = apps();
        match self {
            Self::Demo => all.into_iter().filter(|a| a.logging != Logging::ResourceLogs).collect(),
            Self::Full => all,
            Self::LegacySample => all.into_iter().filter(|a| a.logging == Logging::ApimSample).collect(),
        }
    }
}

/// Generates `count` events of the whole demo estate ([`Mix::Full`]) for the
/// month starting on `first_day`, at random times of the month. About 0.5 %
/// are poison records of several kinds.
pub fn generate(first_day: NaiveDate, count: usize, seed: u64, partitions: u32) -> Vec<GeneratedEvent> {
    generate_mix(first_day, count, seed, partitions, Mix::Full, None)
}

/// The times of `count` calls of the month starting on `first_day`, in time
/// order: what a live Event Hub delivers (see [`generate_mix`]).
pub fn ordered_times(first_day: NaiveDate, count: usize, seed: u64) -> Vec<DateTime<Utc>> {
    let days = month_days(first_day);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7469_6d65);
    let mut times: Vec<DateTime<Utc>> = (0..count).map(|_| business_time(&mut rng, first_day, days)).collect();
    times.sort_unstable();
    times
}

/// Generates `count` events of a mix; at the given `times` (one per event,
/// e.g. from [`ordered_times`]) or, when `None`, at random times of the month.
pub fn generate_mix(
    first_day: NaiveDate,
    count: usize,
    seed: u64,
    partitions: u32,
    mix: Mix,
    times: Option<&[DateTime<Utc>]>,
) -> Vec<GeneratedEvent> {
    let apps = mix.apps();
    let total_weight: u32 = apps.iter().map(|a| a.weight).sum();
    let days = month_days(first_day);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::with_capacity(count);
    // Events sent later than their call (the other half of a resource-log
    // call, a resent one): (how many events go out before it, the event).
    let mut later: Vec<(usize, GeneratedEvent)> = Vec::new();
    let mut n = 0;
    while events.len() < count {
        let mut pick = rng.random_range(0..total_weight);
        let app = apps
            .iter()
            .find(|a| {
                if pick < a.weight {
                    true
                } else {
                    pick -= a.weight;
                    false
                }
            })
            .unwrap_or(&apps[0]);
        let at = match times.and_then(|t| t.get(n)) {
            Some(&at) => at,
            None => business_time(&mut rng, first_day, days),
        };
        let partition = u32::try_from(fnv(app.name) % u64::from(partitions)).unwrap_or(0);
        if rng.random_range(0..1000) < 5 {
            events.push(GeneratedEvent { body: poison(&mut rng, app, at, seed, n), partition });
        } else if app.logging == Logging::ResourceLogs {
            for (delay, body) in resource_log_events(&mut rng, app, at, seed, n) {
                let event = GeneratedEvent { body, partition };
                if delay == 0 { events.push(event) } else { later.push((events.len() + delay, event)) }
            }
        } else {
            events.push(GeneratedEvent { body: record(&mut rng, app, at, seed, n), partition });
        }
        let mut i = 0;
        while i < later.len() {
            if later[i].0 <= events.len() {
                events.push(later.remove(i).1);
            } else {
                i += 1;
            }
        }
        n += 1;
    }
    events.extend(later.into_iter().map(|(_, event)| event));
    // Exactly `count` events: a half cut off here is one whose partner never comes.
    events.truncate(count);
    events
}

fn month_days(first_day: NaiveDate) -> u32 {
    let next = first_day.checked_add_months(chrono::Months::new(1)).unwrap_or(first_day);
    u32::try_from((next - first_day).num_days()).unwrap_or(30)
}

/// A time in the month, weighted to working days and hours.
fn business_time(rng: &mut StdRng, first_day: NaiveDate, days: u32) -> DateTime<Utc> {
    loop {
        let day = first_day + Duration::days(i64::from(rng.random_range(0..days)));
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let hour = if rng.random_range(0..10) < 8 { rng.random_range(7..19) } else { rng.random_range(0..24) };
        if weekend && rng.random_range(0..10) < 7 {
            continue;
        }
        let t = Utc.from_utc_datetime(
            &day.and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60)).unwrap_or_default(),
        );
        return t + Duration::milliseconds(rng.random_range(0..1000));
    }
}

fn request_id(seed: u64, n: usize) -> String {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(n as u64));
    let hex: String = (0..32).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)])).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

struct Tokens {
    prompt: u64,
    completion: u64,
    cached: u64,
    cache_write: u64,
    reasoning: u64,
}

fn tokens(rng: &mut StdRng, model: &str) -> Tokens {
    if model.starts_with("text-embedding") {
        return Tokens { prompt: rng.random_range(8..2000), completion: 0, cached: 0, cache_write: 0, reasoning: 0 };
    }
    let prompt = rng.random_range(40..6000);
    let completion = rng.random_range(5..1200);
    let cached = if prompt > 1024 && rng.random_range(0..3) == 0 { (prompt / 1024) * 1024 / 2 } else { 0 };
    // gpt-5 models report the prompt prefix they wrote to the cache on a miss.
    let cache_write = if model.starts_with("gpt-5") && cached == 0 && prompt > 1024 && rng.random_range(0..2) == 0 {
        (prompt / 1024) * 1024 / 2
    } else {
        0
    };
    let reasoning = if model.starts_with("o3") || model.starts_with("gpt-5") {
        completion * rng.random_range(30..80) / 100
    } else {
        0
    };
    Tokens { prompt, completion, cached, cache_write, reasoning }
}

/// The deployment that served a call to `deployment` and the one it spilled
/// over from: at the morning peak of working days a third of the provisioned
/// deployment's calls find it full (429) and Azure OpenAI serves them from the
/// standard deployment.
fn served(rng: &mut StdRng, deployment: &'static str, at: DateTime<Utc>) -> (&'static str, Option<&'static str>) {
    let peak = (9..12).contains(&at.hour()) && !matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
    if deployment == GPT4O.0 && peak && rng.random_range(0..3) == 0 {
        (GPT4O_SPILLOVER, Some(deployment))
    } else {
        (deployment, None)
    }
}

fn operation(model: &str) -> &'static str {
    if model.starts_with("text-embedding") {
        "embeddings"
    } else if model.starts_with("gpt-5") {
        "responses"
    } else {
        "chat.completions"
    }
}

fn record(rng: &mut StdRng, app: &DemoApp, at: DateTime<Utc>, seed: u64, n: usize) -> String {
    let (deployment, model) = app.deployments[rng.random_range(0..app.deployments.len())];
    let t = tokens(rng, model);
    let streamed = !model.starts_with("text-embedding") && rng.random_range(0..1000) < app.streamed_per_mille;
    let usage = if operation(model) == "responses" {
        // The Responses API's names (cache writes: gpt-5 models).
        json!({
            "input_tokens": t.prompt, "output_tokens": t.completion, "total_tokens": t.prompt + t.completion,
            "input_tokens_details": {"cached_tokens": t.cached, "cache_write_tokens": t.cache_write},
            "output_tokens_details": {"reasoning_tokens": t.reasoning}
        })
    } else {
        json!({
            "prompt_tokens": t.prompt, "completion_tokens": t.completion, "total_tokens": t.prompt + t.completion,
            "prompt_tokens_details": {"cached_tokens": t.cached},
            "completion_tokens_details": {"reasoning_tokens": t.reasoning}
        })
    };
    let key = subscription_key(app, seed);
    match app.logging {
        Logging::V1App | Logging::V1Subscription => {
            let (served_by, spilled_from) = served(rng, deployment, at);
            let mut record = json!({
                "schema": "usage.v1", "id": request_id(seed, n),
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "subscription_id": subscription_id(app), "deployment": served_by, "model": model,
                "operation": operation(model), "status": 200, "streamed": streamed,
                "latency_ms": rng.random_range(200..9000),
            });
            // What the policy logs from the response headers after a spillover,
            // and the tier the response says it was billed at.
            if let Some(from) = spilled_from {
                record["spilled_from"] = json!(from);
            }
            if rng.random_range(0..1000) < app.priority_per_mille {
                record["service_tier"] = json!("priority");
            }
            if app.logging == Logging::V1App {
                record["application"] = json!(app.name);
                record["user"] = json!(format!("user-{}", rng.random_range(1..60)));
            }
            // Streamed calls: most clients set include_usage (usage present);
            // one in three does not, and the gateway forwards the bodies instead.
            if streamed && rng.random_range(0..3) == 0 {
                record["request_body"] = json!({"model": model, "stream": true,
                    "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                 {"role": "user", "content": format!("Summarise ticket {n} for the weekly report.")}]});
                record["response_body"] = json!(sse_body(model, n));
            } else {
                record["usage"] = usage;
            }
            record.to_string()
        }
        Logging::ApimSample => json!({
            "Timestamp": at.format("%-m/%-d/%Y %-I:%M:%S %p").to_string(),
            "ApiOperation": if model.starts_with("text-embedding") { "list" } else { "chat.completion" },
            "AppKey": key, "PromptTokens": t.prompt.to_string(),
            "CompletionTokens": t.completion.to_string(), "TotalTokens": (t.prompt + t.completion).to_string(),
        })
        .to_string(),
        Logging::ApimFullBody => json!({
            "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "apiOperation": "ChatCompletions_Create", "appSubscriptionKey": key,
            "request": {"model": deployment, "messages": [{"role": "user", "content": "Extract the invoice fields."}], "max_tokens": 800},
            "response": {"id": format!("chatcmpl-{n}"), "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{\"total\": \"1,234.00\"}"}}],
                         "usage": usage},
        })
        .to_string(),
        // Poison records start from one record; the usual split is resource_log_events.
        Logging::ResourceLogs => {
            let call = Call { at, correlation: &request_id(seed, n), n, deployment, model, streamed };
            json!({"records": [llm_log(&call, &t, 0)]}).to_string()
        }
    }
}

/// The resource-log records of one call, as events with how many other
/// events go out before each (0: now). The `GatewayLlmLogs` half (its chunks
/// in one event, tokens on the first; one call in five is long enough to be
/// split) and the `GatewayLogs` half travel separately, in either order and
/// often in different batches; one call in 40 loses its gateway half (it ends
/// `unattributed`), one in 100 has its LLM half sent twice, and one gateway
/// event in 20 also holds a record of another API (not usage).
fn resource_log_events(
    rng: &mut StdRng,
    app: &DemoApp,
    at: DateTime<Utc>,
    seed: u64,
    n: usize,
) -> Vec<(usize, String)> {
    let (deployment, model) = app.deployments[rng.random_range(0..app.deployments.len())];
    let t = tokens(rng, model);
    let streamed = rng.random_range(0..1000) < app.streamed_per_mille;
    let (served_by, spilled_from) = served(rng, deployment, at);
    let correlation = request_id(seed, n);
    let chunks = if rng.random_range(0..5) == 0 { rng.random_range(2..4) } else { 1 };
    let call = Call { at, correlation: &correlation, n, deployment, model, streamed };
    let llm: Vec<_> = (0..chunks).map(|i| llm_log(&call, &t, i)).collect();
    let llm = json!({"records": llm}).to_string();
    let mut headers = json!({"x-ms-deployment-name": served_by, "x-ms-region": "Sweden Central"});
    if let Some(from) = spilled_from {
        headers["x-ms-spillover-from-deployment"] = json!(from);
        headers["x-ms-spillover-error"] = json!("429");
    }
    let openai = ("azure-openai", "ChatCompletions_Create");
    let mut records =
        vec![gateway_log(at, &correlation, openai, &subscription_id(app), headers, rng.random_range(300..9000))];
    if rng.random_range(0..20) == 0 {
        let other = request_id(seed ^ 0x006f_7468_6572, n);
        let directory = ("hr-directory", "get-employee");
        records.push(gateway_log(at, &other, directory, "sub-intranet", json!({}), rng.random_range(5..80)));
    }
    let gateway = json!({"records": records}).to_string();
    let lag = rng.random_range(1..400);
    let mut events = if rng.random_range(0..2) == 0 {
        vec![(0, llm.clone()), (lag, gateway)]
    } else {
        vec![(0, gateway), (lag, llm.clone())]
    };
    if rng.random_range(0..40) == 0 {
        events.retain(|(_, body)| body == &llm);
        events[0].0 = 0;
    }
    if rng.random_range(0..100) == 0 {
        events.push((rng.random_range(500..2000), llm));
    }
    events
}

/// What both halves of a resource-log call say about it.
struct Call<'a> {
    at: DateTime<Utc>,
    correlation: &'a str,
    n: usize,
    deployment: &'a str,
    model: &'a str,
    streamed: bool,
}

/// The demo's API Management instance (a made-up ARM id).
const APIM_RESOURCE_ID: &str = "/SUBSCRIPTIONS/00000000-0000-4000-8000-00000000D3E0/RESOURCEGROUPS/RG-AI-DEMO/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM-DEMO";

/// A resource log's `time`: seven fractional digits, as Azure Monitor writes it.
fn resource_log_time(at: DateTime<Utc>) -> String {
    format!("{}0000Z", at.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// A `GatewayLlmLogs` record: chunk `sequence` of a call's messages, the
/// tokens on the first chunk only (continuation chunks state no counts and
/// name no deployment).
fn llm_log(call: &Call<'_>, t: &Tokens, sequence: u32) -> serde_json::Value {
    let counting = sequence == 0;
    let (prompt, completion, cached) = if counting { (t.prompt, t.completion, t.cached) } else { (0, 0, 0) };
    json!({
        "time": resource_log_time(call.at), "resourceId": APIM_RESOURCE_ID,
        "operationName": "Microsoft.ApiManagement/GatewayLlmLogs", "category": "GatewayLlmLogs",
        "resultType": "Succeeded", "correlationId": call.correlation, "level": "Informational",
        "location": "Sweden Central",
        "properties": {
            "correlationId": call.correlation, "requestId": format!("chatcmpl-l{}", call.n),
            "deploymentName": if counting { call.deployment } else { "" }, "modelName": call.model,
            "operationName": "ChatCompletions_Create", "apiVersion": "2024-10-21",
            "promptTokens": prompt, "completionTokens": completion, "totalTokens": prompt + completion,
            "promptCachedTokens": cached, "isStreamCompletion": call.streamed, "region": "swedencentral",
            "sequenceNumber": sequence,
            "requestMessages": [{"role": "user", "content": "Flag the indemnity clauses of this contract."}],
            "responseMessages": [{"role": "assistant", "content": "Clauses 7.2 and 11.4 cap liability."}],
        },
    })
}

/// A `GatewayLogs` record of a call to an API operation: its caller (the
/// APIM subscription) and the response headers the gateway logs.
fn gateway_log(
    at: DateTime<Utc>,
    correlation: &str,
    (api_id, operation_id): (&str, &str),
    subscription: &str,
    headers: serde_json::Value,
    duration_ms: u64,
) -> serde_json::Value {
    json!({
        "time": resource_log_time(at), "resourceId": APIM_RESOURCE_ID,
        "operationName": "Microsoft.ApiManagement/GatewayLogs", "category": "GatewayLogs",
        "resultType": "Succeeded", "resultSignature": "200", "durationMs": duration_ms,
        "callerIpAddress": "203.0.113.7", "correlationId": correlation, "location": "Sweden Central",
        "properties": {
            "method": "POST", "responseCode": 200, "backendResponseCode": 200, "apiId": api_id,
            "operationId": operation_id, "apimSubscriptionId": subscription, "productId": "ai-standard",
            "userId": "1", "backendId": "aoai-demo-swc", "correlationId": correlation,
            "backendResponseHeaders": headers,
        },
    })
}

fn sse_body(model: &str, n: usize) -> String {
    let words = ["The", " ticket", " reports", " a", " failed", " login", " after", " the", " password", " reset", "."];
    let mut body = String::new();
    for (i, w) in words.iter().enumerate() {
        let chunk = json!({"id": format!("chatcmpl-s{n}"), "object": "chat.completion.chunk", "model": model,
                           "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": if i + 1 == words.len() { json!("stop") } else { json!(null) }}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    body
}

fn poison(rng: &mut StdRng, app: &DemoApp, at: DateTime<Utc>, seed: u64, n: usize) -> String {
    let good = record(rng, app, at, seed, n);
    match rng.random_range(0..5) {
        // APIM truncates messages above 200 KB: the body ends mid-record.
        0 => good[..good.len() / 2].to_owned(),
        1 => format!(
            "{{\"Timestamp\": \"{}\", \"AppKey\": \"{}\", \"PromptTokens\": \"-{}\", \"CompletionTokens\": \"3\"}}",
            at.format("%-m/%-d/%Y %-I:%M:%S %p"),
            subscription_key(app, seed),
            rng.random_range(1..50)
        ),
        2 => json!({"schema": "usage.v1", "id": request_id(seed, n), "subscription_id": subscription_id(app),
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        .to_string(),
        3 => json!({"schema": "usage.v1", "id": request_id(seed, n), "timestamp": at.to_rfc3339(),
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 99}})
        .to_string(),
        _ => format!("ERROR {} upstream timeout at {}", at.hour(), at.to_rfc3339()),
    }
}
