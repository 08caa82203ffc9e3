//! Time one batch on the engine, from files: `cargo run --release --example batch CONFIG BODY [ROUNDS]`.
//! CONFIG is `app.native.native_config(...)` written to a file; BODY is an NDJSON body.

use std::time::Instant;

use logenrich_core::engine::{Kind, Limits, Output};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = std::fs::read(&args[1]).expect("config");
    let body = std::fs::read(&args[2]).expect("body");
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(200);
    let engine = logenrich_core::config::engine(&config).expect("engine");
    let limits = Limits {
        max_records: 100_000,
    };
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let result = engine
            .run(&body, Kind::Ndjson, &Output::Answer(None), &limits, 0)
            .expect("run");
        best = best.min(start.elapsed().as_secs_f64());
        assert!(result.records > 0);
    }
    println!("best {:.3} ms per batch", best * 1e3);
}
