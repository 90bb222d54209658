//! Event Hubs Capture files: what Capture writes to Blob Storage, read back
//! as the events the live path received.
//!
//! Capture writes one Avro object container file per partition and time
//! window, named (by default) `{Namespace}/{EventHub}/{PartitionId}/{Year}/
//! {Month}/{Day}/{Hour}/{Minute}/{Second}.avro`. Each record is
//!
//! ```text
//! EventData { SequenceNumber: long, Offset: string, EnqueuedTimeUtc: string,
//!             SystemProperties: map<long|double|string|bytes>,
//!             Properties: map<long|double|string|bytes>, Body: null|bytes }
//! ```
//!
//! `EnqueuedTimeUtc` is written like `10/31/2026 12:00:00 PM`, to the second;
//! `SystemProperties["x-opt-enqueued-time"]` holds the same instant in epoch
//! milliseconds, which the live path's identity uses, so it is preferred.
//! Fields are read by name from the file's own schema, so extra fields or a
//! `null` added to a union do not matter.

use std::collections::HashMap;

use apache_avro::types::Value;
use chrono::{DateTime, TimeZone, Utc};

use crate::ingest::{Event, EventOrigin};

/// Why a Capture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The name does not follow Capture's default layout.
    #[error(
        "{name}: not a Capture file name ({{Namespace}}/{{EventHub}}/{{PartitionId}}/{{Year}}/{{Month}}/{{Day}}/{{Hour}}/{{Minute}}/{{Second}}.avro)"
    )]
    Name {
        /// The file or blob name.
        name: String,
    },
    /// The bytes are not an Avro object container file.
    #[error("{name}: not a readable Avro file")]
    Avro {
        /// The file or blob name.
        name: String,
        /// What the Avro reader said.
        #[source]
        source: Box<apache_avro::Error>,
    },
    /// A record lacks a field Capture always writes, or has it in another type.
    #[error("{name}: record {index} has no {field} Capture writes")]
    Field {
        /// The file or blob name.
        name: String,
        /// 0-based record number in the file.
        index: usize,
        /// The field.
        field: &'static str,
    },
}

/// Where a Capture file sits: its hub, partition and window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturePath {
    /// The Event Hubs namespace.
    pub namespace: String,
    /// The event hub.
    pub hub: String,
    /// The partition id.
    pub partition: String,
    /// The start of the file's time window (UTC).
    pub window: DateTime<Utc>,
}

impl CapturePath {
    /// Reads a file or blob name laid out as Capture's default
    /// `{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}`
    /// (with `.avro`), wherever it is rooted (a container, a download folder).
    pub fn parse(name: &str) -> Result<Self, CaptureError> {
        let invalid = || CaptureError::Name { name: name.to_owned() };
        let normalised = name.replace('\\', "/");
        let stem = normalised.strip_suffix(".avro").ok_or_else(invalid)?;
        let parts: Vec<&str> = stem.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() < 9 {
            return Err(invalid());
        }
        let tail = &parts[parts.len() - 9..];
        let number = |i: usize, len: usize| -> Result<u32, CaptureError> {
            let part = tail[i];
            if part.len() != len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            part.parse().map_err(|_| invalid())
        };
        let year = i32::try_from(number(3, 4)?).map_err(|_| invalid())?;
        let window = Utc
            .with_ymd_and_hms(year, number(4, 2)?, number(5, 2)?, number(6, 2)?, number(7, 2)?, number(8, 2)?)
            .single()
            .ok_or_else(invalid)?;
        if tail[..3].iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        Ok(Self { namespace: tail[0].to_owned(), hub: tail[1].to_owned(), partition: tail[2].to_owned(), window })
    }
}

/// One captured event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEvent {
    /// Sequence number within the partition.
    pub sequence: i64,
    /// When Event Hubs enqueued it.
    pub enqueued: DateTime<Utc>,
    /// Whether `enqueued` is known to the millisecond (from
    /// `x-opt-enqueued-time`) rather than to the second (`EnqueuedTimeUtc`).
    pub enqueued_to_the_millisecond: bool,
    /// The body as the producer sent it.
    pub body: Vec<u8>,
}

impl CapturedEvent {
    /// The event as the live path sees it: the same Event Hub identity
    /// (hub, partition, sequence number, enqueued time), so a record already
    /// ingested live is a duplicate.
    pub fn into_event(self, hub: &str, partition: &str) -> Event {
        Event {
            body: self.body,
            origin: EventOrigin::EventHub {
                hub: hub.to_owned(),
                partition: partition.to_owned(),
                sequence: self.sequence,
                enqueued: Some(self.enqueued),
            },
        }
    }
}

/// The events of one Capture file, in file order.
pub fn read_events(name: &str, bytes: &[u8]) -> Result<Vec<CapturedEvent>, CaptureError> {
    let avro = |source: apache_avro::Error| CaptureError::Avro { name: name.to_owned(), source: Box::new(source) };
    let reader = apache_avro::Reader::new(bytes).map_err(avro)?;
    let mut events = Vec::new();
    for (index, value) in reader.enumerate() {
        let missing = |field: &'static str| CaptureError::Field { name: name.to_owned(), index, field };
        let Value::Record(fields) = value.map_err(avro)? else {
            return Err(missing("EventData record"));
        };
        let fields: HashMap<String, Value> = fields.into_iter().collect();
        let sequence = match fields.get("SequenceNumber").map(unwrap_union) {
            Some(Value::Long(n)) => *n,
            Some(Value::Int(n)) => i64::from(*n),
            _ => return Err(missing("SequenceNumber")),
        };
        let precise = match fields.get("SystemProperties").map(unwrap_union) {
            Some(Value::Map(map)) => map.get("x-opt-enqueued-time").and_then(|v| match unwrap_union(v) {
                Value::Long(ms) => Utc.timestamp_millis_opt(*ms).single(),
                Value::String(text) => crate::records::parse_utc(text),
                _ => None,
            }),
            _ => None,
        };
        let (enqueued, enqueued_to_the_millisecond) = match precise {
            Some(t) => (t, true),
            None => match fields.get("EnqueuedTimeUtc").map(unwrap_union) {
                Some(Value::String(text)) => {
                    (crate::records::parse_utc(text).ok_or_else(|| missing("EnqueuedTimeUtc"))?, false)
                }
                _ => return Err(missing("EnqueuedTimeUtc")),
            },
        };
        let body = match fields.get("Body").map(unwrap_union) {
            Some(Value::Bytes(bytes)) => bytes.clone(),
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(missing("Body")),
        };
        events.push(CapturedEvent { sequence, enqueued, enqueued_to_the_millisecond, body });
    }
    Ok(events)
}

fn unwrap_union(value: &Value) -> &Value {
    match value {
        Value::Union(_, inner) => unwrap_union(inner),
        other => other,
    }
}

/// Capture's schema, as `avro-tools getschema` prints it for a Capture file.
pub const CAPTURE_SCHEMA: &str = r#"{
  "type": "record", "name": "EventData", "namespace": "Microsoft.ServiceBus.Messaging",
  "fields": [
    {"name": "SequenceNumber", "type": "long"},
    {"name": "Offset", "type": "string"},
    {"name": "EnqueuedTimeUtc", "type": "string"},
    {"name": "SystemProperties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
    {"name": "Properties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
    {"name": "Body", "type": ["null", "bytes"]}
  ]
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_give_hub_partition_and_window_wherever_they_are_rooted() {
        for name in [
            "contoso-usage/apim-usage/3/2026/10/31/12/05/00.avro",
            "capture/contoso-usage/apim-usage/3/2026/10/31/12/05/00.avro",
            "/tmp/download/contoso-usage/apim-usage/3/2026/10/31/12/05/00.avro",
            "C:\\capture\\contoso-usage\\apim-usage\\3\\2026\\10\\31\\12\\05\\00.avro",
        ] {
            let path = CapturePath::parse(name).unwrap();
            assert_eq!(
                (path.namespace.as_str(), path.hub.as_str(), path.partition.as_str()),
                ("contoso-usage", "apim-usage", "3")
            );
            assert_eq!(path.window, Utc.with_ymd_and_hms(2026, 10, 31, 12, 5, 0).unwrap());
        }
        for name in [
            "apim-usage/3/2026/10/31/12/05/00.avro",
            "ns/hub/3/2026/13/31/12/05/00.avro",
            "ns/hub/3/2026/10/31/12/05/00.json",
            "ns/hub/3/26/10/31/12/05/00.avro",
        ] {
            assert!(CapturePath::parse(name).is_err(), "{name}");
        }
    }
}
