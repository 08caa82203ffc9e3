"""Every deploy artifact that a tool here can check: parse, compile, validate, cover; and what the
shippers really send, enriched by the product and checked against the index templates with
Elasticsearch's own mapping rules.

The shipper records in tests/fixtures/deploy are exactly what each tool emits (Vector `file`,
`journald`, `socket`, `http_server`, `kubernetes_logs`; Fluent Bit `tail` with the CRI parser and the
kubernetes filter, `systemd`); tests/fixtures/deploy/SOURCES.md says where each shape comes from.
Vector configs run on Vector's own VRL compiler and runtime (`vector_vrl`), their `tests:` through
the remap topology as Vector's unit tests run them.
"""

import copy
import fnmatch
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import msgpack
import pytest
import vector_vrl
import yaml
from fastapi.testclient import TestClient

from app.api import create_app
from app.api.problems import CODEC_STATUS, PROBLEMS
from app.batch import Bulk, JsonLines, Limits
from app.enrich import Enricher, EnrichOptions
from app.relay.encoders import encode_dead_letters, read_bulk_response
from app.relay.forwarder import _MEDIA
from app.settings import Settings
from tests.helpers import FIXTURES, ROOT, builtin_table, cli, engine_for

DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), COMPOSE])
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
VECTOR = DEPLOY / "vector"
VECTOR_CONFIGS = sorted(VECTOR.glob("*.yaml"))
SHIPPED = FIXTURES / "deploy"
PROFILES = ("default", "ecs")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _setting(name: str) -> Any:
    return Settings.model_fields[name].default


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_text()))
    assert documents and all(isinstance(d, dict) for d in documents)


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_json_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


# --- docker ----------------------------------------------------------------------------------------


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^(?=FROM )", text, flags=re.MULTILINE)[1:]
    bases = [stage.split()[1] for stage in stages]
    assert len(bases) >= 2, "multi-stage"
    for base in bases:  # pinned by version
        assert re.fullmatch(r"python:3\.12\.\d+-slim-\w+|rust:1\.\d+\.\d+-slim-\w+", base), base
    # the builder compiles the crate into a wheel with the locked crate versions ...
    assert "maturin build --release --locked" in text and "COPY native ./native" in text
    # ... and the image gets the wheel only: no toolchain, no sources
    final = stages[-1]
    assert bases[-1].startswith("python:") and "COPY --from=build /wheels" in final
    assert not re.search(r"cargo|rustup|COPY (app|native)", final)
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "LOGENRICH_WORKERS" in text
    assert 'VOLUME ["/etc/logenrich/rules"]' in text


def test_the_wheel_ships_the_engine_and_the_catalog(tmp_path: Path) -> None:
    """What the Dockerfile's builder does (maturin, release, locked), then the package run from
    the installed wheel alone: the native engine loads and the built-in catalog checks."""
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build = [sys.executable, "-m", "maturin", "build", "--release", "--locked", "--quiet"]
    build += ["--interpreter", sys.executable, "--out", str(wheels)]
    subprocess.run(build, cwd=ROOT, check=True, timeout=900)
    (wheel,) = wheels.glob("logenrich-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
    )
    script = (
        "import app, app._native, app.engine, app.catalog;"
        "print(app.__file__);"
        "print(app.engine.load_engine.__module__);"
        "print(len(app.catalog.rule_paths(None)))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    shown = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    where, _, files = shown.stdout.split("\n")[:3]
    assert where.startswith(str(site)), where  # the wheel's package, not the working tree
    assert int(files) >= 9  # every built-in rule file is in the wheel
    checked = subprocess.run(
        [sys.executable, "-m", "app.cli", "check"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stderr
    ui = site / "app" / "ui"
    assert (ui / "index.html").exists() and (site / "app" / "samples" / "jupyterhub.log").exists()


def test_compose_references_only_what_exists() -> None:
    compose = _yaml(COMPOSE)
    services: dict[str, Any] = compose["services"]
    volumes = set(compose.get("volumes", {}))
    for name, service in services.items():
        image = service.get("image", "")
        if "build" not in service:
            assert re.search(r":[\w.-]*\d[\w.-]*$", image), f"{name}: image not pinned: {image}"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in volumes, f"{name}: volume {source} is not declared"
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists()


def test_compose_is_the_whole_pipeline() -> None:
    services = _yaml(COMPOSE)["services"]
    assert {
        "loggen",
        "vector-edge",
        "logenrich",
        "vector-core",
        "elasticsearch",
        "kibana",
        "loki",
        "grafana",
    } <= set(services)
    assert {"es-setup", "kibana-setup"} <= set(services)
    edge = _yaml(VECTOR / "edge.yaml")
    assert edge["sinks"]["logenrich"]["uri"].endswith("/v1/forward")
    assert services["logenrich"]["environment"]["LOGENRICH_FORWARD_URL"].startswith("http://vector-core:")


def test_compose_scrapes_logenrich_and_shares_the_token() -> None:
    """Prometheus scrapes the service (rules loaded, Grafana reads it); the edge gets the token
    logenrich checks; the Vector image is one whose elasticsearch sink re-sends only the failed
    items (request_retry_partial: from 0.49, a whole-request retry before, which duplicates)."""
    services = _yaml(COMPOSE)["services"]
    prometheus = services["prometheus"]
    mounts = dict(mount.split(":")[:2] for mount in prometheus["volumes"] if mount.startswith("."))
    assert mounts["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "logenrich"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["logenrich:8080"]
    assert mounts["./deploy/prometheus/rules"] == "/etc/prometheus/rules"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert "prometheus" in services["grafana"]["depends_on"]
    datasources = _yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    token = services["logenrich"]["environment"]["LOGENRICH_TOKEN"]
    assert token and services["vector-edge"]["environment"]["LOGENRICH_TOKEN"] == token
    for name in ("vector-edge", "vector-core"):
        version = re.search(r":(\d+)\.(\d+)", services[name]["image"])
        assert version is not None, services[name]["image"]
        major, minor = map(int, version.groups())
        assert (major, minor) >= (0, 49), services[name]["image"]


# --- vector: the VRL and the unit tests, on Vector's own runtime -------------------------------------

TS = "__vrl_timestamp__:"
# Events cross program boundaries as JSON; timestamps keep their type by a tag (decoded first thing,
# encoded last), as they would inside Vector.
DECODE = (
    ". = map_values(., recursive: true) -> |v| { if is_string(v) && starts_with(string!(v), "
    f'"{TS}") {{ parse_timestamp(slice!(string!(v), {len(TS)}), "%+") ?? v }} else {{ v }} }}\n'
)
ENCODE = (
    '\n. = {"__vrl_event": encode_json(map_values(., recursive: true) -> |v| { if is_timestamp(v) { '
    f'"{TS}" + format_timestamp!(timestamp!(v), "%Y-%m-%dT%H:%M:%S%.9fZ") }} else {{ v }} }})}}'
)


def _now_tag() -> str:
    return TS + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _untag(value: Any) -> Any:
    """An event as a sink encodes it: timestamps as RFC 3339 text."""
    if isinstance(value, dict):
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    if isinstance(value, str) and value.startswith(TS):
        return value[len(TS) :]
    return value


def _vrl(source: str, event: dict[str, Any]) -> tuple[str, Any]:
    """("ok", the event after the program) or ("abort" | "error", the message)."""
    [out] = vector_vrl.execute_vrl(DECODE + source + ENCODE, [json.dumps(event)])
    if "error" in out:
        message = str(out["error"])
        if message.startswith("VRL aborted: "):
            return "abort", message.removeprefix("VRL aborted: ")
        return "error", message
    return "ok", json.loads(out["__vrl_event"])


def _condition(source: str, event: dict[str, Any]) -> str | None:
    """None when a `type: vrl` condition holds for the event; else why not."""
    outcome, value = _vrl(
        f"vrl_condition_result = {{\n{source}\n}}\n. = {{}}\n.ok = vrl_condition_result", event
    )
    if outcome != "ok":
        return str(value)
    return None if value.get("ok") is True else f"the condition gave {value.get('ok')!r}"


def _path(path: str) -> list[str]:
    """A Vector path (`a.b."c.d"`) as its segments."""
    return [
        m.group(1) if m.group(1) is not None else m.group(2) for m in re.finditer(r'"([^"]*)"|([^.]+)', path)
    ]


def _input_event(given: dict[str, Any]) -> dict[str, Any]:
    """A unit test input as Vector builds it (src/config/unit_test/mod.rs, build_input_event)."""
    kind = given.get("type", "raw")
    if kind == "vrl":
        outcome, event = _vrl(given["source"], {})
        assert outcome == "ok", event
        return event  # type: ignore[no-any-return]
    if kind == "raw":
        return {"message": given["value"], "timestamp": _now_tag()}
    assert kind == "log", f"input type {kind} is not run here"
    event: dict[str, Any] = {"message": "", "timestamp": _now_tag()}
    for path, value in given["log_fields"].items():
        *parents, last = _path(path)
        target = event
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return event


def _transform(
    name: str, transform: dict[str, Any], event: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(output port, event) for one event through one transform, as Vector's remap does it
    (src/transforms/remap.rs: drop_on_error false, drop_on_abort true, reroute_dropped false by
    default; a dropped event is the original one, annotated under .metadata.dropped)."""
    kind = transform["type"]
    if kind != "remap":
        pytest.fail(f"{name}: a {kind} transform is not run here; insert the test's input after it")
    outcome, value = _vrl(transform["source"], event)
    if outcome == "ok":
        return [("", value)]
    drop = (
        transform.get("drop_on_abort", True) if outcome == "abort" else transform.get("drop_on_error", False)
    )
    if not drop:
        return [("", event)]
    if not transform.get("reroute_dropped", False):
        return []
    annotated = copy.deepcopy(event)
    metadata = annotated.setdefault("metadata", {})
    metadata["dropped"] = {
        "reason": outcome,
        "message": value,
        "component_id": name,
        "component_type": "remap",
        "component_kind": "transform",
    }
    return [("dropped", annotated)]


def _run_topology(config: dict[str, Any], insert_at: str, event: dict[str, Any]) -> dict[str, list[Any]]:
    """Every transform output (`id` or `id.port`) an event inserted at a transform reaches."""
    transforms: dict[str, Any] = config.get("transforms", {})
    reached: dict[str, list[Any]] = defaultdict(list)
    pending = [(insert_at, event)]
    while pending:
        name, current = pending.pop(0)
        for port, out in _transform(name, transforms[name], current):
            output = f"{name}.{port}" if port else name
            reached[output].append(out)
            pending += [(other, out) for other, t in transforms.items() if output in t.get("inputs", [])]
    return reached


def _run_unit_test(config: dict[str, Any], test: dict[str, Any]) -> list[str]:
    """The failures of one of a config's `tests:` (src/config/unit_test/unit_test_components.rs:
    each condition must hold for at least one extracted event)."""
    reached: dict[str, list[Any]] = defaultdict(list)
    for given in test.get("inputs") or [test["input"]]:
        for output, events in _run_topology(config, given["insert_at"], _input_event(given)).items():
            reached[output] += events
    failures = []
    for expected in test.get("outputs", []):
        sources = expected["extract_from"]
        events = [
            e for source in ([sources] if isinstance(sources, str) else sources) for e in reached[source]
        ]
        if "expected_event_count" in expected and len(events) != expected["expected_event_count"]:
            failures.append(f"{sources}: {len(events)} events, not {expected['expected_event_count']}")
        if not events:
            failures.append(f"{sources}: no events")
            continue
        for condition in expected.get("conditions", []):
            source = condition if isinstance(condition, str) else condition["source"]
            assert isinstance(condition, str) or condition["type"] == "vrl", condition
            why = [_condition(source, event) for event in events]
            if all(why):
                failures.append(f"{sources}: {why[0]}")
    failures += [
        f"{source}: expected no events, got {reached[source]}"
        for source in test.get("no_outputs_from", [])
        if reached[source]
    ]
    return failures


@pytest.mark.parametrize("path", VECTOR_CONFIGS, ids=lambda p: p.name)
def test_vector_remap_programs_compile(path: Path) -> None:
    check = vector_vrl.validate_config(path)
    assert check.ok, check
    assert check.checked and not check.skipped and not check.unchecked


VECTOR_TESTS = [(path, test) for path in VECTOR_CONFIGS for test in _yaml(path).get("tests", [])]


@pytest.mark.parametrize(
    ("path", "test"), VECTOR_TESTS, ids=lambda v: v["name"] if isinstance(v, dict) else v.name
)
def test_vector_unit_tests_pass(path: Path, test: dict[str, Any]) -> None:
    """Vector's `tests:` run with Vector's own VRL runtime through the config's transforms."""
    assert test.get("inputs") or test.get("input")
    assert test.get("outputs") or test.get("no_outputs_from")
    assert _run_unit_test(_yaml(path), test) == []


def test_the_unit_test_runner_fails_what_vector_fails() -> None:
    """The runner above fails a test Vector would fail: a wrong condition, an output with no
    events, events where none are expected; the core's dead-letter route as its case."""
    config = _yaml(VECTOR / "core.yaml")
    refused = {"insert_at": "labels", "type": "log", "log_fields": {"message": "x", "host.name": "jhub-vm-1"}}
    right = {
        "name": "right",
        "inputs": [refused],
        "outputs": [
            {"extract_from": "dead_letter_docs", "conditions": ['contains(string!(.error.message), "host")']}
        ],
        "no_outputs_from": ["es_guard"],
    }
    assert _run_unit_test(config, right) == []
    wrong_condition = {
        **right,
        "outputs": [{"extract_from": "dead_letter_docs", "conditions": ['.error.code == "500"']}],
    }
    assert _run_unit_test(config, wrong_condition)
    no_events = {
        **right,
        "outputs": [{"extract_from": "es_guard", "conditions": ["true"]}],
        "no_outputs_from": [],
    }
    assert _run_unit_test(config, no_events) == ["es_guard: no events"]
    unexpected = {**right, "no_outputs_from": ["dead_letter_docs"]}
    assert _run_unit_test(config, unexpected)


def test_vector_acknowledgements_live_on_the_sinks() -> None:
    """A source-level `acknowledgements` is deprecated since Vector 0.21 and does nothing
    (lib/vector-core/src/config/mod.rs); every sink of every config enables them, with a disk buffer
    that blocks."""
    for path in VECTOR_CONFIGS:
        config = _yaml(path)
        for name, source in config["sources"].items():
            assert "acknowledgements" not in source, f"{path.name}: source {name}"
        for name, sink in config["sinks"].items():
            assert sink["acknowledgements"]["enabled"] is True, f"{path.name}: sink {name}"
            assert sink["buffer"]["type"] == "disk" and sink["buffer"]["when_full"] == "block", name


VECTOR_EDGES = ("edge.yaml", "edge-kubernetes.yaml", "sandwich.yaml")


@pytest.mark.parametrize("name", VECTOR_EDGES)
def test_vector_edges_send_logenrichs_token(name: str) -> None:
    """The http sink sends `Authorization: Bearer` (auth strategy bearer, src/http.rs) with the token
    from LOGENRICH_TOKEN, and that is the only variable Vector interpolates: it replaces `$NAME` and
    `${NAME}` anywhere in the file, comments and VRL included, and refuses to start on a missing one
    (src/config/vars.rs)."""
    text = (VECTOR / name).read_text()
    sink = yaml.safe_load(text)["sinks"]["logenrich"]
    assert sink["type"] == "http" and sink["uri"].endswith("/v1/forward")
    assert sink["auth"] == {
        "strategy": "bearer",
        "token": "${LOGENRICH_TOKEN:?set LOGENRICH_TOKEN to logenrich's bearer token}",
    }
    assert "headers" not in sink and "Authorization" not in str(sink.get("request", {}))
    variables = re.findall(r"\$\$|\$[\w.]+|\$\{[^}]*\}", text)
    assert variables == ["${LOGENRICH_TOKEN:?set LOGENRICH_TOKEN to logenrich's bearer token}"], variables


def _load_script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _upstream(config: dict[str, Any], component: str) -> set[str]:
    """Every component an output of `component` can come from."""
    every = {**config["sources"], **config.get("transforms", {}), **config["sinks"]}
    seen: set[str] = set()
    pending = list(every[component].get("inputs", []))
    while pending:
        name = pending.pop().split(".")[0]
        if name not in seen:
            seen.add(name)
            pending += every[name].get("inputs", [])
    return seen


def test_vector_sandwich_and_kubernetes_edge() -> None:
    """One Vector around logenrich (edge.yaml + core.yaml, generated, in sync), whose http_server
    source never feeds its http sink; an edge reading the pods with kubernetes_logs whose reduce
    joins tracebacks as the file edge does."""
    script = _load_script("vector_inline")
    assert (VECTOR / "sandwich.yaml").read_text() == script.build_sandwich(), "run: make vector-inline"
    sandwich = _yaml(VECTOR / "sandwich.yaml")
    assert sandwich["sources"]["from_logenrich"]["type"] == "http_server"
    assert "from_logenrich" not in _upstream(sandwich, "logenrich")
    assert "jupyterhub" not in _upstream(sandwich, "elasticsearch")
    assert {t["name"] for t in sandwich["tests"]} >= {t["name"] for t in _yaml(VECTOR / "core.yaml")["tests"]}

    kubernetes = _yaml(VECTOR / "edge-kubernetes.yaml")
    [source] = kubernetes["sources"].values()
    assert source["type"] == "kubernetes_logs" and "app=jupyterhub" in source["extra_label_selector"]
    reduce = kubernetes["transforms"]["tracebacks"]
    assert reduce["type"] == "reduce" and reduce["merge_strategies"]["message"] == "concat_newline"
    starts = reduce["starts_when"]["source"]
    lines = {
        "[E 2026-03-10 17:25:19.774 JupyterHub web:1875] Uncaught exception": True,
        "    Traceback (most recent call last):": False,
        '\t  File "/usr/lib/python3/site-packages/tornado/web.py", line 1790, in _execute': False,
        "KeyError: 'alice'": True,
    }
    for line, starts_a_record in lines.items():
        assert (_condition(starts, {"message": line}) is None) is starts_a_record, line
    file_edge = _yaml(VECTOR / "edge.yaml")["sources"]["jupyterhub"]["multiline"]
    for line, starts_a_record in lines.items():
        assert bool(re.match(file_edge["start_pattern"], line)) is starts_a_record, line
    assert kubernetes["tests"]


# --- elasticsearch: Elasticsearch's mapping rules ------------------------------------------------------

ES = DEPLOY / "elasticsearch"
KEYWORDS = {"keyword", "constant_keyword", "wildcard", "text", "match_only_text"}
INTEGERS = {"long", "integer", "short", "byte", "unsigned_long"}
FLOATS = {"double", "float", "half_float", "scaled_float"}
# strict_date_optional_time, the first of the dynamic date formats, and what a date field parses
ISO_DATE = re.compile(
    r"\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?"
)
SLASH_DATE = re.compile(r"\d{4}/\d{2}/\d{2}( \d{2}:\d{2}:\d{2})?( [+-]\d{4}|Z)?")


class Refused(Exception):
    """Elasticsearch's answer to a document it will not index (400 in the bulk item)."""


def _deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _component(name: str) -> dict[str, Any]:
    return _json(ES / f"component-template-{name.removeprefix('logenrich-')}.json")  # type: ignore[no-any-return]


def merged_template(path: Path) -> dict[str, Any]:
    """An index template's settings and mappings, its component templates merged in order and its
    own template last (Elasticsearch's composable templates)."""
    template = _json(path)
    merged: dict[str, Any] = {"settings": {}, "mappings": {"properties": {}, "dynamic_templates": []}}
    for part in [_component(name)["template"] for name in template.get("composed_of", [])] + [
        template.get("template", {})
    ]:
        _deep_merge(merged["settings"], part.get("settings", {}))
        mappings = copy.deepcopy(part.get("mappings", {}))
        merged["mappings"]["dynamic_templates"] += mappings.pop("dynamic_templates", [])
        _deep_merge(merged["mappings"], mappings)
    return merged


INDEX_TEMPLATES = sorted(p for p in ES.glob("*index-template*.json"))


def template_for(index: str) -> Path:
    """The index template Elasticsearch applies to a new index or data stream: the matching one of
    the highest priority (Elasticsearch's built-in logs-*-* has priority 100)."""
    matching = [
        (_json(p)["priority"], p)
        for p in INDEX_TEMPLATES
        if any(fnmatch.fnmatchcase(index, pattern) for pattern in _json(p)["index_patterns"])
    ]
    assert matching, f"no index template matches {index}: Elasticsearch's built-in one would"
    priority, path = max(matching)
    assert priority > 100, f"{path.name} is below Elasticsearch's built-in logs-*-* template"
    return path


def _mapping_type(mapping: dict[str, Any]) -> str:
    return str(mapping.get("type", "object"))


def _parses_as_date(value: Any, nanos: bool) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):  # epoch_millis
        return not nanos or value >= 0
    if not isinstance(value, str):
        return False
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return not nanos or not value.startswith("-")
    return bool(ISO_DATE.fullmatch(value)) and (not nanos or value[:4] >= "1970")


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class Index:
    """One index (a data stream's backing index) with Elasticsearch's mapping rules: its mapping
    grows with the fields dynamic mapping adds, and a document that does not fit is refused whole
    (DocumentParser, ObjectMapper, DynamicFieldsBuilder).

    - a dotted key expands to objects (`a.b` is `a` then `b`) unless the object has
      `subobjects: false`; a flattened or disabled object takes whatever it holds;
    - a concrete value where the mapping (or an earlier field of the same record) has an object is
      refused, and so is an object where the mapping has a value type;
    - a value of the wrong kind for a numeric, date or boolean field is refused unless
      `ignore_malformed`; dynamic `strict` refuses new fields, `false` keeps them unindexed;
    - new string fields are dates when date detection is on and they parse as one (with two of
      `:`, `-` or `/`), text with a keyword sub-field otherwise; dynamic templates come first."""

    def __init__(self, name: str, template: dict[str, Any]) -> None:
        self.name = name
        self.mappings = copy.deepcopy(template["mappings"])
        self.templates = self.mappings.pop("dynamic_templates", [])
        self.limit = int(template["settings"].get("index.mapping.total_fields.limit", 1000))

    def index(self, document: Any) -> None:
        if not isinstance(document, dict):
            raise Refused("a document must be an object")
        self._object(self.mappings, "", document, self.mappings.get("dynamic", True))
        if self._count(self.mappings) > self.limit:
            raise Refused(f"Limit of total fields [{self.limit}] has been exceeded")

    def _count(self, mapping: dict[str, Any]) -> int:
        total = 0
        for child in mapping.get("properties", {}).values():
            total += 1 + len(child.get("fields", {})) + self._count(child)
        return total

    def _dynamic_mapping(self, path: str, name: str, json_type: str) -> dict[str, Any] | None:
        for entry in self.templates:
            (spec,) = entry.values()
            if spec.get("match_mapping_type", "*") not in ("*", json_type):
                continue
            if "path_match" in spec and not fnmatch.fnmatchcase(path, spec["path_match"]):
                continue
            if "match" in spec and not fnmatch.fnmatchcase(name, spec["match"]):
                continue
            if "unmatch" in spec and fnmatch.fnmatchcase(name, spec["unmatch"]):
                continue
            return copy.deepcopy(spec["mapping"])  # type: ignore[no-any-return]
        return None

    def _json_type(self, value: Any) -> str:
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "long"
        if isinstance(value, float):
            return "double"
        if isinstance(value, dict):
            return "object"
        text = str(value)
        detect = self.mappings.get("date_detection", True) and max(text.count(c) for c in ":-/") > 1
        if detect and (ISO_DATE.fullmatch(text) or SLASH_DATE.fullmatch(text)):
            return "date"
        return "string"

    def _new(
        self, parent: dict[str, Any], path: str, name: str, value: Any, dynamic: Any
    ) -> dict[str, Any] | None:
        """The mapping dynamic mapping adds for a new field, or None when it is not indexed."""
        if dynamic in ("strict", "strict_allow_templates"):
            raise Refused(
                f"mapping set to strict, dynamic introduction of [{name}] within [{path}] is not allowed"
            )
        if dynamic is False or dynamic == "false":
            return None
        json_type = self._json_type(value)
        mapping = self._dynamic_mapping(path, name, json_type)
        if mapping is None:
            mapping = {
                "object": {},
                "boolean": {"type": "boolean"},
                "long": {"type": "long"},
                "double": {"type": "float"},
                "date": {"type": "date"},
                "string": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
            }[json_type]
        parent.setdefault("properties", {})[name] = mapping
        return mapping

    def _object(self, mapping: dict[str, Any], prefix: str, document: dict[str, Any], dynamic: Any) -> None:
        subobjects = mapping.get("subobjects", True)
        for key, value in document.items():
            if not key.strip() or key.startswith(".") or key.endswith(".") or ".." in key:
                raise Refused(f"field name [{prefix}{key}] cannot be empty or contain only dots")
            parent, parent_dynamic, parent_prefix, name = mapping, dynamic, prefix, key
            if subobjects is not False and "." in key:
                *parts, name = key.split(".")
                for part in parts:
                    path = parent_prefix + part
                    child = parent.get("properties", {}).get(part)
                    if child is None:
                        child = self._new(parent, path, part, {}, parent_dynamic)
                        if child is None:
                            break
                    kind = _mapping_type(child)
                    if kind == "flattened" or child.get("enabled") is False:
                        parent = {}
                        break
                    if kind not in ("object", "nested"):
                        raise Refused(
                            f"Could not dynamically add mapping for field [{prefix}{key}]. Existing mapping "
                            f"for [{path}] must be of type object but found [{kind}]."
                        )
                    parent, parent_prefix = child, path + "."
                    parent_dynamic = child.get("dynamic", parent_dynamic)
                else:
                    self._field(parent, parent_prefix, name, value, parent_dynamic)
                continue
            self._field(parent, parent_prefix, name, value, parent_dynamic)

    def _field(self, parent: dict[str, Any], prefix: str, name: str, value: Any, dynamic: Any) -> None:
        path = prefix + name
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                self._field(parent, prefix, name, item, dynamic)
            return
        mapping = parent.get("properties", {}).get(name)
        if mapping is None:
            mapping = self._new(parent, path, name, value, dynamic)
            if mapping is None:
                return
        kind = _mapping_type(mapping)
        if isinstance(value, dict):
            if kind in ("object", "nested"):
                if mapping.get("enabled") is False:
                    return
                if mapping.get("subobjects", True) is False:
                    value = _flatten(value)
                self._object(mapping, path + ".", value, mapping.get("dynamic", dynamic))
                return
            if kind == "flattened":
                return
            raise Refused(f"failed to parse field [{path}] of type [{kind}]: it holds an object")
        if kind in ("object", "nested"):
            raise Refused(
                f"object mapping for [{path}] tried to parse field [{name}] as object, but found a concrete value"
            )
        if kind == "flattened" or not self._fits(kind, mapping, value):
            if mapping.get("ignore_malformed") is True and kind != "flattened":
                return
            raise Refused(f"failed to parse field [{path}] of type [{kind}]: {value!r}")

    def _fits(self, kind: str, mapping: dict[str, Any], value: Any) -> bool:
        if kind in KEYWORDS:
            if kind == "constant_keyword":
                mapping.setdefault("value", str(value))
                return mapping["value"] == str(value)
            return True
        if kind in INTEGERS | FLOATS:
            return _is_number(value) and (kind in FLOATS or float(value) == int(float(value)))
        if kind in ("date", "date_nanos"):
            return _parses_as_date(value, nanos=kind == "date_nanos")
        if kind == "boolean":
            return isinstance(value, bool) or value in ("true", "false", "")
        if kind == "ip":
            try:
                ipaddress.ip_address(str(value))
            except ValueError:
                return False
            return True
        raise AssertionError(f"no rule here for field type {kind}")


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, inner in value.items():
        if isinstance(inner, dict):
            out.update(_flatten(inner, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = inner
    return out


class Cluster:
    """Data streams created on first write, each from the template that matches its name."""

    def __init__(self) -> None:
        self.indices: dict[str, Index] = {}
        self.documents: dict[str, list[Any]] = defaultdict(list)

    def write(self, index: str, document: Any) -> None:
        if index not in self.indices:
            path = template_for(index)
            assert _json(path).get("data_stream") == {}, f"{index}: {path.name} makes no data stream"
            self.indices[index] = Index(index, merged_template(path))
        try:
            self.indices[index].index(document)
        except Refused as refused:
            raise Refused(f"{index}: {refused}\n{json.dumps(document)[:600]}") from None
        self.documents[index].append(document)


def test_the_mapping_rules_refuse_what_elasticsearch_refuses() -> None:
    """The rules above give Elasticsearch's answers to the documents issue 16 quotes, and the
    streams' templates take those documents."""
    template = {"settings": {}, "mappings": {"properties": {"host": {"type": "object", "dynamic": True}}}}
    with pytest.raises(Refused, match=r"object mapping for \[host\] tried to parse field \[host\] as object"):
        Index("t", template).index({"host": "jhub-vm-1"})
    labels = {"kubernetes": {"labels": {"app": "jupyterhub", "app.kubernetes.io/name": "jupyterhub"}}}
    with pytest.raises(
        Refused, match=r"Existing mapping for \[kubernetes.labels.app\] must be of type object"
    ):
        Index("t", {"settings": {}, "mappings": {"properties": {"kubernetes": {"dynamic": True}}}}).index(
            labels
        )
    with pytest.raises(Refused, match=r"field \[log\] of type \[match_only_text\]"):
        Index("t", {"settings": {}, "mappings": {"properties": {"log": {"type": "match_only_text"}}}}).index(
            {"log": {"level": "info"}}
        )
    index = Index("t", {"settings": {}, "mappings": {"properties": {}}})
    index.index({"when": "2026-03-10T17:25:19Z"})
    with pytest.raises(Refused, match=r"\[when\] of type \[date\]"):
        index.index({"when": "yesterday"})
    with pytest.raises(Refused, match="strict"):
        Index("t", {"settings": {}, "mappings": {"dynamic": "strict"}}).index({"x": 1})
    pod_labels = {"kubernetes": {"pod_labels": labels["kubernetes"]["labels"]}}
    for stream in ("logs-jupyterhub-default", "logs-jupyterhub.ecs-default"):
        taken = Index(stream, merged_template(template_for(stream)))
        for document in (
            {"host": "jhub-vm-1"},
            labels,
            pod_labels,
            {"@timestamp": "2026-03-10T17:25:19.774982113Z"},
        ):
            taken.index(document)
    Index("d", merged_template(template_for("logs-jupyterhub-default"))).index({"log": "a Fluent Bit line"})
    Index("e", merged_template(template_for("logs-jupyterhub.ecs-default"))).index({"log": {"level": "info"}})


# --- the shippers' records, through the recipes and the product -------------------------------------


def _shipped(name: str) -> list[dict[str, Any]]:
    """A fixture: one Vector event (as its JSON codec writes it) or a Fluent Bit out_http batch."""
    loaded = json.loads((SHIPPED / name).read_text())
    return loaded if isinstance(loaded, list) else [loaded]


VECTOR_SOURCES = {
    "vector-file.json": ("edge.yaml", "tag"),
    "vector-journald.json": ("edge.yaml", "tag"),
    "vector-socket.json": ("edge.yaml", "tag"),
    "vector-http_server.json": ("edge.yaml", "tag"),
    "vector-kubernetes_logs.json": ("edge-kubernetes.yaml", "tag"),
}
FLUENT_BIT_SOURCES = ("fluentbit-tail-cri-kubernetes.json", "fluentbit-systemd.json")
# Fluent Bit's systemd input keeps journald's upper-case MESSAGE (plugins/in_systemd/systemd.c)
MESSAGE_FIELDS = ("message", "log", "msg", "MESSAGE")


def _fluent_bit_filters(
    config: dict[str, Any], records: list[dict[str, Any]], names: set[str]
) -> list[dict[str, Any]]:
    """The config's modify filters (`rename` renames a key that is there to one that is not),
    in order; the other filters are checked apart (see the Fluent Bit tests)."""
    out = copy.deepcopy(records)
    for spec in config["pipeline"].get("filters", []):
        if spec["name"] != "modify":
            assert spec["name"] in names, f"a {spec['name']} filter is not run here"
            continue
        for operation, argument in spec.items():
            if operation in ("name", "match"):
                continue
            assert operation == "rename", f"modify {operation} is not run here"
            old, new = argument.split()
            for record in out:
                if old in record and new not in record:
                    record[new] = record.pop(old)
    return out


def edge_batches() -> dict[str, list[dict[str, Any]]]:
    """What each edge recipe sends logenrich, per shipper fixture."""
    batches: dict[str, list[dict[str, Any]]] = {}
    for name, (config_name, transform) in VECTOR_SOURCES.items():
        config = _yaml(VECTOR / config_name)
        outs = []
        for event in _shipped(name):
            outcome, out = _vrl(config["transforms"][transform]["source"], event)
            assert outcome == "ok", out
            outs.append(_untag(out))
        batches[name] = outs
    fluent_bit = _yaml(DEPLOY / "fluent-bit" / "fluent-bit.yaml")
    for name in FLUENT_BIT_SOURCES:
        batches[name] = _fluent_bit_filters(fluent_bit, _shipped(name), {"multiline", "kubernetes"})
    return batches


def _enrich(records: list[dict[str, Any]], profile: str, output: Any) -> bytes:
    options = EnrichOptions(profile=profile, message_fields=MESSAGE_FIELDS)  # type: ignore[arg-type]
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return engine_for("native", options).run(body, "ndjson", output, Limits(), time.time_ns()).body


def _vector_elasticsearch(event: dict[str, Any], sink: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What Vector's elasticsearch sink writes for an event: except_fields out; in data_stream mode
    `timestamp` renamed to `@timestamp` and data_stream.* synced, the stream named from the event's
    data_stream fields (auto_routing) else the config (src/sinks/elasticsearch/config.rs)."""
    document = _untag(
        {k: v for k, v in event.items() if k not in sink.get("encoding", {}).get("except_fields", [])}
    )
    if sink.get("mode") == "data_stream":
        if "timestamp" in document:
            document["@timestamp"] = document.pop("timestamp")
        fields = document.setdefault("data_stream", {})
        for key, config_key in (("type", "type"), ("dataset", "dataset"), ("namespace", "namespace")):
            fields.setdefault(key, sink["data_stream"][config_key])
        return f"{fields['type']}-{fields['dataset']}-{fields['namespace']}", document
    assert sink["bulk"]["action"] == "create", "a data stream takes create actions only"
    return sink["bulk"]["index"], document


def through_vector_core(records: list[dict[str, Any]], cluster: Cluster) -> None:
    """logenrich --forward-format ndjson -> core.yaml's http_server source (json codec: `path` and
    `source_type` added, `timestamp` only when missing) -> its transforms -> its sinks."""
    core = _yaml(VECTOR / "core.yaml")
    sinks = core["sinks"]
    for record in records:
        event = {**record, "path": record.get("path", "/"), "source_type": "http_server"}
        event.setdefault("timestamp", _now_tag())
        reached = _run_topology(core, "labels", event)
        for sink in sinks.values():
            if sink["type"] != "elasticsearch":
                continue
            for component in sink["inputs"]:
                for out in reached.get(component, []):
                    cluster.write(*_vector_elasticsearch(out, sink))


def downstream_lua(record: dict[str, Any], arrival: float) -> tuple[float, dict[str, Any]]:
    """What the downstream's lua filter does to an event (the same code run by LuaJIT, Fluent
    Bit's Lua, in test_fluent_bit_downstream_lua_takes_the_records_time)."""
    out = dict(record)
    date = out.get("date")
    when = (
        float(date) if isinstance(date, int | float) and not isinstance(date, bool) and date > 0 else arrival
    )
    if isinstance(out.get("log"), str) and "message" not in out:
        out["message"] = out.pop("log")
    return when, out


def _replace_dots(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.replace(".", "_"): _replace_dots(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_dots(v) for v in value]
    return value


def through_fluent_bit_downstream(records: list[dict[str, Any]], profile: str, cluster: Cluster) -> None:
    """logenrich --forward-format json -> fluent-bit-downstream.yaml: in_http (a JSON array, each
    element a record), its filters, its es output (Replace_Dots rewrites every key; the time key is
    written first, from the event time: plugins/out_es/es.c)."""
    config = _yaml(DEPLOY / "fluent-bit" / "fluent-bit-downstream.yaml")
    [es] = [o for o in config["pipeline"]["outputs"] if o["name"] == "es"]
    arrival = time.time()
    body = _enrich(records, profile, JsonLines(array=True))
    received = json.loads(body)
    assert isinstance(received, list)
    filtered = _fluent_bit_filters(config, received, {"lua"})
    index = es["index"] if profile == "default" else "logs-jupyterhub.ecs-default"
    for event in filtered:
        when, record = downstream_lua(event, arrival)
        stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        stamp += (
            f".{round(when % 1 * 1e9):09d}Z" if es.get("time_key_nanos") else f".{round(when % 1 * 1e3):03d}Z"
        )
        document = _replace_dots(record) if es.get("replace_dots") else record
        assert es.get("time_key", "@timestamp") not in document, "the es output would write a duplicate key"
        cluster.write(index, {es.get("time_key", "@timestamp"): stamp, **document})


def through_logenrich_elasticsearch(records: list[dict[str, Any]], profile: str, cluster: Cluster) -> None:
    """logenrich's own elasticsearch downstream: a _bulk body of create actions."""
    index = "logs-jupyterhub-default" if profile == "default" else "logs-jupyterhub.ecs-default"
    lines = _enrich(records, profile, Bulk(index)).splitlines()
    for action, document in zip(lines[::2], lines[1::2], strict=True):
        target = json.loads(action)["create"]["_index"]
        cluster.write(target, json.loads(document))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("downstream", ["vector-core", "fluent-bit-downstream", "logenrich-elasticsearch"])
def test_what_the_shippers_send_fits_the_index_templates(downstream: str, profile: str) -> None:
    """Every shipper fixture through its edge recipe, enriched by the native engine, then through
    each downstream recipe into one cluster: every document is indexed (one index per stream, so
    the records' fields must also agree with each other), none is refused or dead-lettered."""
    cluster = Cluster()
    for name, records in edge_batches().items():
        if downstream == "vector-core":
            enriched = [
                json.loads(line) for line in _enrich(records, profile, JsonLines(array=False)).splitlines()
            ]
            through_vector_core(enriched, cluster)
        elif downstream == "fluent-bit-downstream":
            through_fluent_bit_downstream(records, profile, cluster)
        else:
            through_logenrich_elasticsearch(records, profile, cluster)
        assert cluster.documents, name
    stream = "logs-jupyterhub-default" if profile == "default" else "logs-jupyterhub.ecs-default"
    assert set(cluster.documents) == {stream}, "every record in its profile's stream, none dead-lettered"
    documents = cluster.documents[stream]
    assert len(documents) == sum(len(r) for r in edge_batches().values())
    owned = "enrichment" if profile == "default" else "rule"
    assert all(owned in d for d in documents), "every record enriched (systemd's MESSAGE included)"
    if downstream == "vector-core":  # the record's own time, not the time Vector received it
        assert {d["@timestamp"][:19] for d in documents} == {"2026-03-10T17:25:19"}


def _mappings(path: Path) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Explicit field paths → type, and dynamic templates (path_match, mapping type, json type)."""
    merged = merged_template(path)["mappings"]
    explicit: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, mapping in properties.items():
            path = f"{prefix}{name}"
            if "properties" in mapping:
                walk(mapping["properties"], path + ".")
            explicit[path] = mapping.get("type", "object")

    walk(merged["properties"], "")
    dynamic = []
    for entry in merged["dynamic_templates"]:
        (spec,) = entry.values()
        dynamic.append((spec["path_match"], spec["mapping"]["type"], spec["match_mapping_type"]))
    return explicit, dynamic


def _leaves(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [
            leaf
            for key, inner in value.items()
            for leaf in _leaves(inner, f"{prefix}.{key}" if prefix else key)
        ]
    return [(prefix, value)]


COMPATIBLE = {
    str: {"keyword", "match_only_text", "text", "wildcard", "constant_keyword"},
    int: {"long", "integer", "short", "double", "float", "scaled_float"},
    float: {"double", "float", "scaled_float", "half_float"},
    bool: {"boolean"},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_templates_map_every_emitted_field(profile: str) -> None:
    """Every field either profile writes, for every example of the catalog, has an explicit or a
    dynamic-template mapping of a fitting type in that profile's stream."""
    stream = "logs-jupyterhub-default" if profile == "default" else "logs-jupyterhub.ecs-default"
    explicit, dynamic = _mappings(template_for(stream))
    table = builtin_table()
    enricher = Enricher(table, EnrichOptions(profile=profile))  # type: ignore[arg-type]
    owned = ("enrichment",) if profile == "default" else ("rule", "event", "log", "logenrich")
    seen = 0
    index = Index(stream, merged_template(template_for(stream)))
    for rule in table.rules:
        for example in rule.spec.examples:
            record: dict[str, Any] = {"message": example.line, "@timestamp": "2026-03-10T17:25:19.774Z"}
            enricher.enrich_record(record)
            index.index(record)
            for path, value in _leaves({k: v for k, v in record.items() if k in owned}, ""):
                seen += 1
                if path in explicit:
                    kind = explicit[path]
                else:
                    json_type = {str: "string", int: "long", float: "double"}.get(type(value), "?")
                    matches = [
                        t
                        for pattern, t, jt in dynamic
                        if re.fullmatch(pattern.replace(".", r"\.").replace("*", "[^.]+"), path)
                        and jt == json_type
                    ]
                    assert matches, f"{profile}: {path} ({type(value).__name__}) is not mapped"
                    kind = matches[0]
                assert kind in COMPATIBLE[type(value)], (
                    f"{profile}: {path} is {type(value).__name__}, mapped as {kind}"
                )
    assert seen > 1000


def test_every_field_name_has_one_type_across_the_catalog() -> None:
    table = builtin_table()
    enricher = Enricher(table)
    types: dict[str, set[str]] = {}
    for rule in table.rules:
        for example in rule.spec.examples:
            record: dict[str, Any] = {"message": example.line}
            enricher.enrich_record(record)
            for name, value in record["enrichment"].get("fields", {}).items():
                types.setdefault(name, set()).add(type(value).__name__)
    assert {name: kinds for name, kinds in types.items() if len(kinds) > 1} == {}


def test_index_templates_are_data_streams_that_can_roll_over() -> None:
    """ILM rolls over a data stream, or an alias with a write index and index.lifecycle.rollover_alias:
    a plain index with a rollover policy stops in check-rollover-ready and never reaches delete. Every
    template setup.sh loads is a data stream whose policy exists, with no two patterns overlapping
    at one priority (Elasticsearch refuses such a template)."""
    setup = (ES / "setup.sh").read_text()
    loaded = re.findall(r"^put (\S+) (\S+)$", setup, re.MULTILINE)
    files = dict(loaded)
    policies = {
        t.removeprefix("_ilm/policy/"): _json(ES / n) for t, n in loaded if t.startswith("_ilm/policy/")
    }
    components = [
        t.removeprefix("_component_template/") for t, _ in loaded if t.startswith("_component_template/")
    ]
    templates = [ES / n for t, n in loaded if t.startswith("_index_template/")]
    assert sorted(templates) == INDEX_TEMPLATES, "setup.sh loads every index template"
    order = [t for t, _ in loaded]
    for path in templates:
        template = _json(path)
        assert template["data_stream"] == {}, path.name
        for component in template.get("composed_of", []):
            assert component in components, f"{path.name}: {component} is not loaded"
            assert order.index(f"_component_template/{component}") < order.index(
                next(t for t, n in loaded if n == path.name)
            ), f"{path.name} is loaded before {component}"
        merged = merged_template(path)
        assert merged["mappings"]["properties"]["@timestamp"]["type"] in ("date", "date_nanos")
        policy = policies[merged["settings"]["index.lifecycle.name"]]["policy"]
        hot = policy["phases"]["hot"]["actions"]
        assert "rollover" in hot and "index.lifecycle.rollover_alias" not in merged["settings"]
        assert "delete" in policy["phases"], f"{path.name}: nothing is ever deleted"
    for a in templates:
        for b in templates:
            if a < b and _json(a)["priority"] == _json(b)["priority"]:
                for pa in _json(a)["index_patterns"]:
                    for pb in _json(b)["index_patterns"]:
                        prefix_a, prefix_b = pa.split("*")[0], pb.split("*")[0]
                        assert not (prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)), (
                            a.name,
                            b.name,
                        )
    assert files["_index_template/logenrich-dead-letter"] == "dead-letter-index-template.json"


def test_dead_letters_fit_the_dead_letter_stream() -> None:
    """The documents logenrich's relay writes for what Elasticsearch refused (create actions), and
    the ones Vector core's guard turns away, are indexed by the dead-letter data stream."""
    cluster = Cluster()
    records = edge_batches()["vector-kubernetes_logs.json"] * 2
    body = _enrich(records, "default", Bulk("logs-jupyterhub-default"))
    lines = body.splitlines()
    documents = tuple(
        (len(b"\n".join(lines[: 2 * n + 1])) + 1, len(b"\n".join(lines[: 2 * n + 2])))
        for n in range(len(records))
    )
    ids = tuple(json.loads(lines[2 * n])["create"]["_id"] for n in range(len(records)))
    answer = {
        "errors": True,
        "items": [
            {
                "create": {
                    "_index": "x",
                    "status": 400,
                    "error": {"type": "document_parsing_exception", "reason": "nope"},
                }
            }
            for _ in records
        ],
    }
    rejected = read_bulk_response(answer, len(records)).rejected
    dead = encode_dead_letters(
        body,
        documents,
        ids,
        rejected,
        "logenrich-dead-letter",
        "logs-jupyterhub-default",
        "es",
        time.time_ns(),
    )
    dead_lines = dead.splitlines()
    for action, document in zip(dead_lines[::2], dead_lines[1::2], strict=True):
        assert set(json.loads(action)) == {"create"}, "a data stream takes create actions only"
        cluster.write(json.loads(action)["create"]["_index"], json.loads(document))
    core = _yaml(VECTOR / "core.yaml")
    bad = {"message": "x", "timestamp": _now_tag(), "host": {"name": "jhub-vm-1"}}
    [dropped] = _run_topology(core, "labels", bad)["dead_letter_docs"]
    cluster.write(*_vector_elasticsearch(dropped, core["sinks"]["elasticsearch_dead_letter"]))
    assert len(cluster.documents["logenrich-dead-letter"]) == len(records) + 1
    originals = [json.loads(d["event"]["original"]) for d in cluster.documents["logenrich-dead-letter"]]
    assert originals[-1]["host"] == {"name": "jhub-vm-1"} and "kubernetes" in originals[0]


def _violations(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """For each explicitly mapped field, a record that puts the wrong kind of thing there."""
    out = []

    def walk(properties: dict[str, Any], prefix: list[str]) -> None:
        for name, mapping in properties.items():
            path = [*prefix, name]
            if name == "@timestamp":
                continue
            wrong: Any = (
                "a value" if _mapping_type(mapping) in ("object", "nested", "flattened") else {"an": "object"}
            )
            record: dict[str, Any] = {}
            target = record
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = wrong
            out.append((".".join(path), record))
            walk(mapping.get("properties", {}), path)

    walk(template["mappings"]["properties"], [])
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_vector_core_guard_turns_away_what_elasticsearch_refuses(profile: str) -> None:
    """Vector's elasticsearch sink drops every document Elasticsearch refuses (a 400 item is not
    retried; sinks have no dead-letter output in 0.57): the core's es_guard must send to the
    dead-letter stream every record the template would refuse (each explicitly mapped field given
    the wrong kind of thing, dotted keys next to values, unreadable times), and no shipper's record."""
    core = _yaml(VECTOR / "core.yaml")
    sink = core["sinks"]["elasticsearch"]
    base: dict[str, Any] = {"message": "x", "timestamp": "2026-03-10T17:25:19.774982113Z", "path": "/"}
    if profile == "ecs":
        base["logenrich"] = {"severity": "info"}
    stream = "logs-jupyterhub-default" if profile == "default" else "logs-jupyterhub.ecs-default"
    template = merged_template(template_for(stream))
    cases = [
        *_violations(template),
        ("dotted", {"labels": {"app": "jupyterhub", "app.kubernetes.io/name": "jupyterhub"}}),
        ("dotted", {"extra": {"a.b": 1}, "extra.a": 2}),
        ("date", {"timestamp": "1960-01-01T00:00:00Z"}),
        ("date", {"timestamp": "not a time"}),
    ]
    checked = 0
    for field, change in cases:
        if field == "logenrich" or field.startswith("data_stream"):
            continue  # what routes a record to its stream (the core's own tests check it)
        record = copy.deepcopy(base)
        _deep_merge(record, change)
        reached = _run_topology(core, "labels", record)
        [labelled] = reached["labels"]
        target, document = _vector_elasticsearch(labelled, sink)
        assert target == stream, (field, target)
        try:
            Index(stream, template).index(document)
        except Refused:
            refused = True
        else:
            refused = False
        assert bool(reached.get("es_guard.dropped")) == refused, f"{profile}: {field}: {change}"
        assert bool(reached.get("dead_letter_docs")) == refused
        checked += refused
    assert checked > 40
    for records in edge_batches().values():
        for line in _enrich(records, profile, JsonLines(array=False)).splitlines():
            reached = _run_topology(core, "labels", {**json.loads(line), "source_type": "http_server"})
            assert reached.get("es_guard") and not reached.get("es_guard.dropped"), reached.get(
                "es_guard.dropped"
            )


# --- fluent bit -------------------------------------------------------------------------------------

FLUENT_BIT = DEPLOY / "fluent-bit"


def test_fluent_bit_edge_joins_lines_first_on_disk_and_drops_none() -> None:
    """The multiline filter re-emits joined records at the head of the pipeline through an emitter
    (plugins/filter_multiline/ml.c): it must be the first filter (a filter before it runs twice)
    and its emitter must keep records on disk like the input. A line over buffer_max_size is cut
    (truncate_long_lines, Fluent Bit 4.2), never silently skipped. Rejected chunks are kept."""
    edge = _yaml(FLUENT_BIT / "fluent-bit.yaml")
    service = edge["service"]
    assert service["storage.path"] and service["storage.keep.rejected"] is True
    [tail] = edge["pipeline"]["inputs"]
    assert tail["name"] == "tail" and tail["storage.type"] == "filesystem"
    assert tail.get("skip_long_lines") is not True or tail.get("truncate_long_lines") is True
    units = {"k": 1024, "M": 1024 * 1024}
    size = tail.get("buffer_max_size", "32k")
    assert int(size[:-1]) * units[size[-1]] >= 1024 * 1024, "room for a whole traceback line"
    filters = edge["pipeline"]["filters"]
    [multiline] = [f for f in filters if f["name"] == "multiline"]
    assert filters[0] is multiline
    assert multiline["emitter_storage.type"] == "filesystem"
    assert multiline["multiline.key_content"] == "log"
    names = [f["name"] for f in filters]
    assert names.index("kubernetes") > 0
    [http] = edge["pipeline"]["outputs"]
    assert http["name"] == "http" and http["uri"] == "/v1/forward" and http["retry_limit"] == "no_limits"
    assert http["format"] in ("json", "json_lines") and http["compress"] == "gzip"
    assert http["header"] == "Authorization Bearer ${LOGENRICH_TOKEN}"
    # the line reaches logenrich as `message`, where the ecs profile can write log.* beside it
    [record] = edge_batches()["fluentbit-tail-cri-kubernetes.json"]
    assert "log" not in record and record["message"].startswith("[W 2026-03-10")


# what Fluent Bit's in_http takes (plugins/in_http/http_prot.c): the Content-Type compared whole
IN_HTTP_TYPES = ("application/json", "application/x-www-form-urlencoded")


def test_fluent_bit_downstream_gets_a_json_array() -> None:
    """in_http answers 400 to `application/x-ndjson` in every version, and logenrich passes a
    downstream's 400 on to the shipper, which drops the batch: the recipe tells logenrich to send
    a JSON array, and what logenrich sends for that format is one."""
    text = (FLUENT_BIT / "fluent-bit-downstream.yaml").read_text()
    formats = re.findall(r"logenrich serve .*--forward-format (\w+)", text)
    assert formats and set(formats) == {"json"}, formats
    for fmt in formats:
        assert _MEDIA[fmt] in IN_HTTP_TYPES
    body = _enrich(edge_batches()["fluentbit-tail-cri-kubernetes.json"], "default", JsonLines(array=True))
    assert isinstance(json.loads(body), list)
    deployment = _yaml(DEPLOY / "kubernetes" / "deployment.yaml")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert _MEDIA[env["LOGENRICH_FORWARD_FORMAT"]] in ("application/json", "application/x-ndjson")
    assert env["LOGENRICH_FORWARD_URL"].startswith("http://vector-core")  # Vector's http_server takes NDJSON


def _size(text: str) -> int:
    units = {"k": 1024, "K": 1024, "M": 1024 * 1024, "G": 1024**3}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


# a bulk answer's item for a document Elasticsearch refused, as large as they come
REFUSED_ITEM = {
    "create": {
        "_index": ".ds-logs-jupyterhub.ecs-default-2026.03.10-000001",
        "_id": "c55b6eb0-6bad-11eb-9f3b-611eebc6c3ad",
        "status": 400,
        "error": {
            "type": "document_parsing_exception",
            "reason": "[1:4096] failed to parse field [kubernetes.labels.app] of type [text] in document with id "
            "'c55b6eb0-6bad-11eb-9f3b-611eebc6c3ad'. Preview of field's value: '{kubernetes={io/name=jupyterhub}}'",
            "caused_by": {
                "type": "illegal_state_exception",
                "reason": "Can't get text on a START_OBJECT at 1:4096",
            },
        },
    }
}
# a Fluent Bit chunk holds about 2 MB of events (FLB_INPUT_CHUNK_FS_MAX_SIZE, include/fluent-bit/flb_input_chunk.h)
CHUNK_BYTES = 2_048_000


def _smallest_event(records: list[dict[str, Any]], profile: str) -> int:
    """Bytes of the smallest enriched record of these shapes, as a Fluent Bit event (msgpack)."""
    empty = [{**r, **{k: "" for k in ("message", "log", "MESSAGE") if k in r}} for r in records]
    enriched = json.loads(_enrich(empty, profile, JsonLines(array=True)))
    return min(len(msgpack.packb([[0, {}], e])) for e in enriched)


def test_fluent_bit_downstream_es_output_gives_up_and_keeps_the_chunk() -> None:
    """out_es retries a whole chunk when none of its documents was indexed (plugins/out_es/es.c):
    with no retry limit one refused chunk is retried forever. The limit is finite, the chunk then
    kept (storage.keep.rejected), dots in keys replaced, and the response buffer holds the bulk
    answer of a full chunk with an error per item (a bigger answer fails the flush)."""
    config = _yaml(FLUENT_BIT / "fluent-bit-downstream.yaml")
    assert config["service"]["storage.keep.rejected"] is True and config["service"]["storage.path"]
    [es] = [o for o in config["pipeline"]["outputs"] if o["name"] == "es"]
    assert isinstance(es["retry_limit"], int) and 0 < es["retry_limit"] <= 20
    assert es["replace_dots"] is True and es["suppress_type_name"] is True
    assert es["write_operation"] == "create" and es["index"].startswith("logs-jupyterhub")
    assert es.get("logstash_format") is not True
    items = max(
        CHUNK_BYTES // _smallest_event(edge_batches()[n], p) for n in FLUENT_BIT_SOURCES for p in PROFILES
    )
    answer = len(json.dumps({"took": 30, "errors": True, "items": [REFUSED_ITEM] * items}))
    assert 2 * answer <= _size(str(es["buffer_size"])), (items, answer)
    [http] = config["pipeline"]["inputs"]
    assert http["name"] == "http" and http["port"] == 9880 and http["storage.type"] == "filesystem"
    assert http["successful_response_code"] in (200, 201, 204)


def _lua_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # every byte as a decimal escape: Lua 5.1 reads them all
        return '"' + "".join(f"\\{b}" for b in value.encode()) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(map(_lua_value, value)) + "}"
    return "{" + ", ".join(f"[{_lua_value(k)}] = {_lua_value(v)}" for k, v in value.items()) + "}"


LUA_JSON = r"""
local function quote(s)
  return '"' .. (s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)) .. '"'
end
local function encode(v)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then return string.format("%.17g", v) end
  if t == "boolean" then return tostring(v) end
  local parts = {}
  if #v > 0 then
    for _, inner in ipairs(v) do parts[#parts + 1] = encode(inner) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  for k, inner in pairs(v) do parts[#parts + 1] = quote(tostring(k)) .. ": " .. encode(inner) end
  return "{" .. table.concat(parts, ", ") .. "}"
end
"""


@pytest.mark.skipif(
    shutil.which("luajit") is None, reason="no luajit (Fluent Bit's Lua): apt-get install luajit"
)
def test_fluent_bit_downstream_lua_takes_the_records_time() -> None:
    """The downstream's lua filter, run by LuaJIT as Fluent Bit runs it (plugins/filter_lua: code 1
    replaces the event's time and record), gives each record its own time (`date`) and moves only
    a string `log` to `message`: what downstream_lua models for the index checks."""
    config = _yaml(FLUENT_BIT / "fluent-bit-downstream.yaml")
    [lua] = [f for f in config["pipeline"]["filters"] if f["name"] == "lua"]
    arrival = 1_800_000_000.5
    events = [r for n in FLUENT_BIT_SOURCES for r in _shipped(n)]
    events += [{"date": 1773163519.774982, "log": {"level": "warning"}}, {"log": "a line"}, {"message": "m"}]
    events += [
        json.loads(line)
        for line in _enrich(edge_batches()["vector-file.json"], "ecs", JsonLines()).splitlines()
    ]
    script = LUA_JSON + lua["code"] + "\n"
    for event in events:
        script += f"do local code, ts, rec = {lua['call']}('enriched', {arrival!r}, {_lua_value(event)})\n"
        script += 'print(code .. "\\t" .. string.format("%.6f", ts) .. "\\t" .. encode(rec)) end\n'
    done = subprocess.run(
        ["luajit", "-"], input=script, capture_output=True, text=True, timeout=60, check=True
    )
    results = done.stdout.splitlines()
    assert len(results) == len(events)
    for event, result in zip(events, results, strict=True):
        code, when, record = result.split("\t")
        expected_time, expected = downstream_lua(event, arrival)
        assert code in ("0", "1") and float(when) == pytest.approx(expected_time, abs=1e-6)
        assert json.loads(record) == (expected if code == "1" else event) == expected


# --- what each shipper does with each of logenrich's answers ------------------------------------------


# Vector's http sink (src/sinks/util/http.rs, RetryStrategy::Default, 0.43 and later): 2xx done;
# 408, 429 and 5xx but 501 retried; every other status dropped. Fluent Bit's out_http
# (plugins/out_http/http.c, 3.1 and later): 200-205 done; 4xx but 408 and 429 given up (to the
# dead-letter directory with storage.keep.rejected); everything else retried.
def vector_retries(status: int) -> bool:
    return status in (408, 429) or (500 <= status < 600 and status != 501)


def fluent_bit_retries(status: int) -> bool:
    return not (200 <= status <= 205) and not (400 <= status < 500 and status not in (408, 429))


def _vector_batch(sink: dict[str, Any]) -> tuple[int, int]:
    """Bytes (the events' JSON before compression) and events of a full batch of the http sink
    (defaults: 10 MB, no event limit; src/sinks/util/batch.rs)."""
    batch = sink.get("batch", {})
    return int(batch.get("max_bytes", 10_000_000)), int(batch.get("max_events", 10**9))


def _growth() -> int:
    """The most bytes enrichment adds to one record, over every catalog example, either profile."""
    table = builtin_table()
    lines = [ex.line for rule in table.rules for ex in rule.spec.examples]
    most = 0
    for profile in PROFILES:
        records = [{"message": line} for line in lines]
        out = _enrich(records, profile, JsonLines()).splitlines()
        most = max(
            most,
            *(len(o) - len(json.dumps(r, separators=(",", ":"))) for o, r in zip(out, records, strict=True)),
        )
    return most


def test_shippers_retry_every_try_again_and_never_meet_a_413() -> None:
    """Each answer logenrich gives for a batch that may succeed later (overloaded, shutting down,
    downstream away: 503 with Retry-After; a body that arrived too slowly: 408) is one both shippers
    retry; the shipped batch limits keep logenrich's 413 (app/settings.py) out of reach; and the
    batch logenrich forwards, each record enriched, fits what the downstream takes in one request
    (Vector's http_server: 100 MiB from 0.57; Fluent Bit's in_http: buffer_max_size, else 413)."""
    answers = {cls.__name__: kind.status for cls, kind in PROBLEMS}
    for later in ("BodyTimeout", "Overloaded", "DownstreamDown", "Refused"):
        assert vector_retries(answers[later]) and fluent_bit_retries(answers[later]), later
    # a batch that can never succeed: dropped by both (Fluent Bit keeps it in its dead-letter directory)
    for never in [
        answers["Unauthorized"],
        answers["DownstreamRejected"],
        *(s for s, _ in CODEC_STATUS.values()),
    ]:
        assert not vector_retries(never) and not fluent_bit_retries(never), never

    max_body, max_decompressed, max_records = (
        _setting(n) for n in ("max_body_bytes", "max_decompressed_bytes", "max_records")
    )
    growth = 2 * _growth()
    downstream = _yaml(FLUENT_BIT / "fluent-bit-downstream.yaml")["pipeline"]["inputs"][0]
    fluent_bit_takes = _size(str(downstream.get("buffer_max_size", "4M")))
    vector_takes = 104_857_600
    for name in VECTOR_EDGES:
        max_bytes, max_events = _vector_batch(_yaml(VECTOR / name)["sinks"]["logenrich"])
        assert max_bytes + max_events <= min(max_body, max_decompressed), name  # NDJSON: a newline each
        assert max_events <= max_records, name
        enriched = max_bytes + min(max_events, max_bytes // 2) * growth
        assert enriched <= min(fluent_bit_takes, vector_takes), (name, enriched)
    # Fluent Bit's edge: one chunk per request; JSON at most twice the chunk's msgpack
    smallest = min(_smallest_event(edge_batches()[n], p) for n in FLUENT_BIT_SOURCES for p in PROFILES)
    records = CHUNK_BYTES // smallest
    assert max_body >= 2 * CHUNK_BYTES and records <= max_records
    assert 2 * CHUNK_BYTES + records * growth <= fluent_bit_takes


# --- kubernetes ----------------------------------------------------------------------------------

K8S = DEPLOY / "kubernetes"


@pytest.mark.parametrize(
    "path", sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"), ids=lambda p: p.name
)
def test_kubernetes_manifest_validates(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_kustomization_lists_existing_files_and_the_deployment_is_hardened() -> None:
    kustomization = _yaml(K8S / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists(), resource
    kinds = {_yaml(K8S / r)["kind"] for r in kustomization["resources"]}
    assert kinds == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    [generator] = kustomization["configMapGenerator"]
    assert all((K8S / f).exists() for f in generator["files"])
    pod = _yaml(K8S / "deployment.yaml")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_the_deployment_leaves_replicas_to_the_hpa_drains_and_stays_ready() -> None:
    """No `replicas` next to the HPA (every apply would reset the count); a preStop pause for the
    endpoint removal, inside a grace period that also covers uvicorn's graceful shutdown; and the
    readiness probe's endpoint answers 200 while the downstream is unreachable (every pod shares
    that problem: the forwards answer 503 + Retry-After, which the shippers retry)."""
    deployment = _yaml(K8S / "deployment.yaml")
    hpa = _yaml(K8S / "hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]
    pause = pre_stop["sleep"]["seconds"] if "sleep" in pre_stop else int(pre_stop["exec"]["command"][-1])
    assert pre_stop.get("exec", {}).get("command", ["sleep"])[0] == "sleep" and 5 <= pause <= 30
    # uvicorn's graceful shutdown, as `logenrich serve` sets it
    graceful = re.search(r'"timeout_graceful_shutdown": (\d+)', (ROOT / "app" / "cli.py").read_text())
    assert graceful is not None
    drain = int(graceful.group(1))
    assert pod["terminationGracePeriodSeconds"] > pause + drain
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    readiness = container["readinessProbe"]["httpGet"]["path"]

    down = f"http://127.0.0.1:{_free_port()}"
    settings = Settings(reload_interval=0, forward_url=down, probe_interval=0.05, forward_timeout=2)
    with TestClient(create_app(settings)) as client:
        for _ in range(100):
            answer = client.get(readiness)
            if (answer.json().get("downstreams") or {}).get("default"):
                break
            time.sleep(0.05)
        assert answer.status_code == 200 and answer.json()["downstreams"]["default"], answer.text
        forwarded = client.post(
            "/v1/forward", content=b'{"message":"x"}\n', headers={"content-type": "application/x-ndjson"}
        )
        assert forwarded.status_code == 503 and forwarded.headers["retry-after"]
        assert vector_retries(forwarded.status_code) and fluent_bit_retries(forwarded.status_code)


def test_site_rules_check_with_the_builtin_set() -> None:
    result = cli("check", str(K8S / "site-rules.toml"), "--with-builtin")
    assert result.code == 0, result.stderr


# --- kibana -----------------------------------------------------------------------------------------

KIBANA = DEPLOY / "kibana"


def _saved_objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (KIBANA / "saved-objects.ndjson").read_text().splitlines()]


def _ids() -> dict[tuple[str, str], str]:
    rows = [
        line.split()
        for line in (KIBANA / "ids").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return {(kind, name): id_ for kind, name, id_ in rows}


def test_kibana_saved_objects() -> None:
    objects = _saved_objects()
    ids = {(o["type"], o["id"]) for o in objects}
    assert {t for t, _ in ids} >= {"index-pattern", "search", "visualization", "dashboard"}
    for obj in objects:
        for reference in obj["references"]:
            assert (reference["type"], reference["id"]) in ids, reference
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            json.loads(meta["searchSourceJSON"])
    for dashboard in (o for o in objects if o["type"] == "dashboard"):
        panels = json.loads(dashboard["attributes"]["panelsJSON"])
        assert len(panels) == len(dashboard["references"]) == 4


def _fields_used(obj: dict[str, Any]) -> set[str]:
    attributes = obj["attributes"]
    used = set(attributes.get("columns", []))
    if "visState" in attributes:
        used |= {
            a["params"]["field"] for a in json.loads(attributes["visState"])["aggs"] if "field" in a["params"]
        }
    search = json.loads(attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON", "{}"))
    used |= set(re.findall(r"([\w.@]+):", search.get("query", {}).get("query", "")))
    return used


def test_kibana_objects_cover_both_profiles_with_links() -> None:
    """A data view per profile's stream, the doc link fields shown as links (the Url field format,
    fieldFormatMap), and every field a saved search or visualization uses mapped in its stream."""
    objects = _saved_objects()
    views = {o["id"]: o for o in objects if o["type"] == "index-pattern"}
    titles = {v["attributes"]["title"] for v in views.values()}
    assert titles == {"logs-jupyterhub-*", "logs-jupyterhub.ecs-*"}
    links = {
        "logs-jupyterhub-*": {"enrichment.doc_url"},
        "logs-jupyterhub.ecs-*": {"rule.reference", "event.reference"},
    }
    for view in views.values():
        title = view["attributes"]["title"]
        formats = json.loads(view["attributes"]["fieldFormatMap"])
        assert set(formats) == links[title]
        assert all(f["id"] == "url" for f in formats.values())
        explicit, _ = _mappings(template_for(title.replace("*", "default")))
        assert links[title] <= set(explicit)
    for obj in objects:
        view_ids = [r["id"] for r in obj["references"] if r["type"] == "index-pattern"]
        for view_id in view_ids:
            title = views[view_id]["attributes"]["title"]
            explicit, _ = _mappings(template_for(title.replace("*", "default")))
            assert _fields_used(obj) <= set(explicit), (obj["id"], _fields_used(obj) - set(explicit))
    assert {o["attributes"]["title"] for o in objects if o["type"] == "dashboard"} == {
        "JupyterHub logs (logenrich)",
        "JupyterHub logs (logenrich) (ECS)",
    }


def _query_fields(query: Any) -> set[str]:
    if isinstance(query, dict):
        found = set()
        for key, value in query.items():
            if key in ("term", "prefix", "match", "terms") and isinstance(value, dict):
                found |= set(value)
            else:
                found |= _query_fields(value)
        return found
    if isinstance(query, list):
        return set().union(*map(_query_fields, query)) if query else set()
    return set()


def test_kibana_rules_act_and_have_uuid_ids() -> None:
    """Each rule has an id Kibana takes (POST /api/alerting/rule/<id>: a UUID v1 or v4), acts through
    a connector setup.sh creates (server log by default), with a frequency per action and none at
    rule level (Kibana refuses a mix), searches both profiles' streams, and names fields they map."""
    ids = _ids()
    for (kind, name), id_ in ids.items():
        assert uuid.UUID(id_).version in (1, 4) and str(uuid.UUID(id_)) == id_, (kind, name)
    connectors = {
        id_: _json(KIBANA / "connectors" / f"{name}.json")
        for (kind, name), id_ in ids.items()
        if kind == "connector"
    }
    assert {c["connector_type_id"] for c in connectors.values()} == {".server-log", ".index"}
    rules = sorted((KIBANA / "rules").glob("*.json"))
    assert {p.stem for p in rules} == {name for kind, name in ids if kind == "rule"}
    mapped = set()
    for stream in ("logs-jupyterhub-default", "logs-jupyterhub.ecs-default"):
        mapped |= set(_mappings(template_for(stream))[0])
    for path in rules:
        rule = _json(path)
        assert rule["rule_type_id"] == ".es-query" and "notify_when" not in rule and "throttle" not in rule
        assert rule["actions"], path.name
        used = set()
        for action in rule["actions"]:
            assert action["group"] == "query matched"  # the .es-query rule type's action group
            assert action["frequency"]["notify_when"] in (
                "onActionGroupChange",
                "onActiveAlert",
                "onThrottleInterval",
            )
            connector = connectors[action["id"]]
            used.add(connector["connector_type_id"])
            if connector["connector_type_id"] == ".server-log":
                assert action["params"]["level"] in ("trace", "debug", "info", "warn", "error", "fatal")
                assert "{{context.message}}" in action["params"]["message"]
            else:
                assert action["params"]["documents"]
        assert ".server-log" in used
        params = rule["params"]
        assert sorted(params["index"]) == ["logs-jupyterhub-*", "logs-jupyterhub.ecs-*"]
        assert params["timeField"] == "@timestamp"
        fields = _query_fields(json.loads(params["esQuery"]))
        assert fields and fields <= mapped, fields - mapped
        assert {f.split(".")[0] for f in fields} >= {"enrichment"} and fields & {
            "rule.id",
            "logenrich.severity",
        }
    setup = (KIBANA / "setup.sh").read_text()
    assert setup.index("api/actions/connector") < setup.index("api/alerting/rule")
    assert '"$DIR/ids"' in setup


# --- loki and grafana -------------------------------------------------------------------------------


def test_loki_rules_and_grafana() -> None:
    rules = _yaml(DEPLOY / "loki" / "rules" / "fake" / "logenrich.yaml")
    alerts = {r["alert"]: r["expr"] for group in rules["groups"] for r in group["rules"]}
    assert len(alerts) == 3
    assert all("count_over_time" in expr for expr in alerts.values())
    loki = _yaml(DEPLOY / "loki" / "loki.yaml")
    assert loki["limits_config"]["allow_structured_metadata"] is True
    uids = set()
    for path in (DEPLOY / "grafana" / "provisioning" / "datasources").glob("*.yaml"):
        uids |= {d["uid"] for d in _yaml(path)["datasources"]}
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for panel in _json(path)["panels"]:
            assert panel["datasource"]["uid"] in uids
            assert panel["targets"]


def test_grafana_severity_variable_offers_every_severity_loki_gets() -> None:
    """The Loki `severity` label takes every adjusted severity and `unknown` (core.yaml's label for a
    record without one); a custom variable's All is the listed values unless allValue is set."""
    from app.severity import SEVERITIES

    dashboard = _json(DEPLOY / "grafana" / "dashboards" / "logenrich.json")
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "severity"]
    offered = set(variable["query"].split(","))
    core = _yaml(VECTOR / "core.yaml")["transforms"]["labels"]["source"]
    found = re.search(r'\.loki_severity = .*\?\? "(\w+)"', core)
    assert found is not None
    fallback = found.group(1)
    assert offered >= {*SEVERITIES, fallback}
    assert variable.get("allValue") in (".*", ".+")
