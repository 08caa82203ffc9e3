"""The Prometheus side of deploy/: alert rules checked and unit-tested by promtool (Debian's
`prometheus` package: apt-get install prometheus), on metrics and label values the service really
exports (app/metrics.py), and the Grafana dashboard of the service's own metrics."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.metrics import Metrics
from app.severity import SEVERITIES
from tests.helpers import ROOT, builtin_table

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
SERVICE_DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "logenrich-service.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="no promtool: apt-get install prometheus (Debian's package ships it)"
)
# labels Prometheus adds to every scraped series, and the histogram's bucket label
SCRAPE_LABELS = {"instance", "job", "le"}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def exported() -> dict[str, set[str]]:
    """Every series name the service exports, with its label names."""
    names: dict[str, set[str]] = {}
    metrics = Metrics()
    for collector in vars(metrics).values():
        kind = getattr(collector, "_type", None)
        if kind is None:
            continue
        base, labels = collector._name, set(collector._labelnames)
        suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}[kind]
        for suffix in suffixes:
            names[base + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def _selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(metric, {label: (operator, value)}) for each selector of a PromQL expression."""
    found = []
    for match in re.finditer(r"\b([a-z_]+)(\{([^}]*)\})?", expr):
        name = match.group(1)
        if not (name.startswith("logenrich_") or name == "up"):
            continue
        matchers = {
            m.group(1): (m.group(2), m.group(3).encode().decode("unicode_escape"))
            for m in re.finditer(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', match.group(3) or "")
        }
        found.append((name, matchers))
    return found


def _app_text() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "app").rglob("*.py"))


@needs_promtool
def test_prometheus_rule_files_check() -> None:
    assert len(RULE_FILES) >= 2, "rules for the service and for the classifications"
    checked = _promtool("check", "rules", *map(str, RULE_FILES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_prometheus_rules_unit_tests_fire_every_alert() -> None:
    """promtool's unit tests, from series as logenrich exports them (a labelled counter appears at
    its first increment), and each alert fires in at least one of them."""
    assert UNIT_TESTS
    tested = _promtool("test", "rules", *map(str, UNIT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    fired = {
        case["alertname"]
        for path in UNIT_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in _rules()} <= fired
    for path in UNIT_TESTS:
        listed = {(path.parent / f).resolve() for f in yaml.safe_load(path.read_text())["rule_files"]}
        assert listed == {p.resolve() for p in RULE_FILES}


def test_alerts_watch_the_services_metrics_and_real_values() -> None:
    """Every series an alert reads is one the service exports, with its labels; every value matched
    is one the service writes (a rule id and its category, a severity, an outcome…), and each alert
    the issue asks for is there."""
    names = exported()
    table = builtin_table()
    ids = {rule.id: rule.spec.category for rule in table.rules}
    app = _app_text()
    rules = _rules()
    for rule in rules:
        expr = rule["expr"]
        selectors = _selectors(expr)
        assert selectors, rule["alert"]
        for name, matchers in selectors:
            if name == "up":
                assert matchers == {"job": ("=", "logenrich")}
                continue
            assert name in names, f"{rule['alert']}: {name} is not exported"
            for label, (operator, value) in matchers.items():
                assert label in names[name] | SCRAPE_LABELS, f"{rule['alert']}: {name} has no label {label}"
                if label == "classification":
                    chosen = {i for i in ids if (re.fullmatch(value, i) if operator == "=~" else i == value)}
                    category = matchers.get("category", ("=", None))[1]
                    chosen = {i for i in chosen if category is None or ids[i] == category}
                    assert chosen, f"{rule['alert']}: {value} selects no rule (of category {category})"
                elif label == "severity":
                    assert value in SEVERITIES
                elif label == "category":
                    assert value in set(ids.values())
                elif label == "endpoint":
                    assert all(f'"{e}"' in app for e in value.split("|")), value
                elif label not in SCRAPE_LABELS:
                    assert f'"{value}"' in app, f"{rule['alert']}: logenrich never writes {label}={value}"
        for label in re.findall(r"by \(([\w, ]+)\)", expr):
            used = {n for n, _ in selectors}
            for one in map(str.strip, label.split(",")):
                assert any(one in names.get(n, set()) | SCRAPE_LABELS for n in used), (rule["alert"], one)
    alerts = {rule["alert"] for rule in rules}
    assert {
        "LogenrichDownstreamDown",
        "LogenrichReloadFailing",
        "LogenrichRefusingBatches",
        "LogenrichSlowRequests",
        "JupyterHubSpawnFailureBurst",
        "JupyterHubCritical",
    } <= alerts
    spawn = next(r for r in rules if r["alert"] == "JupyterHubSpawnFailureBurst")
    [(_, matchers)] = {(n, tuple(sorted(m.items()))) for n, m in _selectors(spawn["expr"])}
    chosen = [i for i in ids if re.fullmatch(dict(matchers)["classification"][1], i) and ids[i] == "failure"]
    assert len(chosen) >= 5, chosen


@needs_promtool
def test_grafana_service_dashboard_queries_what_the_service_exports(tmp_path: Path) -> None:
    """The service dashboard's queries are PromQL promtool parses (Grafana's interval variables put
    in), on series the service exports, from the provisioned Prometheus data source."""
    dashboard = json.loads(SERVICE_DASHBOARD.read_text())
    names = exported()
    datasources = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    [source] = datasources["datasources"]
    rules = []
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        for target in panel["targets"]:
            expr = target["expr"]
            for name, _ in _selectors(expr):
                assert name in names, f"{panel['title']}: {name} is not exported"
            filled = (
                expr.replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$__interval", "1m")
            )
            rules.append({"record": f"grafana:panel_{panel['id']}_{target['refId']}", "expr": filled})
    covered = {n for r in rules for n, _ in _selectors(r["expr"])}
    assert {
        "logenrich_downstream_up",
        "logenrich_rejected_requests_total",
        "logenrich_request_duration_seconds_bucket",
    } <= covered
    assert {n for n in names if not n.endswith(("_sum", "_count"))} - covered == set(), (
        "every series on a panel"
    )
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    checked = _promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
