//! logenrich's per-record path: one call per batch, decoded body bytes in, answer (or
//! downstream) bytes out. The Python package compiles the rule table (models, checks, guards,
//! first-character gates, precedence, the output profile, the log formats) and hands it over as
//! JSON once per table; [`Engine::run`] then decodes, classifies, enriches and encodes a batch
//! without calling back into Python.
//!
//! The Python engine (`app/engine.py`) is the reference: for every record both give equal
//! results, compared as decoded JSON with numbers exact. The modules follow its modules:
//! [`prefix`] is `app/prefix.py`, [`rules`] is `app/matcher.py`, [`write`] and [`engine`] are
//! `app/enrich.py` and `app/codecs.py`, [`output`] is `app/relay/encoders.py`.
//!
//! Matching is linear in the length of the line for every rule: the `regex` crate never
//! backtracks.

pub mod canonical;
pub mod config;
pub mod engine;
pub mod hir2py;
pub mod json;
pub mod msgpack;
pub mod numbers;
pub mod output;
pub mod pep440;
pub mod prefix;
pub mod pystr;
pub mod rules;
pub mod timefmt;
pub mod write;

pub use engine::{BatchResult, CodecError, Engine, Framing, Kind, Limits, Output};

/// How deep a request body may nest, its top-level values (a batch's array, a line of NDJSON, a
/// MessagePack object) being level 1: deeper is refused (400) by both engines.
pub const MAX_DEPTH: usize = 128;

/// The five severity words, in rank order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    pub fn from_word(word: &str) -> Option<Severity> {
        Some(match word {
            "debug" => Severity::Debug,
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// The RFC 5424 number (ECS `event.severity`).
    pub fn syslog(self) -> i64 {
        match self {
            Severity::Debug => 7,
            Severity::Info => 6,
            Severity::Warning => 4,
            Severity::Error => 3,
            Severity::Critical => 2,
        }
    }
}
