//! Completion tokens of a response body: a stream of server-sent events
//! (Chat Completions or Completions chunks, or Responses API events) or a
//! plain JSON completion.
//!
//! For a stream, the deltas are joined per choice (`n > 1` gives several):
//! content, refusal, and each tool call's name and arguments; then each text
//! is counted once, as the service counts the whole output and not its chunks.
//! If a chunk carries `usage` (the final chunk when the client asked for
//! `stream_options.include_usage`, with empty `choices`), it is returned as
//! [`CompletionCount::reported`] and should be preferred over the count.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{CountError, Encoding, ReportedUsage, count_text, sse};

/// The estimated completion tokens of a response, and the reported usage if
/// the response carried it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletionCount {
    /// Estimated completion tokens, all choices together.
    pub tokens: u64,
    /// Estimated tokens of each choice, in choice-index order (element `i`
    /// is choice `i` whenever the indices run 0, 1, 2, ... as they do).
    pub choice_tokens: Vec<u64>,
    /// Tool (or function) calls seen.
    pub tool_calls: u32,
    /// The usage the service reported in the response, if any.
    pub reported: Option<ReportedUsage>,
    /// The `model` the response names, e.g. `gpt-4o-2024-08-06`.
    pub model: Option<String>,
    /// Stream events whose data was not JSON (e.g. a chunk cut off at the
    /// end of a truncated stream); they are skipped.
    pub skipped_events: u32,
}

/// The text a choice produced, gathered from its deltas.
#[derive(Debug, Default)]
struct ChoiceText {
    content: String,
    refusal: String,
    /// Tool calls by their index: name and arguments.
    tool_calls: BTreeMap<u64, (String, String)>,
}

/// Counts the completion tokens of a streamed (SSE) or plain JSON response.
pub fn count_completion(enc: Encoding, response_body: &str) -> Result<CompletionCount, CountError> {
    let mut count = CompletionCount::default();
    let mut choices: BTreeMap<u64, ChoiceText> = BTreeMap::new();
    if sse::looks_like_sse(response_body) {
        read_stream(response_body, &mut choices, &mut count)?;
    } else {
        let body: Value = serde_json::from_str(response_body).map_err(|_| CountError::UnreadableResponse)?;
        read_event(&body, &mut choices, &mut count);
    }
    for choice in choices.values() {
        let mut tokens = count_text(enc, &choice.content) + count_text(enc, &choice.refusal);
        for (name, arguments) in choice.tool_calls.values() {
            tokens += count_text(enc, name) + count_text(enc, arguments);
        }
        count.choice_tokens.push(tokens);
        count.tool_calls += choice.tool_calls.len() as u32;
    }
    count.tokens = count.choice_tokens.iter().sum();
    Ok(count)
}

/// Reads every event of a stream; an error if none of them is JSON.
fn read_stream(
    body: &str,
    choices: &mut BTreeMap<u64, ChoiceText>,
    count: &mut CompletionCount,
) -> Result<(), CountError> {
    let mut parsed = 0u32;
    let mut read = |json: &str, count: &mut CompletionCount| match serde_json::from_str::<Value>(json) {
        Ok(event) => {
            parsed += 1;
            read_event(&event, choices, count);
            true
        }
        Err(_) => false,
    };
    for data in sse::event_data(body) {
        if read(&data, count) {
            continue;
        }
        // A log that dropped the blank lines between events joins them into
        // one multi-line event: then read each line on its own.
        for line in data.lines().filter(|l| l.trim() != "[DONE]") {
            if !read(line, count) {
                count.skipped_events += 1;
            }
        }
    }
    if parsed == 0 {
        return Err(CountError::UnreadableResponse);
    }
    Ok(())
}

/// Reads one chunk (or a whole completion) into the choices' texts.
fn read_event(event: &Value, choices: &mut BTreeMap<u64, ChoiceText>, count: &mut CompletionCount) {
    if let Some(model) = event.get("model").and_then(Value::as_str) {
        count.model.get_or_insert_with(|| model.to_owned());
    }
    if let Some(usage) = event.get("usage").and_then(ReportedUsage::from_json) {
        count.reported = Some(usage);
    }
    if let Some(kind) = event.get("type").and_then(Value::as_str) {
        read_responses_event(kind, event, choices, count);
        return;
    }
    if let Some(items) = event.get("output").and_then(Value::as_array) {
        read_responses_output(items, choices);
        return;
    }
    for (position, choice) in event.get("choices").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let text = choices.entry(index).or_default();
        // Streamed chunks carry `delta`, whole completions `message`,
        // legacy completions `text`.
        if let Some(legacy) = choice.get("text").and_then(Value::as_str) {
            text.content.push_str(legacy);
        }
        let Some(message) = choice.get("delta").or_else(|| choice.get("message")) else {
            continue;
        };
        let str_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        text.content.push_str(&str_of(message, "content").unwrap_or_default());
        text.refusal.push_str(&str_of(message, "refusal").unwrap_or_default());
        let calls = message.get("tool_calls").and_then(Value::as_array);
        let legacy_call = message.get("function_call").map(std::slice::from_ref);
        for (position, call) in calls.map(Vec::as_slice).or(legacy_call).into_iter().flatten().enumerate() {
            let call_index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            let function = call.get("function").unwrap_or(call);
            let (name, arguments) = text.tool_calls.entry(call_index).or_default();
            name.push_str(&str_of(function, "name").unwrap_or_default());
            arguments.push_str(&str_of(function, "arguments").unwrap_or_default());
        }
    }
}

/// A whole Responses API response's `output` items: message text and
/// refusals, and function calls.
fn read_responses_output(items: &[Value], choices: &mut BTreeMap<u64, ChoiceText>) {
    let text = choices.entry(0).or_default();
    for (position, item) in items.iter().enumerate() {
        let str_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item.get("content").and_then(Value::as_array).into_iter().flatten() {
                    text.content.push_str(&str_of(part, "text"));
                    text.refusal.push_str(&str_of(part, "refusal"));
                }
            }
            Some("function_call") => {
                let call = (str_of(item, "name"), str_of(item, "arguments"));
                text.tool_calls.insert(position as u64, call);
            }
            _ => {}
        }
    }
}

/// Responses API stream events: text, refusal and function-call argument
/// deltas, per output item; usage from the final `response.completed`.
fn read_responses_event(
    kind: &str,
    event: &Value,
    choices: &mut BTreeMap<u64, ChoiceText>,
    count: &mut CompletionCount,
) {
    let delta = event.get("delta").and_then(Value::as_str).unwrap_or("");
    let output = event.get("output_index").and_then(Value::as_u64).unwrap_or(0);
    match kind {
        "response.output_text.delta" => choices.entry(0).or_default().content.push_str(delta),
        "response.refusal.delta" => choices.entry(0).or_default().refusal.push_str(delta),
        "response.function_call_arguments.delta" => {
            let calls = &mut choices.entry(0).or_default().tool_calls;
            calls.entry(output).or_default().1.push_str(delta);
        }
        "response.output_item.added" => {
            let item = event.get("item");
            if item.and_then(|i| i.get("type")).and_then(Value::as_str) == Some("function_call") {
                let name = item.and_then(|i| i.get("name")).and_then(Value::as_str).unwrap_or("");
                let calls = &mut choices.entry(0).or_default().tool_calls;
                calls.entry(output).or_default().0.push_str(name);
            }
        }
        _ => {
            let response = event.get("response");
            if let Some(usage) = response.and_then(|r| r.get("usage")).and_then(ReportedUsage::from_json) {
                count.reported = Some(usage);
            }
            if let Some(model) = response.and_then(|r| r.get("model")).and_then(Value::as_str) {
                count.model.get_or_insert_with(|| model.to_owned());
            }
        }
    }
}
