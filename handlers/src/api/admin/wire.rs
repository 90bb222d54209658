//! The wire form of directory entries: the value's JSON with the key added
//! under the collection's key field (`{"party": "sub-a", "application": …}`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::directory::Collection;
use crate::domain::Name;

/// An entry on the wire.
pub fn entry_json<C: Collection>(key: &Name, value: &C::Value) -> Value {
    let mut object = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    object.insert(C::KEY_FIELD.to_owned(), Value::String(key.to_string()));
    Value::Object(object)
}

/// Every entry on the wire: `{"items": [...]}`.
pub fn list_json<C: Collection>(entries: &BTreeMap<Name, C::Value>) -> Value {
    json!({ "items": entries.iter().map(|(k, v)| entry_json::<C>(k, v)).collect::<Vec<_>>() })
}

/// A value from JSON (without its key), checked by its domain type.
pub fn value_from_json<C: Collection>(value: Value) -> Result<C::Value, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// A wire entry (with its key).
pub fn entry_from_json<C: Collection>(entry: Value) -> Result<(Name, C::Value), String> {
    let Value::Object(mut object) = entry else { return Err("an entry must be a JSON object".into()) };
    let key = object.remove(C::KEY_FIELD).ok_or_else(|| format!("an entry needs its {}", C::KEY_FIELD))?;
    let key = key.as_str().and_then(|k| Name::parse(k).ok()).ok_or_else(|| {
        format!("{}: use 1-200 characters: letters, digits, spaces and . _ - : @ / + ( ) &", C::KEY_FIELD)
    })?;
    let value = value_from_json::<C>(Value::Object(object)).map_err(|e| format!("{} {key}: {e}", C::KEY_FIELD))?;
    Ok((key, value))
}
