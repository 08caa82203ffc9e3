//! Downstream request bodies: JSON lines, an Elasticsearch `_bulk` body, a Loki push body —
//! `app/relay/encoders.py`'s writers.

use std::collections::HashMap;

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;

use crate::json;
use crate::timefmt::iso;

/// Records as a JSON array or as NDJSON (a newline after each).
pub fn json_lines(records: &[Vec<u8>], array: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    if array {
        out.push(b'[');
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(record);
        }
        out.push(b']');
    } else {
        for record in records {
            out.extend_from_slice(record);
            out.push(b'\n');
        }
    }
    out
}

fn base64_url(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(TABLE[(n >> (18 - 6 * i)) as usize & 63])
            } else {
                '='
            });
        }
    }
    out
}

/// One `_id` per record: a BLAKE2b digest (15 bytes, base64url) of its bytes as received and of
/// how many identical records came before it in the batch.
pub fn record_ids(raw: &[&[u8]]) -> Vec<String> {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    raw.iter()
        .map(|data| {
            let occurrence = seen.entry(data).or_insert(0);
            let mut hasher = Blake2bVar::new(15).expect("15 is a valid BLAKE2b size");
            hasher.update(data);
            hasher.update(b"\n");
            hasher.update(occurrence.to_string().as_bytes());
            *occurrence += 1;
            let mut digest = [0u8; 15];
            hasher
                .finalize_variable(&mut digest)
                .expect("the buffer is the digest's size");
            base64_url(&digest)
        })
        .collect()
}

/// Append one `create` action and its document; where the document is in `body`.
#[allow(clippy::too_many_arguments)]
pub fn bulk_entry(
    body: &mut Vec<u8>,
    index: &str,
    id: &str,
    record: &[u8],
    canonical_if_not_object: &[u8],
    is_object: bool,
    has_timestamp: bool,
    time_ns: i128,
) -> (usize, usize) {
    body.extend_from_slice(b"{\"create\":{\"_index\":");
    json::write_string(body, index);
    body.extend_from_slice(b",\"_id\":");
    json::write_string(body, id);
    body.extend_from_slice(b"}}\n");
    let start = body.len();
    let mut stamp = Vec::new();
    json::write_string(&mut stamp, &iso(time_ns));
    if !is_object {
        body.extend_from_slice(b"{\"@timestamp\":");
        body.extend_from_slice(&stamp);
        body.extend_from_slice(b",\"event\":{\"original\":");
        json::write_string(body, &String::from_utf8_lossy(canonical_if_not_object));
        body.extend_from_slice(b"}}");
    } else if has_timestamp {
        body.extend_from_slice(record);
    } else {
        body.extend_from_slice(b"{\"@timestamp\":");
        body.extend_from_slice(&stamp);
        let inner = record[1..]
            .iter()
            .position(|&b| !json::is_ws(b))
            .map_or(record.len(), |i| i + 1);
        if record.get(inner) == Some(&b'}') {
            body.push(b'}');
        } else {
            body.push(b',');
            body.extend_from_slice(&record[inner..]);
        }
    }
    let end = body.len();
    body.push(b'\n');
    (start, end)
}

pub fn metadata_key(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("fields_{safe}")
}

/// One Loki entry: its stream (category, severity), time, line (a JSON string token) and
/// structured metadata.
pub struct Loki {
    pub stream: (String, String),
    pub time: i128,
    pub line: Vec<u8>,
    pub metadata: Vec<(String, String)>,
}

/// A push body: one stream per (category, severity) in order of first appearance, values in
/// time order (stable).
pub fn loki(labels: &[(String, String)], entries: Vec<Loki>) -> Vec<u8> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut streams: HashMap<(String, String), Vec<Loki>> = HashMap::new();
    for entry in entries {
        let key = entry.stream.clone();
        if !streams.contains_key(&key) {
            order.push(key.clone());
        }
        streams.entry(key).or_default().push(entry);
    }
    let mut out = b"{\"streams\":[".to_vec();
    for (i, key) in order.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"stream\":{");
        let mut first = true;
        let mut label = |out: &mut Vec<u8>, name: &str, value: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            json::write_string(out, name);
            out.push(b':');
            json::write_string(out, value);
        };
        for (name, value) in labels
            .iter()
            .filter(|(n, _)| n != "category" && n != "severity")
        {
            label(&mut out, name, value);
        }
        label(&mut out, "category", &key.0);
        label(&mut out, "severity", &key.1);
        out.extend_from_slice(b"},\"values\":[");
        let mut values = streams.remove(key).unwrap_or_default();
        values.sort_by_key(|entry| entry.time);
        for (j, entry) in values.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.push(b'[');
            json::write_string(&mut out, &entry.time.to_string());
            out.push(b',');
            out.extend_from_slice(&entry.line);
            if !entry.metadata.is_empty() {
                out.extend_from_slice(b",{");
                for (k, (name, value)) in entry.metadata.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    json::write_string(&mut out, name);
                    out.push(b':');
                    json::write_string(&mut out, value);
                }
                out.push(b'}');
            }
            out.push(b']');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_python_digest() {
        // hashlib.blake2b(b'{"message":"x"}\n0', digest_size=15), base64url
        let ids = record_ids(&[b"{\"message\":\"x\"}", b"{\"message\":\"x\"}"]);
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        assert_eq!(ids[0].len(), 20);
    }

    #[test]
    fn bulk_entries() {
        let mut body = Vec::new();
        let span = bulk_entry(&mut body, "i", "x", b"{ \"a\": 1}", b"", true, false, 0);
        assert_eq!(
            &body[span.0..span.1],
            b"{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"a\": 1}"
        );
        let mut body = Vec::new();
        let span = bulk_entry(&mut body, "i", "x", b"{ }", b"", true, false, 0);
        assert_eq!(
            &body[span.0..span.1],
            b"{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\"}"
        );
    }
}
