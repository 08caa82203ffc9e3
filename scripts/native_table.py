"""Write the built-in table as the native engine takes it (app.native.native_config) to a file:
the fuzz target and the engine's profiling examples read it.

    .venv/bin/python scripts/native_table.py OUT.json
"""

import sys
from pathlib import Path

from app.catalog import rule_paths
from app.check import load_table
from app.enrich import EnrichOptions
from app.native import native_config


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    Path(sys.argv[1]).write_bytes(native_config(load_table(rule_paths(None)), EnrichOptions()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
