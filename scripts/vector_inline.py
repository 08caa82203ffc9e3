"""Write deploy/vector/inline.yaml: Vector classifying inline with the exported VRL program.

.venv/bin/python scripts/vector_inline.py      (make vector-inline; a test keeps it in sync)
"""

from pathlib import Path

import yaml

from app.catalog import rule_paths
from app.check import load_table
from app.export_vrl import export_vrl

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "deploy" / "vector" / "inline.yaml"
CORE = ROOT / "deploy" / "vector" / "core.yaml"
EDGE = ROOT / "deploy" / "vector" / "edge.yaml"

HEADER = """\
# Vector classifying JupyterHub logs inline, with no logenrich service: the `logenrich` remap is
# `logenrich export vrl` (default profile) of the built-in catalog. Regenerate with
# `make vector-inline` after changing rules; a test fails when this file is out of date.
# Trade-offs against the service: no hot reload (reload Vector instead), no per-rule metrics,
# and a Vector restart to pick up new rules.
"""


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def build() -> str:
    edge = yaml.safe_load(EDGE.read_text())
    core = yaml.safe_load(CORE.read_text())
    program = export_vrl(load_table(rule_paths(None)))
    labels = core["transforms"]["labels"]
    config = {
        "data_dir": "/var/lib/vector",
        "sources": {"jupyterhub": edge["sources"]["jupyterhub"]},
        "transforms": {
            "logenrich": {
                "type": "remap",
                "inputs": ["jupyterhub"],
                "drop_on_error": False,
                "source": program,
            },
            "labels": {**labels, "inputs": ["logenrich"]},
        },
        "sinks": core["sinks"],
    }
    return HEADER + yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)


if __name__ == "__main__":
    TARGET.write_text(build())
