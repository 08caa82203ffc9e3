//! decode -> enrich -> encode of any bytes, in every framing and every output, on the built-in
//! table: the engine answers or refuses, never panics, and what it answers holds together (the
//! record count, one outcome per record, bodies that read back as JSON or MessagePack).
//!
//! The first byte picks the request kind and the output; the rest is the body.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logenrich_core::engine::{Engine, Framing, Kind, Limits, Output};
use logenrich_core::json::{Mode, Scanner};
use logenrich_core::msgpack::Reader;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = std::env::var("LOGENRICH_FUZZ_CONFIG")
            .expect("LOGENRICH_FUZZ_CONFIG: the table as `app.native.native_config` writes it");
        let config = std::fs::read(path).expect("the table's file");
        logenrich_core::config::engine(&config).expect("the table")
    })
}

/// How many JSON values the text holds, separated by white space; None when it is not that.
fn json_values(body: &[u8]) -> Option<usize> {
    let scanner = Scanner::new(body, Mode::Lenient).nesting(usize::MAX);
    let (mut at, mut count) = (scanner.skip_ws(0), 0);
    while at < body.len() {
        at = scanner.skip_ws(scanner.value(at, 0).ok()?);
        count += 1;
    }
    Some(count)
}

/// How many MessagePack objects the bytes hold, back to back; None when they are not that.
fn msgpack_objects(body: &[u8]) -> Option<usize> {
    let mut reader = Reader::new(body);
    reader.max_depth = usize::MAX;
    let (mut at, mut count) = (0, 0);
    while at < body.len() {
        at = reader.object(at, 1).ok()?.0;
        count += 1;
    }
    Some(count)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kinds = [
        Kind::Json,
        Kind::Ndjson,
        Kind::Msgpack,
        Kind::Text,
        Kind::Sniff,
    ];
    let kind = kinds[usize::from(selector % 5)];
    let output = match (selector / 5) % 7 {
        0 => Output::Answer(None),
        1 => Output::Answer(Some(Framing::Msgpack)),
        2 => Output::Answer(Some(Framing::Ndjson)),
        3 => Output::JsonLines { array: true },
        4 => Output::JsonLines { array: false },
        5 => Output::Bulk {
            index: "logs-jupyterhub".into(),
        },
        _ => Output::Loki {
            labels: vec![("job".into(), "jupyterhub".into())],
            line_json: selector >= 0x80,
        },
    };
    let limits = Limits { max_records: 1000 };
    let Ok(result) = engine().run(body, kind, &output, &limits, 1_764_331_200_000_000_000) else {
        return;
    };
    assert_eq!(result.outcomes.len(), result.records);
    let counted: usize = result.counts.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, result.records);
    let records = result.records;
    match &output {
        Output::Answer(_) => match result.out_framing {
            Some(Framing::Msgpack) => assert_eq!(msgpack_objects(&result.body), Some(records)),
            Some(Framing::Json) => assert_eq!(json_values(&result.body), Some(1)),
            Some(Framing::Object) if records != 1 => {
                assert_eq!(json_values(&result.body), Some(1))
            }
            _ => {
                for line in result.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    assert_eq!(json_values(line), Some(1), "a line of the answer");
                }
            }
        },
        Output::JsonLines { array: true } => assert_eq!(json_values(&result.body), Some(1)),
        Output::JsonLines { array: false } | Output::Bulk { .. } => {
            let lines: Vec<&[u8]> = result
                .body
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            for line in &lines {
                assert_eq!(json_values(line), Some(1), "a line of the body");
            }
            let per_record = if matches!(output, Output::Bulk { .. }) {
                2
            } else {
                1
            };
            assert_eq!(lines.len(), records * per_record);
        }
        Output::Loki { .. } => assert_eq!(json_values(&result.body), Some(1)),
    }
});
