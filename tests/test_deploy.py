"""Every deploy artifact that a tool here can check: parse, compile, validate, cover."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import vector_vrl
import yaml

from app.enrich import Enricher, EnrichOptions
from tests.helpers import ROOT, builtin_table, cli

DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), COMPOSE])
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
VECTOR_CONFIGS = sorted((DEPLOY / "vector").glob("*.yaml"))


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
    compose = yaml.safe_load(COMPOSE.read_text())
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
    services = yaml.safe_load(COMPOSE.read_text())["services"]
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
    edge = yaml.safe_load((DEPLOY / "vector" / "edge.yaml").read_text())
    assert edge["sinks"]["logenrich"]["uri"].endswith("/v1/forward")
    assert services["logenrich"]["environment"]["LOGENRICH_FORWARD_URL"].startswith("http://vector-core:")


# --- vector --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VECTOR_CONFIGS, ids=lambda p: p.name)
def test_vector_remap_programs_compile(path: Path) -> None:
    check = vector_vrl.validate_config(path)
    assert check.ok, check
    assert check.checked and not check.skipped


def _nested(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        target = out
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return out


VECTOR_TESTS = [
    (path, test) for path in VECTOR_CONFIGS for test in yaml.safe_load(path.read_text()).get("tests", [])
]


@pytest.mark.parametrize(
    ("path", "test"), VECTOR_TESTS, ids=lambda v: v["name"] if isinstance(v, dict) else v.name
)
def test_vector_unit_tests_pass(path: Path, test: dict[str, Any]) -> None:
    """Vector's `tests:` run with Vector's own VRL runtime: the transform, then its conditions."""
    config = yaml.safe_load(path.read_text())
    assert test["inputs"] and test["outputs"]
    for given in test["inputs"]:
        transform = config["transforms"][given["insert_at"]]
        event = _nested(given["log_fields"])
        for expected in test["outputs"]:
            assert expected["extract_from"] == given["insert_at"]
            for condition in expected["conditions"]:
                program = transform["source"] + "\n" + condition["source"]
                [result] = vector_vrl.execute_vrl(program, [json.dumps(event)])
                assert "error" not in result, result


def test_vector_sinks_are_at_least_once() -> None:
    edge = yaml.safe_load((DEPLOY / "vector" / "edge.yaml").read_text())
    core = yaml.safe_load((DEPLOY / "vector" / "core.yaml").read_text())
    for sink in [edge["sinks"]["logenrich"], *core["sinks"].values()]:
        assert sink["acknowledgements"]["enabled"] is True
        assert sink["buffer"] == {"type": "disk", "max_size": 1073741824, "when_full": "block"}
    assert core["sources"]["from_logenrich"]["acknowledgements"]["enabled"] is True
    assert edge["sinks"]["logenrich"]["compression"] == "gzip"
    assert set(core["sinks"]["loki"]["labels"]) == {"job", "category", "severity"}  # bounded labels only


# --- fluent bit and syslog-ng ---------------------------------------------------------------------


def test_fluent_bit_configs() -> None:
    edge = yaml.safe_load((DEPLOY / "fluent-bit" / "fluent-bit.yaml").read_text())
    service = edge["service"]
    assert service["storage.path"] and service["storage.keep.rejected"] is True
    [tail] = edge["pipeline"]["inputs"]
    assert tail["name"] == "tail" and tail["storage.type"] == "filesystem"
    assert any(f["name"] == "kubernetes" for f in edge["pipeline"]["filters"])
    [http] = edge["pipeline"]["outputs"]
    assert http["name"] == "http" and http["uri"] == "/v1/forward" and http["retry_limit"] == "no_limits"
    assert http["format"] == "json_lines" and http["compress"] == "gzip"
    downstream = yaml.safe_load((DEPLOY / "fluent-bit" / "fluent-bit-downstream.yaml").read_text())
    [source] = downstream["pipeline"]["inputs"]
    assert source["name"] == "http" and source["port"] == 9880


@pytest.mark.skipif(
    shutil.which("syslog-ng") is None and not Path("/usr/sbin/syslog-ng").exists(), reason="no syslog-ng"
)
def test_syslog_ng_config_syntax(tmp_path: Path) -> None:
    text = (DEPLOY / "syslog-ng" / "logenrich.conf").read_text()
    text = text.replace("@LOG_FILE@", str(tmp_path / "x.log")).replace(
        "@URL@", "http://127.0.0.1:9/v1/forward"
    )
    conf = tmp_path / "s.conf"
    conf.write_text(text.replace("@TOKEN_HEADER@", ""))
    binary = shutil.which("syslog-ng") or "/usr/sbin/syslog-ng"
    done = subprocess.run(
        [binary, "--syntax-only", "-f", str(conf)], check=False, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


# --- kubernetes ----------------------------------------------------------------------------------

K8S = DEPLOY / "kubernetes"


@pytest.mark.parametrize(
    "path", sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"), ids=lambda p: p.name
)
def test_kubernetes_manifest_validates(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_kustomization_lists_existing_files_and_the_deployment_is_hardened() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists(), resource
    kinds = {yaml.safe_load((K8S / r).read_text())["kind"] for r in kustomization["resources"]}
    assert kinds == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    [generator] = kustomization["configMapGenerator"]
    assert all((K8S / f).exists() for f in generator["files"])
    pod = yaml.safe_load((K8S / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_site_rules_check_with_the_builtin_set() -> None:
    result = cli("check", str(K8S / "site-rules.toml"), "--with-builtin")
    assert result.code == 0, result.stderr


# --- elasticsearch -------------------------------------------------------------------------------

ES = DEPLOY / "elasticsearch"
COMPATIBLE = {
    str: {"keyword", "match_only_text", "text", "wildcard", "constant_keyword"},
    int: {"long", "integer", "short", "double", "float", "scaled_float"},
    float: {"double", "float", "scaled_float", "half_float"},
    bool: {"boolean"},
}


def _mappings() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Explicit field paths → type, and dynamic templates (path_match, mapping type, json type)."""
    template = json.loads((ES / "index-template.json").read_text())
    explicit: dict[str, str] = {}
    dynamic: list[tuple[str, str, str]] = []

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, mapping in properties.items():
            path = f"{prefix}{name}"
            if "properties" in mapping:
                walk(mapping["properties"], path + ".")
            explicit[path] = mapping.get("type", "object")

    for component in template["composed_of"]:
        body = json.loads(
            (ES / f"component-template-{component.removeprefix('logenrich-')}.json").read_text()
        )
        mappings = body["template"].get("mappings", {})
        walk(mappings.get("properties", {}), "")
        for entry in mappings.get("dynamic_templates", []):
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


@pytest.mark.parametrize("profile", ["default", "ecs"])
def test_templates_map_every_emitted_field(profile: str) -> None:
    explicit, dynamic = _mappings()
    table = builtin_table()
    enricher = Enricher(table, EnrichOptions(profile=profile))  # type: ignore[arg-type]
    owned = ("enrichment",) if profile == "default" else ("rule", "event", "log", "logenrich")
    seen = 0
    for rule in table.rules:
        for example in rule.spec.examples:
            record: dict[str, Any] = {"message": example.line}
            enricher.enrich_record(record)
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


def test_index_template_is_a_data_stream_with_ilm() -> None:
    template = json.loads((ES / "index-template.json").read_text())
    assert template["data_stream"] == {} and template["index_patterns"] == ["logs-jupyterhub-*"]
    assert template["priority"] > 100  # above Elasticsearch's built-in logs-*-* template
    settings = json.loads((ES / "component-template-settings.json").read_text())
    assert settings["template"]["settings"]["index.lifecycle.name"] == "logenrich-jupyterhub"
    policy = json.loads((ES / "ilm-policy.json").read_text())
    assert "rollover" in policy["policy"]["phases"]["hot"]["actions"]
    setup = (ES / "setup.sh").read_text()
    for name in ("ilm-policy.json", "index-template.json", "dead-letter-index-template.json"):
        assert name in setup


# --- kibana, loki, grafana ------------------------------------------------------------------------


def test_kibana_saved_objects() -> None:
    objects = [
        json.loads(line) for line in (DEPLOY / "kibana" / "saved-objects.ndjson").read_text().splitlines()
    ]
    ids = {(o["type"], o["id"]) for o in objects}
    assert {t for t, _ in ids} >= {"index-pattern", "search", "visualization", "dashboard"}
    for obj in objects:
        for reference in obj["references"]:
            assert (reference["type"], reference["id"]) in ids, reference
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            json.loads(meta["searchSourceJSON"])
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert len(panels) == len(dashboard["references"]) == 4


def test_kibana_alert_rules() -> None:
    names = set()
    for path in sorted((DEPLOY / "kibana" / "rules").glob("*.json")):
        rule = json.loads(path.read_text())
        assert rule["rule_type_id"] == ".es-query"
        params = rule["params"]
        assert params["index"] == ["logs-jupyterhub-*"] and params["timeField"] == "@timestamp"
        json.loads(params["esQuery"])
        names.add(path.stem)
    assert names == {"version-mismatch-breaking", "spawn-failure-burst", "any-critical"}


def test_loki_rules_and_grafana() -> None:
    rules = yaml.safe_load((DEPLOY / "loki" / "rules" / "fake" / "logenrich.yaml").read_text())
    alerts = {r["alert"]: r["expr"] for group in rules["groups"] for r in group["rules"]}
    assert len(alerts) == 3
    assert all("count_over_time" in expr for expr in alerts.values())
    loki = yaml.safe_load((DEPLOY / "loki" / "loki.yaml").read_text())
    assert loki["limits_config"]["allow_structured_metadata"] is True
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "logenrich.json").read_text())
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "loki.yaml").read_text()
    )
    uids = {d["uid"] for d in datasource["datasources"]}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids
        assert panel["targets"]
