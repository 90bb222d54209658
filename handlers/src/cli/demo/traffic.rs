//! Synthetic but realistic API Management traffic for one month: several
//! business units and applications, several models, all three record shapes,
//! streamed responses without usage, poison records and replayed batches.
//! Deterministic for a given seed.

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
}

const GPT4O: (&str, &str) = ("gpt-4o-prod", "gpt-4o-2024-08-06");
const GPT4O_MINI: (&str, &str) = ("gpt-4o-mini-std", "gpt-4o-mini-2024-07-18");
const GPT41: (&str, &str) = ("gpt-41-global", "gpt-4.1-2025-04-14");
const O3_MINI: (&str, &str) = ("o3-mini-dz", "o3-mini-2025-01-31");
const EMBED: (&str, &str) = ("embed-large", "text-embedding-3-large");
const GPT35: (&str, &str) = ("legacy-35", "gpt-35-turbo-0125");

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
        },
        DemoApp {
            name: "campaign-writer",
            business_unit: Some("Marketing"),
            logging: Logging::ApimSample,
            weight: 8,
            deployments: &[GPT35],
            streamed_per_mille: 0,
        },
        DemoApp {
            name: "finance-assistant",
            business_unit: Some("Finance"),
            logging: Logging::V1Subscription,
            weight: 10,
            deployments: &[GPT41, GPT4O_MINI],
            streamed_per_mille: 50,
        },
        DemoApp {
            name: "invoice-extractor",
            business_unit: Some("Finance"),
            logging: Logging::ApimFullBody,
            weight: 7,
            deployments: &[GPT4O],
            streamed_per_mille: 0,
        },
        DemoApp {
            name: "support-bot",
            business_unit: Some("Customer Support"),
            logging: Logging::V1App,
            weight: 22,
            deployments: &[GPT4O_MINI],
            streamed_per_mille: 200,
        },
        DemoApp {
            name: "ticket-triage",
            business_unit: Some("Customer Support"),
            logging: Logging::V1App,
            weight: 9,
            deployments: &[GPT4O_MINI, EMBED],
            streamed_per_mille: 0,
        },
        DemoApp {
            name: "code-review",
            business_unit: Some("R&D"),
            logging: Logging::V1App,
            weight: 8,
            deployments: &[O3_MINI, GPT41],
            streamed_per_mille: 80,
        },
        DemoApp {
            name: "research-rag",
            business_unit: Some("R&D"),
            logging: Logging::V1Subscription,
            weight: 10,
            deployments: &[EMBED, GPT41],
            streamed_per_mille: 30,
        },
        DemoApp {
            name: "hr-helpdesk",
            business_unit: Some("HR"),
            logging: Logging::ApimSample,
            weight: 5,
            deployments: &[GPT4O_MINI],
            streamed_per_mille: 0,
        },
        DemoApp {
            name: "shadow-script",
            business_unit: None,
            logging: Logging::V1Subscription,
            weight: 3,
            deployments: &[GPT4O],
            streamed_per_mille: 0,
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
    /// The whole demo estate: all three record shapes.
    #[default]
    Demo,
    /// Only the applications logging with the APIM sample policy (PascalCase
    /// records without an id, raw keys): the legacy shape.
    LegacySample,
}

impl Mix {
    /// The applications of this mix.
    pub fn apps(self) -> Vec<DemoApp> {
        let all = apps();
        match self {
            Self::Demo => all,
            Self::LegacySample => all.into_iter().filter(|a| a.logging == Logging::ApimSample).collect(),
        }
    }
}

/// Generates `count` events for the month starting on `first_day`, at
/// random times of the month. About 0.5 % are poison records of several kinds.
pub fn generate(first_day: NaiveDate, count: usize, seed: u64, partitions: u32) -> Vec<GeneratedEvent> {
    generate_mix(first_day, count, seed, partitions, Mix::Demo, None)
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
    for n in 0..count {
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
        let body = if rng.random_range(0..1000) < 5 {
            poison(&mut rng, app, at, seed, n)
        } else {
            record(&mut rng, app, at, seed, n)
        };
        events.push(GeneratedEvent { body, partition });
    }
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
    reasoning: u64,
}

fn tokens(rng: &mut StdRng, model: &str) -> Tokens {
    if model.starts_with("text-embedding") {
        return Tokens { prompt: rng.random_range(8..2000), completion: 0, cached: 0, reasoning: 0 };
    }
    let prompt = rng.random_range(40..6000);
    let completion = rng.random_range(5..1200);
    let cached = if prompt > 1024 && rng.random_range(0..3) == 0 { (prompt / 1024) * 1024 / 2 } else { 0 };
    let reasoning = if model.starts_with("o3") { completion * rng.random_range(30..80) / 100 } else { 0 };
    Tokens { prompt, completion, cached, reasoning }
}

fn operation(model: &str) -> &'static str {
    if model.starts_with("text-embedding") { "embeddings" } else { "chat.completions" }
}

fn record(rng: &mut StdRng, app: &DemoApp, at: DateTime<Utc>, seed: u64, n: usize) -> String {
    let (deployment, model) = app.deployments[rng.random_range(0..app.deployments.len())];
    let t = tokens(rng, model);
    let streamed = !model.starts_with("text-embedding") && rng.random_range(0..1000) < app.streamed_per_mille;
    let usage = json!({
        "prompt_tokens": t.prompt, "completion_tokens": t.completion, "total_tokens": t.prompt + t.completion,
        "prompt_tokens_details": {"cached_tokens": t.cached},
        "completion_tokens_details": {"reasoning_tokens": t.reasoning}
    });
    let key = subscription_key(app, seed);
    match app.logging {
        Logging::V1App | Logging::V1Subscription => {
            let mut record = json!({
                "schema": "usage.v1", "id": request_id(seed, n),
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "subscription_id": subscription_id(app), "deployment": deployment, "model": model,
                "operation": operation(model), "status": 200, "streamed": streamed,
                "latency_ms": rng.random_range(200..9000),
            });
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
    }
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
