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
//!
//! Binding values are kept as the raw JSON the host wrote until a function
//! reads them: parsing raw JSON has no depth limit, so one deeply nested
//! event cannot make the whole invocation unreadable; [`InvocationRequest::take_batch`]
//! hands each event of a batch over as its own text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What the host posts for one invocation.
#[derive(Debug, Default, Deserialize)]
pub struct InvocationRequest {
    /// Input bindings by name, as the raw JSON the host wrote.
    #[serde(rename = "Data", default)]
    pub data: BTreeMap<String, Box<RawValue>>,
    /// Trigger metadata by name.
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// Why a batch binding could not be read.
#[derive(Debug, thiserror::Error)]
#[error("Data.{binding} is not a batch of events: {cause}")]
pub struct BatchError {
    binding: String,
    cause: String,
}

impl InvocationRequest {
    /// An input binding's value, decoded; `None` when absent (or nested
    /// deeper than a JSON value may be).
    pub fn data(&self, binding: &str) -> Option<Value> {
        let raw = self.data.get(binding)?;
        serde_json::from_str::<Value>(raw.get()).ok().map(decode)
    }

    /// Takes a batch binding (`cardinality: many`) out of the request, each
    /// event as the text it was sent as: with `dataType: string` the batch
    /// is a string holding a JSON array of strings; without it, an array of
    /// JSON values, each kept as the JSON text the host wrote (never parsed
    /// here, so nesting does not matter). A single value (`cardinality:
    /// one`) is a batch of one. `Ok(None)` when the binding is absent or null.
    ///
    /// Each step drops the form it came from, so the batch is never held
    /// more than twice (the form being read and the one being built).
    pub fn take_batch(&mut self, binding: &str) -> Result<Option<Vec<String>>, BatchError> {
        let fail = |cause: serde_json::Error| BatchError {
            binding: binding.to_owned(),
            cause: crate::records::json_error("value", &cause),
        };
        let Some(raw) = self.data.remove(binding) else {
            return Ok(None);
        };
        let text = raw.get().trim_start();
        if text.starts_with("null") {
            return Ok(None);
        }
        if !text.starts_with('"') {
            return batch_from_json(raw.get()).map(Some).map_err(fail);
        }
        // A string: unwrap it as often as it holds a JSON string.
        let mut held: String = serde_json::from_str(raw.get()).map_err(fail)?;
        drop(raw);
        while held.trim_start().starts_with('"') {
            match serde_json::from_str::<String>(&held) {
                Ok(inner) => held = inner,
                Err(_) => break,
            }
        }
        if held.trim_start().starts_with('[')
            && let Ok(items) = batch_from_json(&held)
        {
            return Ok(Some(items));
        }
        // One event that is not a JSON array (plain text, or an object).
        Ok(Some(vec![held]))
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

/// The events of a batch written as JSON: an array's items (a string item is
/// the text it holds, unwrapped once more if it holds a JSON string; any
/// other item is its own JSON text), or one value as a batch of one.
fn batch_from_json(text: &str) -> Result<Vec<String>, serde_json::Error> {
    if !text.trim_start().starts_with('[') {
        return Ok(vec![item_text(text)]);
    }
    let items: Vec<&RawValue> = serde_json::from_str(text)?;
    Ok(items.into_iter().map(|item| item_text(item.get())).collect())
}

fn item_text(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.starts_with('"') {
        return raw.to_owned();
    }
    match serde_json::from_str::<String>(raw) {
        Ok(text) if text.starts_with('"') => serde_json::from_str::<String>(&text).unwrap_or(text),
        Ok(text) => text,
        Err(_) => raw.to_owned(),
    }
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

    fn request(json: &str) -> InvocationRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_batch_arrives_as_the_texts_its_events_were_sent_as_in_either_form() {
        let bodies = vec![r#"{"b":1, "a":"x"}"#.to_owned(), "not json".to_owned(), r#""quoted""#.to_owned()];
        let as_string = json!({"Data": {"events": serde_json::to_string(&bodies).unwrap()}}).to_string();
        assert_eq!(
            request(&as_string).take_batch("events").unwrap().unwrap(),
            vec![bodies[0].clone(), bodies[1].clone(), "quoted".to_owned()]
        );
        let as_objects = r#"{"Data": {"events": [{"b":1, "a":"x"}, "not json"]}}"#;
        assert_eq!(
            request(as_objects).take_batch("events").unwrap().unwrap(),
            vec![bodies[0].clone(), bodies[1].clone()]
        );
        assert!(request(r#"{"Data": {"events": null}}"#).take_batch("events").unwrap().is_none());
        assert!(request(r#"{"Data": {}}"#).take_batch("events").unwrap().is_none());
        assert_eq!(
            request(r#"{"Data": {"events": {"a":1}}}"#).take_batch("events").unwrap().unwrap(),
            vec![r#"{"a":1}"#]
        );
    }

    #[test]
    fn one_deeply_nested_event_does_not_make_the_invocation_unreadable() {
        let deep = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        let body = format!(r#"{{"Data": {{"events": [{deep}, {{"ok": true}}]}}, "Metadata": {{}}}}"#);
        let mut request = request(&body);
        let events = request.take_batch("events").unwrap().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], deep);
        assert_eq!(events[1], r#"{"ok": true}"#);
    }

    #[test]
    fn objects_arrive_as_objects_or_as_strings_and_decode_the_same() {
        let ctx = json!({"PartitionId": "3", "EventHubName": "usage"});
        assert_eq!(decode(ctx.clone()), ctx);
        assert_eq!(decode(Value::String(ctx.to_string())), ctx);
        assert_eq!(decode(json!("[1,2,3]")), json!([1, 2, 3]));
    }
}
