//! Time the parts of the per-record path on the messages of an NDJSON body:
//! `cargo run --release --example parts CONFIG BODY`.

use std::time::Instant;

use logenrich_core::json::{self, Mode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = std::fs::read(&args[1]).expect("config");
    let body = std::fs::read(&args[2]).expect("body");
    let engine = logenrich_core::config::engine(&config).expect("engine");
    let messages: Vec<String> = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            json::parse(l, Mode::Lenient)
                .unwrap()
                .get("message")
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let n = messages.len() as f64;
    let mut scratch = engine.scratch();
    let rounds = 300;
    let mut best = [f64::MAX; 3];
    for _ in 0..rounds {
        let t = Instant::now();
        for m in &messages {
            std::hint::black_box(engine.formats.parse_line(m, scratch.prefix_mut()));
        }
        best[0] = best[0].min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for m in &messages {
            std::hint::black_box(engine.decide_message(m, &mut scratch).outcome);
        }
        best[1] = best[1].min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for m in &messages {
            std::hint::black_box(engine.matcher.candidate_rules(m));
        }
        best[2] = best[2].min(t.elapsed().as_secs_f64());
    }
    // the deciding rule's own regex, per rule
    let mut per_rule: std::collections::HashMap<String, (f64, usize)> =
        std::collections::HashMap::new();
    for m in &messages {
        let (text, _, _) = engine.formats.parse_line(m, scratch.prefix_mut());
        let text = text.into_owned();
        let decision = engine.decide_message(m, &mut scratch);
        if let Some(rule) = decision.rule {
            let regex = &engine.matcher.rules[rule].regex;
            let mut locations = regex.capture_locations();
            let t = Instant::now();
            for _ in 0..200 {
                std::hint::black_box(regex.captures_read(&mut locations, &text));
            }
            let entry = per_rule
                .entry(engine.matcher.rules[rule].id.clone())
                .or_insert((0.0, 0));
            entry.0 += t.elapsed().as_secs_f64() / 200.0;
            entry.1 += 1;
        }
    }
    let mut rows: Vec<_> = per_rule.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.partial_cmp(&a.1 .0).unwrap());
    for (id, (total, count)) in rows.iter().take(8) {
        println!(
            "{id:<45} {count:>4} lines {:.3} us each, {:.3} us/record of the batch",
            total / *count as f64 * 1e6,
            total / n * 1e6
        );
    }
    println!(
        "automata bytes (leading, guards) {:?}",
        engine.matcher.automata_bytes()
    );
    println!("prefix parse        {:.3} us/record", best[0] / n * 1e6);
    println!("decide (all)        {:.3} us/record", best[1] / n * 1e6);
    println!("prefilter (AC)      {:.3} us/record", best[2] / n * 1e6);
    let candidates: usize = messages
        .iter()
        .map(|m| {
            let (text, _, _) = engine.formats.parse_line(m, scratch.prefix_mut());
            engine.matcher.candidate_rules(&text).len()
        })
        .sum();
    println!(
        "candidates          {:.2} rules/record",
        candidates as f64 / n
    );
    if std::env::var_os("PARTS_SHOW_CANDIDATES").is_some() {
        // the lines with the most candidates, and which rules they are
        let mut rows: Vec<(usize, &String)> = messages
            .iter()
            .map(|m| {
                let (text, _, _) = engine.formats.parse_line(m, scratch.prefix_mut());
                (engine.matcher.candidate_rules(&text).len(), m)
            })
            .collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.0));
        for (count, m) in rows.iter().take(3) {
            let (text, _, _) = engine.formats.parse_line(m, scratch.prefix_mut());
            let ids: Vec<&str> = engine
                .matcher
                .candidate_rules(&text)
                .iter()
                .map(|&i| engine.matcher.rules[i].id.as_str())
                .collect();
            println!("{count} candidates: {m}\n  {ids:?}");
        }
    }
}

#[allow(dead_code)]
fn unused() {}
