//! Tokens of tool (function) definitions in a chat request.
//!
//! The service renders the definitions into the prompt in a format it does
//! not publish. OpenAI's cookbook "How to count tokens with tiktoken" gives a
//! rule that reproduces the API's counts for its examples, which we follow:
//! per function a fixed overhead (7 tokens with o200k_base, 10 with
//! cl100k_base) plus the tokens of `name:description`; if it has parameters,
//! 3 tokens plus, per property, 3 tokens and the tokens of
//! `name:type:description` (and for an `enum`, -3 then 3 plus the tokens of
//! each value); and 12 tokens once after all functions. A trailing full stop
//! of a description is dropped. Nested object schemas are counted only at the
//! top level, as the cookbook does: for deep schemas this is an estimate.

use serde_json::Value;

use crate::{CountError, Encoding, count_text};

const PROPERTIES_START: i64 = 3;
const PROPERTY: i64 = 3;
const ENUM_START: i64 = -3;
const ENUM_ITEM: i64 = 3;
const FUNCTIONS_END: i64 = 12;

fn function_start(enc: Encoding) -> i64 {
    match enc {
        Encoding::O200kBase => 7,
        Encoding::Cl100kBase => 10,
    }
}

/// Tokens of `tools` (`[{"type": "function", "function": {...}}]`) or the
/// legacy `functions` (`[{...}]`), and how many definitions were counted.
/// Tools of other types (e.g. built-in tools) are skipped.
pub(crate) fn count_tool_definitions(
    enc: Encoding,
    tools: Option<&Value>,
    functions: Option<&Value>,
) -> Result<(u64, u32), CountError> {
    let mut definitions = Vec::new();
    if let Some(tools) = tools {
        let list = tools.as_array().ok_or_else(|| CountError::shape("tools", "an array of tools"))?;
        definitions.extend(list.iter().filter_map(|tool| tool.get("function")));
    }
    if let Some(functions) = functions {
        let list = functions.as_array().ok_or_else(|| CountError::shape("functions", "an array of functions"))?;
        definitions.extend(list.iter());
    }
    if definitions.is_empty() {
        return Ok((0, 0));
    }
    let mut tokens: i64 = FUNCTIONS_END;
    for function in &definitions {
        tokens += function_tokens(enc, function);
    }
    Ok((u64::try_from(tokens).unwrap_or(0), definitions.len() as u32))
}

fn function_tokens(enc: Encoding, function: &Value) -> i64 {
    fn text(v: Option<&Value>) -> &str {
        v.and_then(Value::as_str).unwrap_or("")
    }
    let count = |s: &str| count_text(enc, s) as i64;
    let name = text(function.get("name"));
    let description = without_full_stop(text(function.get("description")));
    let mut tokens = function_start(enc) + count(&format!("{name}:{description}"));
    let properties = function.get("parameters").and_then(|p| p.get("properties")).and_then(Value::as_object);
    if let Some(properties) = properties.filter(|p| !p.is_empty()) {
        tokens += PROPERTIES_START;
        for (key, property) in properties {
            tokens += PROPERTY;
            if let Some(items) = property.get("enum").and_then(Value::as_array) {
                tokens += ENUM_START;
                for item in items {
                    tokens += ENUM_ITEM + count(&scalar_text(item));
                }
            }
            let kind = property.get("type").map(scalar_text).unwrap_or_default();
            let description = without_full_stop(text(property.get("description")));
            tokens += count(&format!("{key}:{kind}:{description}"));
        }
    }
    tokens
}

/// A string as itself, anything else (numbers, `["string", "null"]`) as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn without_full_stop(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn no_tools_cost_nothing() {
        assert_eq!(count_tool_definitions(Encoding::O200kBase, None, None).ok(), Some((0, 0)));
        let empty = json!([]);
        assert_eq!(count_tool_definitions(Encoding::O200kBase, Some(&empty), None).ok(), Some((0, 0)));
    }

    #[test]
    fn a_function_without_description_or_parameters_is_counted() {
        let tools = json!([{"type": "function", "function": {"name": "ping"}}]);
        let (tokens, n) = count_tool_definitions(Encoding::Cl100kBase, Some(&tools), None).expect("countable");
        // 10 + tokens("ping:") + 12
        assert_eq!((tokens, n), (10 + count_text(Encoding::Cl100kBase, "ping:") + 12, 1));
    }

    #[test]
    fn tools_that_are_not_an_array_are_rejected() {
        let tools = json!({"name": "x"});
        assert!(count_tool_definitions(Encoding::O200kBase, Some(&tools), None).is_err());
    }
}
