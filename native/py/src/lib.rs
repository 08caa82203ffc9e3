//! `app._native`: the Python binding of logenrich-core. Narrow on purpose: an `Engine` built
//! once per table, whose `run` takes one batch (bytes in, bytes out) with the GIL released, and
//! two helpers the rule compiler uses. A panic in the core never crosses into Python as a
//! crash: it becomes an `InternalError` the service logs and answers.

use std::panic::{catch_unwind, AssertUnwindSafe};

use logenrich_core::engine::{Framing, Kind, Limits, Output};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

create_exception!(
    _native,
    CodecFailure,
    PyException,
    "A body the engine cannot read."
);
create_exception!(
    _native,
    InternalError,
    PyException,
    "The engine failed; the batch was not run."
);

fn kind(name: &str) -> PyResult<Kind> {
    Ok(match name {
        "json" => Kind::Json,
        "ndjson" => Kind::Ndjson,
        "msgpack" => Kind::Msgpack,
        "text" => Kind::Text,
        "sniff" => Kind::Sniff,
        other => return Err(PyValueError::new_err(format!("unknown kind {other:?}"))),
    })
}

fn framing(name: &str) -> PyResult<Framing> {
    Ok(match name {
        "json" => Framing::Json,
        "ndjson" => Framing::Ndjson,
        "json_stream" => Framing::JsonStream,
        "object" => Framing::Object,
        "msgpack" => Framing::Msgpack,
        "text" => Framing::Text,
        other => return Err(PyValueError::new_err(format!("unknown framing {other:?}"))),
    })
}

/// The compiled table on the native engine.
#[pyclass(frozen, module = "app._native")]
struct Engine {
    inner: logenrich_core::Engine,
}

#[pymethods]
impl Engine {
    #[new]
    fn new(py: Python<'_>, config: &[u8]) -> PyResult<Self> {
        let built = py.detach(|| catch_unwind(|| logenrich_core::config::engine(config)));
        match built {
            Ok(Ok(inner)) => Ok(Engine { inner }),
            Ok(Err(message)) => Err(PyValueError::new_err(message)),
            Err(_) => Err(InternalError::new_err(
                "the engine panicked while building the table",
            )),
        }
    }

    /// Run one batch. `output` is ("answer", framing or None), ("json", array: bool),
    /// ("bulk", index) or ("loki", [(name, value)], line_json: bool).
    /// Returns (body, framing, out_framing, records, counts, outcomes, ids, documents).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (data, kind_name, output, max_records, received_ns))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyBytes>,
        kind_name: &str,
        output: &Bound<'py, PyTuple>,
        max_records: usize,
        received_ns: i128,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let which: String = output.get_item(0)?.extract()?;
        let output = match which.as_str() {
            "answer" => {
                let wanted: Option<String> = output.get_item(1)?.extract()?;
                Output::Answer(wanted.as_deref().map(framing).transpose()?)
            }
            "json" => Output::JsonLines {
                array: output.get_item(1)?.extract()?,
            },
            "bulk" => Output::Bulk {
                index: output.get_item(1)?.extract()?,
            },
            "loki" => Output::Loki {
                labels: output.get_item(1)?.extract()?,
                line_json: output.get_item(2)?.extract()?,
            },
            other => return Err(PyValueError::new_err(format!("unknown output {other:?}"))),
        };
        let kind = kind(kind_name)?;
        let bytes = data.as_bytes();
        let limits = Limits { max_records };
        let engine = &self.inner;
        let outcome = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                engine.run(bytes, kind, &output, &limits, received_ns)
            }))
        });
        let result = match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => {
                let args = (error.kind, error.reason, error.offset, error.framing);
                return Err(CodecFailure::new_err(args));
            }
            Err(_) => return Err(InternalError::new_err("the engine panicked on this batch")),
        };
        let counts = PyList::empty(py);
        for ((classification, category, severity), count) in &result.counts {
            counts.append((
                (
                    classification.as_str(),
                    category.as_str(),
                    severity.as_str(),
                ),
                *count,
            ))?;
        }
        let items: Vec<Bound<'py, PyAny>> = vec![
            PyBytes::new(py, &result.body).into_any(),
            result
                .framing
                .map(Framing::name)
                .into_pyobject(py)?
                .into_any(),
            result
                .out_framing
                .map(Framing::name)
                .into_pyobject(py)?
                .into_any(),
            result.records.into_pyobject(py)?.into_any(),
            counts.into_any(),
            PyBytes::new(py, &result.outcomes).into_any(),
            result.ids.into_pyobject(py)?.into_any(),
            result.documents.into_pyobject(py)?.into_any(),
        ];
        PyTuple::new(py, items)
    }
}

/// The pattern in Python `re` syntax, meaning exactly what it means to this engine.
#[pyfunction]
fn python_pattern(pattern: &str) -> PyResult<String> {
    logenrich_core::hir2py::python_pattern(pattern).map_err(PyValueError::new_err)
}

/// Why this engine cannot compile the pattern; None when it can.
#[pyfunction]
fn pattern_problem(pattern: &str) -> Option<String> {
    logenrich_core::config::compile(pattern).err()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(python_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(pattern_problem, m)?)?;
    m.add("MAX_DEPTH", logenrich_core::MAX_DEPTH)?;
    m.add("CodecFailure", m.py().get_type::<CodecFailure>())?;
    m.add("InternalError", m.py().get_type::<InternalError>())?;
    Ok(())
}
