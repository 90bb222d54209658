//! The host payload decoder: never a panic on any payload, and a batch reads
//! as the same events whether the host sent it as text or as objects.

use chargeback::functions::invocation::{InvocationRequest, decode};
use chargeback::ingest::ContentIdentities;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{config, mutated_corpus};

/// JSON values of any shape, strings included that hold JSON themselves.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        "\\[\"[a-z{}:\\\\\"]{0,20}\"\\]".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner.clone(), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            inner.prop_map(|v| Value::String(v.to_string())),
        ]
    })
}

fn read(payload: &str) {
    if let Ok(mut request) = serde_json::from_str::<InvocationRequest>(payload) {
        let _ = request.data("events");
        let _ = request.metadata("SequenceNumberArray");
        let _ = request.take_batch("events");
    }
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn any_payload_of_any_shape_never_panics(data in json_value(), metadata in json_value()) {
        let payload = json!({"Data": {"events": data.clone(), "other": data.clone()}, "Metadata": {"SequenceNumberArray": metadata}});
        read(&payload.to_string());
        let _ = decode(data);
    }

    #[test]
    fn a_payload_holding_mutated_hostile_bodies_never_panics(bodies in prop::collection::vec(mutated_corpus(), 0..8)) {
        let texts: Vec<String> = bodies.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        let as_text = json!({"Data": {"events": serde_json::to_string(&texts).unwrap()}}).to_string();
        read(&as_text);
        let raw_items = texts.join(",");
        read(&format!(r#"{{"Data": {{"events": [{raw_items}]}}}}"#));
        read(&String::from_utf8_lossy(&bodies.concat()));
    }

    #[test]
    fn the_text_and_the_object_form_of_a_batch_are_the_same_events(
        objects in prop::collection::vec(prop::collection::btree_map("[a-zA-Z]{1,8}", json_value(), 0..5), 1..6),
    ) {
        // The producer's text (its own key order and spacing), and what the host re-serialises.
        let texts: Vec<String> = objects.iter().map(|m| {
            let fields: Vec<String> = m.iter().rev().map(|(k, v)| format!("{} : {}", Value::from(k.clone()), v)).collect();
            format!("{{ {} }}", fields.join(" ,  "))
        }).collect();
        let as_text = json!({"Data": {"events": serde_json::to_string(&texts).unwrap()}}).to_string();
        let as_objects = json!({"Data": {"events": objects.iter().map(|m| Value::Object(m.clone().into_iter().collect())).collect::<Vec<_>>()}}).to_string();
        let one = serde_json::from_str::<InvocationRequest>(&as_text).unwrap().take_batch("events").unwrap().unwrap();
        let other = serde_json::from_str::<InvocationRequest>(&as_objects).unwrap().take_batch("events").unwrap().unwrap();
        prop_assert_eq!(one.len(), other.len());
        let (mut a, mut b) = (ContentIdentities::default(), ContentIdentities::default());
        for (i, (x, y)) in one.iter().zip(&other).enumerate() {
            prop_assert_eq!(
                a.next_canonical("ingest-usage", i + 1, x.as_bytes()).fallback_id(x.as_bytes()),
                b.next_canonical("ingest-usage", i + 1, y.as_bytes()).fallback_id(y.as_bytes()),
                "{} / {}", x, y
            );
        }
    }
}
