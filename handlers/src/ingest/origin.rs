//! Where an event was read from, which is the identity of records that carry
//! no id of their own.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::domain::RecordId;

/// Where an event came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOrigin {
    /// An Event Hub event. Partition and sequence number identify it within
    /// the hub; the enqueued time, when known, tells apart a hub that was
    /// deleted and re-created under the same name (its sequence numbers
    /// restart).
    EventHub {
        /// Event Hub name.
        hub: String,
        /// Partition id.
        partition: String,
        /// Sequence number within the partition.
        sequence: i64,
        /// When Event Hubs enqueued it.
        enqueued: Option<DateTime<Utc>>,
    },
    /// A line of an exported log. Identity is the body's digest and how many
    /// identical bodies came before it in the same input, so re-reading the
    /// same file, or another export of the same records, counts nothing twice.
    Content {
        /// File name (`-` for standard input), for the dead-letter origin.
        source: String,
        /// 1-based line number, for the dead-letter origin.
        line: u64,
        /// First 128 bits of the body's SHA-256.
        digest: [u8; 16],
        /// 0 for the first body with this digest, 1 for the second, …
        occurrence: u32,
    },
    /// A line of an exported log whose content identity (as
    /// [`EventOrigin::Content`]) is settled after parsing: the body is
    /// digested only when the record has no id of its own, on the parsing
    /// thread, and [`ContentIdentities::settle`] numbers identical bodies in
    /// input order. What `chargeback ingest` reads.
    Line {
        /// File name (`-` for standard input), for the dead-letter origin.
        source: String,
        /// 1-based line number.
        line: u64,
    },
}

/// A record or dead letter of a parsed batch that took its identity from
/// its content at occurrence 0 ([`EventOrigin::Line`]), to be renumbered if
/// an identical body came before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    /// The input line.
    pub line: u64,
    /// The body's digest.
    pub digest: [u8; 16],
    /// A dead letter (else a record).
    pub letter: bool,
    /// Its index among the batch's records or letters.
    pub index: usize,
}

/// Gives lines of one input their content identity: the body's digest and
/// how many identical bodies came before it in the same input.
#[derive(Debug, Default)]
pub struct ContentIdentities {
    seen: rustc_hash::FxHashMap<[u8; 16], u32>,
}

impl ContentIdentities {
    /// Numbers the content identities of a parsed batch of
    /// [`EventOrigin::Line`] events (batches in input order): a body seen
    /// before in this input gets the next occurrence, exactly as
    /// [`ContentIdentities::next`] would have given it. Only bodies without
    /// an id of their own are remembered.
    pub fn settle(&mut self, batch: &mut super::PreparedBatch) {
        let mut refs = std::mem::take(&mut batch.content);
        refs.sort_by_key(|r| r.line);
        for r in refs {
            let occurrence = self.seen.entry(r.digest).or_default();
            if *occurrence > 0 {
                let id = content_id(&r.digest, *occurrence);
                if r.letter {
                    if let Some(letter) = batch.letters.get_mut(r.index) {
                        letter.id = id;
                    }
                } else if let Some(record) = batch.records.get_mut(r.index) {
                    record.id = id;
                }
            }
            *occurrence += 1;
        }
    }

    /// The origin of the next body read from `source` at `line` (1-based).
    pub fn next(&mut self, source: &str, line: usize, body: &[u8]) -> EventOrigin {
        let digest = content_digest(body);
        let occurrence = self.seen.entry(digest).or_default();
        let origin = EventOrigin::Content {
            source: source.to_owned(),
            line: u64::try_from(line).unwrap_or(u64::MAX),
            digest,
            occurrence: *occurrence,
        };
        *occurrence += 1;
        origin
    }

    /// Like [`ContentIdentities::next`], but a body that is JSON is
    /// identified by its canonical form (keys sorted, no spacing), so the same
    /// event sent as text or as an object the host re-serialised has one
    /// identity. Used where an Event Hub batch arrives without positions;
    /// files keep the digest of the line as written.
    pub fn next_canonical(&mut self, source: &str, line: usize, body: &[u8]) -> EventOrigin {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => {
                let mut canonical = String::with_capacity(body.len());
                write_canonical(&value, &mut canonical);
                self.next(source, line, canonical.as_bytes())
            }
            Err(_) => self.next(source, line, body),
        }
    }
}

/// JSON with object keys in sorted order and no spacing (whatever order the
/// map type keeps). Depth is bounded by the parser's recursion limit.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The first 128 bits of SHA-256 of a body.
pub fn content_digest(body: &[u8]) -> [u8; 16] {
    let full = Sha256::digest(body);
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&full[..16]);
    digest
}

/// The content identity of the `occurrence`-th body with this digest.
pub fn content_id(digest: &[u8; 16], occurrence: u32) -> RecordId {
    RecordId::parse(&format!("sha-{}-{occurrence}", hex::encode(digest))).unwrap_or_else(|_| unreachable!())
}

impl EventOrigin {
    /// The identity used when the record (whose body this is) has no id of
    /// its own. For a [`EventOrigin::Line`], occurrence 0 of its content.
    pub fn fallback_id(&self, body: &[u8]) -> RecordId {
        let text = match self {
            Self::EventHub { hub, partition, sequence, enqueued } => match enqueued {
                Some(t) => format!("eh-{hub}-p{partition}-s{sequence}-t{}", t.timestamp_millis()),
                None => format!("eh-{hub}-p{partition}-s{sequence}"),
            },
            Self::Content { digest, occurrence, .. } => return content_id(digest, *occurrence),
            Self::Line { .. } => return content_id(&content_digest(body), 0),
        };
        // Hub names and partition ids are short and printable; fall back to a
        // digest of the text if a strange one is not.
        RecordId::parse(&text).unwrap_or_else(|_| {
            let digest = content_digest(text.as_bytes());
            RecordId::parse(&format!("origin-{}", hex::encode(digest))).unwrap_or_else(|_| unreachable!())
        })
    }

    /// A human-readable description, for dead letters.
    pub fn describe(&self) -> String {
        match self {
            Self::EventHub { hub, partition, sequence, .. } => {
                format!("eventhub:{hub}/partition/{partition}/sequence/{sequence}")
            }
            Self::Content { source, line, .. } | Self::Line { source, line } => format!("file:{source}:{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_and_the_object_form_of_one_event_have_one_content_identity() {
        let text = br#"{"Timestamp": "11/26/2026 11:32:47 AM", "PromptTokens": "12", "AppKey": "k"}"#;
        let object = br#"{"AppKey":"k","PromptTokens":"12","Timestamp":"11/26/2026 11:32:47 AM"}"#;
        let a = ContentIdentities::default().next_canonical("ingest-usage", 1, text).fallback_id(text);
        let b = ContentIdentities::default().next_canonical("ingest-usage", 1, object).fallback_id(object);
        assert_eq!(a, b);
        // Not JSON: the bytes as they are.
        let c = ContentIdentities::default().next_canonical("ingest-usage", 1, b"{broken").fallback_id(b"{broken");
        assert_eq!(c, ContentIdentities::default().next("ingest-usage", 1, b"{broken").fallback_id(b"{broken"));
    }
}
