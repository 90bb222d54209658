//! The custom-handler invocation protocol of the Azure Functions host.
//!
//! For every invocation of a non-HTTP-forwarded function the host posts
//! `{"Data": {binding: value}, "Metadata": {name: value}}` to `/<function>`
//! and expects `{"Outputs": {binding: value}, "Logs": [..], "ReturnValue": ..}`
//! back (Microsoft Learn, "Azure Functions custom handlers").
//!
//! The host serialises binding values that are not plain objects with
//! `JsonConvert.SerializeObject`, so strings, arrays and numbers often arrive
//! as JSON held in a string — an Event Hub batch with `dataType: string` is a
//! string holding a JSON array of strings. [`decode`] undoes this: a string
//! that parses as JSON is replaced by what it holds, repeatedly.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the host posts for one invocation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvocationRequest {
    /// Input bindings by name.
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    /// Trigger metadata by name.
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

impl InvocationRequest {
    /// An input binding's value, decoded.
    pub fn data(&self, binding: &str) -> Option<Value> {
        self.data.get(binding).cloned().map(decode)
    }

    /// A metadata value, decoded.
    pub fn metadata(&self, name: &str) -> Option<Value> {
        self.metadata.get(name).cloned().map(decode)
    }
}

/// What the handler answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvocationResponse {
    /// Output bindings by name.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the invocation log (Information level).
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// The `$return` binding's value (ignored by the host without one).
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

/// Replaces a string holding JSON by the value it holds, as often as needed,
/// and does the same inside arrays and objects. A string that is not JSON (or
/// holds a bare JSON string that is plain text) is left as text.
pub fn decode(value: Value) -> Value {
    match value {
        Value::String(text) => {
            let trimmed = text.trim_start();
            let looks_structured = trimmed.starts_with('[') || trimmed.starts_with('{') || trimmed.starts_with('"');
            if !looks_structured {
                return Value::String(text);
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::String(inner)) => decode(Value::String(inner)),
                Ok(inner @ (Value::Array(_) | Value::Object(_))) => decode(inner),
                _ => Value::String(text),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(decode_shallow).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, decode_shallow(v))).collect()),
        other => other,
    }
}

/// Inside a decoded array or object, strings are only unwrapped when they
/// hold a JSON-encoded string (`"\"text\""`); other strings are data (an
/// event body that happens to be JSON must stay the text it was sent as).
fn decode_shallow(value: Value) -> Value {
    match value {
        Value::String(text) if text.starts_with('"') => match serde_json::from_str::<String>(&text) {
            Ok(inner) => Value::String(inner),
            Err(_) => Value::String(text),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(decode_shallow).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, decode_shallow(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_batch_held_in_a_string_becomes_an_array_of_bodies() {
        let bodies = vec![r#"{"a":1}"#.to_owned(), "not json".to_owned()];
        let held = Value::String(serde_json::to_string(&bodies).unwrap());
        assert_eq!(decode(held), json!([r#"{"a":1}"#, "not json"]));
    }

    #[test]
    fn a_json_encoded_string_is_unwrapped_but_plain_text_is_kept() {
        assert_eq!(decode(json!("\"stringTest\"")), json!("stringTest"));
        assert_eq!(decode(json!("plain")), json!("plain"));
        assert_eq!(decode(json!("[not json")), json!("[not json"));
    }

    #[test]
    fn objects_arrive_as_objects_or_as_strings_and_decode_the_same() {
        let ctx = json!({"PartitionId": "3", "EventHubName": "usage"});
        assert_eq!(decode(ctx.clone()), ctx);
        assert_eq!(decode(Value::String(ctx.to_string())), ctx);
        assert_eq!(decode(json!("[1,2,3]")), json!([1, 2, 3]));
    }
}
