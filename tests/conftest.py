"""Hypothesis profiles, the `table` fixture and the parametrisation over the built-in catalog.

Tests that take `rule`, `example` or `reject` run once per rule, rule example or reject of the
built-in table. The table is loaded while tests are generated, not when a module is imported: a
table that does not load fails one test with every problem listed, not the whole collection.
"""

import os
from typing import Any

import pytest
from hypothesis import settings

from app.compiler import CompiledRule, Table
from app.errors import TableError
from app.spec import Example
from tests.helpers import ENGINES, builtin_table

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
# HYPOTHESIS_PROFILE=stress: many examples, for runs that hunt flaky properties
settings.register_profile("stress", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def table() -> Table:
    return builtin_table()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    """Each engine in turn."""
    name: str = request.param
    return name


class BrokenTable:
    """Stands in for the parameters when the built-in table does not load."""

    def __init__(self, error: TableError) -> None:
        self.error = error


def _catalog_params(name: str) -> list[Any]:
    try:
        rules = builtin_table().rules
    except TableError as error:
        return [pytest.param(BrokenTable(error), id="the-built-in-table")]
    if name == "rule":
        return [pytest.param(rule, id=rule.id) for rule in rules]
    if name == "example":
        return [
            pytest.param((rule, example), id=f"{rule.id}#{n}")
            for rule in rules
            for n, example in enumerate(rule.spec.examples, 1)
        ]
    return [
        pytest.param((rule, line), id=f"{rule.id}!{n}")
        for rule in rules
        for n, line in enumerate(rule.spec.rejects, 1)
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for name in ("rule", "example", "reject"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, _catalog_params(name), indirect=True)


def _param(request: pytest.FixtureRequest) -> Any:
    """The parameter, or the table's problems as the test's failure."""
    if isinstance(request.param, BrokenTable):
        pytest.fail(str(request.param.error), pytrace=False)
    return request.param


@pytest.fixture
def rule(request: pytest.FixtureRequest) -> CompiledRule:
    found: CompiledRule = _param(request)
    return found


@pytest.fixture
def example(request: pytest.FixtureRequest) -> tuple[CompiledRule, Example]:
    found: tuple[CompiledRule, Example] = _param(request)
    return found


@pytest.fixture
def reject(request: pytest.FixtureRequest) -> tuple[CompiledRule, str]:
    found: tuple[CompiledRule, str] = _param(request)
    return found
