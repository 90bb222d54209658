//! Prompt tokens of a request body.
//!
//! Chat messages follow the rule OpenAI publishes in its cookbook ("How to
//! count tokens with tiktoken"), which matches the API's `prompt_tokens` for
//! gpt-35-turbo, gpt-4, gpt-4o and gpt-4o-mini: 3 tokens per message, the
//! tokens of its role, content and name, 1 more for a `name`, and 3 for the
//! priming of the reply. Tool definitions are counted by [`crate::tools`].
//! Legacy completions prompts and embeddings inputs are counted as plain text
//! (or as token arrays, by their length).

use serde_json::Value;

use crate::tools::count_tool_definitions;
use crate::{CountError, Encoding, count_text};

/// Tokens every chat message adds (`<|start|>{role}\n{content}<|end|>\n`).
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens a `name` on a message adds beyond the name's own tokens.
pub const TOKENS_PER_NAME: u64 = 1;
/// Tokens that prime the reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: u64 = 3;

/// Which kind of request body was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Chat Completions `messages` (or a bare messages array).
    Chat,
    /// Legacy Completions `prompt`.
    Completions,
    /// Embeddings `input` (or Responses `input` given as text).
    Input,
}

/// The estimated prompt tokens of a request body, and what was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptCount {
    /// Prompt tokens, overhead included.
    pub tokens: u64,
    /// What kind of body it was.
    pub kind: PromptKind,
    /// Chat messages counted (0 for other kinds).
    pub messages: u32,
    /// Tool / function definitions counted.
    pub tool_definitions: u32,
    /// Image parts, whose tokens depend on the image and are not counted.
    pub images_not_counted: u32,
    /// Audio and file parts, not counted either.
    pub other_parts_not_counted: u32,
}

/// Counts the prompt tokens of a request body: a chat completions body (or
/// a bare messages array), a legacy completions body (`prompt` as a string,
/// strings, or token arrays), or an embeddings body (`input`). A Responses
/// API `input` given as messages is counted like chat messages, with its
/// `instructions` as a system message.
pub fn count_prompt(enc: Encoding, request_body: &Value) -> Result<PromptCount, CountError> {
    if let Value::Array(messages) = request_body {
        return count_chat(enc, messages, None, None);
    }
    if let Some(messages) = request_body.get("messages") {
        let messages = messages.as_array().ok_or_else(|| CountError::shape("messages", "an array of messages"))?;
        let tools = request_body.get("tools");
        return count_chat(enc, messages, tools, request_body.get("functions"));
    }
    if let Some(prompt) = request_body.get("prompt") {
        return Ok(plain(PromptKind::Completions, count_inputs(enc, prompt, "prompt")?));
    }
    if let Some(input) = request_body.get("input") {
        if let Some(items) = input.as_array().filter(|a| a.iter().any(|i| i.get("role").is_some())) {
            let mut messages = Vec::with_capacity(items.len() + 1);
            if let Some(instructions) = request_body.get("instructions").filter(|i| i.is_string()) {
                messages.push(serde_json::json!({"role": "system", "content": instructions}));
            }
            messages.extend(items.iter().cloned());
            return count_chat(enc, &messages, request_body.get("tools"), None);
        }
        return Ok(plain(PromptKind::Input, count_inputs(enc, input, "input")?));
    }
    Err(CountError::NothingToCount)
}

fn plain(kind: PromptKind, tokens: u64) -> PromptCount {
    PromptCount { tokens, kind, messages: 0, tool_definitions: 0, images_not_counted: 0, other_parts_not_counted: 0 }
}

/// A string, an array of strings, an array of token ids, or an array of
/// token-id arrays.
fn count_inputs(enc: Encoding, value: &Value, field: &str) -> Result<u64, CountError> {
    const EXPECTED: &str = "a string, strings, token ids or arrays of token ids";
    match value {
        Value::String(s) => Ok(count_text(enc, s)),
        Value::Array(items) => items.iter().enumerate().try_fold(0, |sum, (i, item)| {
            let tokens = match item {
                Value::String(s) => count_text(enc, s),
                Value::Number(_) => 1,
                Value::Array(ids) if ids.iter().all(Value::is_number) => ids.len() as u64,
                _ => return Err(CountError::shape(format!("{field}[{i}]"), EXPECTED)),
            };
            Ok(sum + tokens)
        }),
        _ => Err(CountError::shape(field, EXPECTED)),
    }
}

fn count_chat(
    enc: Encoding,
    messages: &[Value],
    tools: Option<&Value>,
    functions: Option<&Value>,
) -> Result<PromptCount, CountError> {
    let (tool_tokens, tool_definitions) = count_tool_definitions(enc, tools, functions)?;
    let mut count = PromptCount {
        tokens: REPLY_PRIMING_TOKENS + tool_tokens,
        kind: PromptKind::Chat,
        messages: 0,
        tool_definitions,
        images_not_counted: 0,
        other_parts_not_counted: 0,
    };
    for (i, message) in messages.iter().enumerate() {
        let message = message.as_object().ok_or_else(|| CountError::shape(format!("messages[{i}]"), "an object"))?;
        count.messages += 1;
        count.tokens += TOKENS_PER_MESSAGE;
        for (key, value) in message {
            let field = || format!("messages[{i}].{key}");
            count.tokens += match (key.as_str(), value) {
                ("content", content) => count_content(enc, content, &mut count, &field)?,
                ("name", Value::String(name)) => count_text(enc, name) + TOKENS_PER_NAME,
                ("tool_calls", Value::Array(calls)) => count_tool_calls(enc, calls),
                ("function_call", call) => count_tool_calls(enc, std::slice::from_ref(call)),
                ("role" | "refusal", Value::String(text)) => count_text(enc, text),
                // tool_call_id and other metadata are not rendered as text.
                _ => 0,
            };
        }
    }
    Ok(count)
}

/// A message's content: a string, null, or an array of parts.
fn count_content(
    enc: Encoding,
    content: &Value,
    count: &mut PromptCount,
    field: &dyn Fn() -> String,
) -> Result<u64, CountError> {
    const EXPECTED: &str = "a string, null or an array of content parts";
    match content {
        Value::String(text) => Ok(count_text(enc, text)),
        Value::Null => Ok(0),
        Value::Array(parts) => {
            let mut tokens = 0;
            for part in parts {
                let text = |key: &str| part.get(key).and_then(Value::as_str);
                match part.get("type").and_then(Value::as_str) {
                    Some("text" | "input_text" | "output_text") => {
                        tokens += count_text(enc, text("text").unwrap_or(""));
                    }
                    Some("refusal") => tokens += count_text(enc, text("refusal").unwrap_or("")),
                    Some("image_url" | "input_image" | "image") => count.images_not_counted += 1,
                    _ => count.other_parts_not_counted += 1,
                }
            }
            Ok(tokens)
        }
        _ => Err(CountError::shape(field(), EXPECTED)),
    }
}

/// An assistant message's earlier tool calls: the function names and
/// argument texts (the service's exact framing of them is not published).
fn count_tool_calls(enc: Encoding, calls: &[Value]) -> u64 {
    calls
        .iter()
        .map(|call| {
            let function = call.get("function").unwrap_or(call);
            let text = |key: &str| function.get(key).and_then(Value::as_str).unwrap_or("");
            count_text(enc, text("name")) + count_text(enc, text("arguments"))
        })
        .sum()
}
