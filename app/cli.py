"""The command line: ``logenrich enrich | check | rules | serve``.

Commands are thin: they parse arguments, call the domain, print. Exit codes: 0 ok, 1 failure
(a table that does not check, unreadable input), 2 usage. Heavy imports (uvicorn, the API) stay
inside the command that needs them.
"""

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from app import __version__
from app.check import check_paths, load_table, rule_paths
from app.enrich import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MESSAGE_FIELDS, Enricher, EnrichOptions
from app.errors import LogenrichError, TableError
from app.reader import Reader

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        metavar="PATH",
        nargs="+",
        type=Path,
        default=[],
        help="rule files or directories, taking precedence over the built-in set",
    )
    parser.add_argument(
        "--no-builtin", action="store_true", help="use only the --rules files, not the built-in catalog"
    )


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal and the input is large."""

    def __init__(self, total: int | None, out: IO[str]) -> None:
        self.total = total
        self.out = out
        self.enabled = bool(total and total > 8 * 1024 * 1024 and out.isatty())
        self.last = 0.0

    def update(self, done: int, records: int) -> None:
        if not self.enabled or self.total is None:
            return
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.out.write(f"\r[{bar:<30}] {share:6.1%} {records:>10,} records")
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.write("\r" + " " * 60 + "\r")


def _enrich_options(args: argparse.Namespace) -> EnrichOptions:
    return EnrichOptions(
        profile=args.profile,
        key=args.key,
        message_fields=tuple(args.message_field or DEFAULT_MESSAGE_FIELDS),
        max_message_bytes=args.max_message_bytes,
    )


def _add_enrich_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=["default", "ecs"], default="default")
    parser.add_argument("--key", default="enrichment", help="default profile: the output object's key")
    parser.add_argument(
        "--message-field",
        action="append",
        metavar="PATH",
        help="record field holding the log line (repeatable, dotted paths; default: message, log, msg)",
    )
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)


def cmd_enrich(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    table = load_table(rule_paths(args.rules, builtin=not args.no_builtin))
    enricher = Enricher(table, _enrich_options(args))
    if args.file == "-":
        stream: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        try:
            stream = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            stderr.write(f"logenrich: cannot read {args.file}: {exc.strerror}\n")
            return EXIT_FAILURE
        total = Path(args.file).stat().st_size
    counts: Counter[str] = Counter()
    reader = Reader(stream)
    progress = _Progress(total, stderr)
    dumps, write, only = orjson.dumps, stdout.write, args.only_matched
    try:
        for n, record in enumerate(reader.records(), 1):
            result = enricher.enrich_record(record)
            counts[result.classification or "(passthrough)"] += 1
            if only and result.outcome != "classified":
                continue
            write(dumps(record) + b"\n")
            if n % 4096 == 0:
                progress.update(reader.bytes_read, n)
    finally:
        progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    stdout.flush()
    _summary(counts, reader, stderr)
    return EXIT_OK


def _summary(counts: Counter[str], reader: Reader, out: IO[str]) -> None:
    total = sum(counts.values())
    unclassified = counts.get("unclassified", 0) + counts.get("(passthrough)", 0)
    classified = total - unclassified
    share = f"{classified / total:.0%}" if total else "-"
    out.write(f"logenrich: {total} records ({reader.shape}), {classified} classified ({share})\n")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        out.write(f"  {count:>8}  {name}\n")
    if reader.bad_lines:
        out.write(f"  {reader.bad_lines} line(s) were not JSON and were read as raw log lines\n")


def cmd_check(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    paths = list(args.paths) if args.paths else rule_paths(None)
    if args.paths and args.with_builtin:
        paths = rule_paths(paths)
    table, issues = check_paths(paths)
    errors = [issue for issue in issues if not issue.warning]
    for issue in issues:
        stderr.write(f"{issue}\n")
    if errors or table is None:
        stderr.write(f"check: {len(errors)} error(s), {len(issues) - len(errors)} warning(s)\n")
        return EXIT_FAILURE
    examples = sum(len(r.spec.examples) + len(r.spec.rejects) for r in table.rules)
    stdout.write(
        f"ok: {len(table.rules)} rules, {examples} examples, table {table.version}, "
        f"{len(issues)} warning(s)\n".encode()
    )
    return EXIT_OK


def _severity_text(rule: Any) -> str:
    spec = rule.spec
    base = "as logged" if spec.severity == "keep" else spec.severity
    if spec.adjust == "cap":
        base = f"at most {spec.severity}"
    elif spec.adjust == "floor":
        base = f"at least {spec.severity}"
    for condition in spec.conditions:
        base += f"; {condition.severity} when {_condition_text(condition)}"
    return base


def _condition_text(condition: Any) -> str:
    if condition.kind == "range":
        low = "" if condition.min is None else f"{condition.min:g}"
        high = "" if condition.max is None else f"{condition.max:g}"
        return f"{condition.field} {low}-{high}"
    return f"versions straddle {', '.join(condition.boundaries)}"


def catalog_markdown(table: Any) -> str:
    """The catalog as a Markdown table: id, title, severity, category, doc link."""
    lines = ["| id | title | severity | category | doc |", "|---|---|---|---|---|"]
    for rule in table.rules:
        host = rule.doc_url.split("/")[2]
        lines.append(
            f"| `{rule.id}` | {rule.spec.title} | {_severity_text(rule)} | {rule.spec.category} | "
            f"[{host}]({rule.doc_url}) |"
        )
    return "\n".join(lines) + "\n"


def cmd_rules(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    table = load_table(rule_paths(args.rules, builtin=not args.no_builtin))
    if args.markdown:
        stdout.write(catalog_markdown(table).encode())
        return EXIT_OK
    if args.json:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "title": r.spec.title,
                "severity": r.spec.severity,
                "adjust": r.spec.adjust,
                "category": r.spec.category,
                "doc_url": r.doc_url,
            }
            for r in table.rules
        ]
        stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return EXIT_OK
    width = max(len(r.id) for r in table.rules)
    for r in table.rules:
        severity = r.spec.severity if r.spec.adjust == "set" else f"{r.spec.adjust} {r.spec.severity}"
        line = f"{r.id:<{width}}  {severity:<13}  {r.spec.category:<16}  {r.doc_url}\n"
        stdout.write(line.encode())
    return EXIT_OK


def _settings_env(settings: Any) -> dict[str, str]:
    """The settings as LOGENRICH_* variables, for worker processes that rebuild them."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if name in ("token", "forward_token"):
            value = getattr(settings, name).get_secret_value()
        if isinstance(value, tuple | list):
            value = ",".join(map(str, value))
        elif isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"LOGENRICH_{name.upper()}"] = str(value)
    return env


def cmd_serve(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    import os
    import tempfile

    import uvicorn
    from pydantic import ValidationError

    from app.logs import configure, logging_config
    from app.settings import Settings

    given = {
        name: value
        for name, value in vars(args).items()
        if name in Settings.model_fields and value is not None and value != []
    }
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        stderr.write(f"logenrich serve: invalid settings:\n{exc}\n")
        return EXIT_USAGE
    table = load_table(
        rule_paths(list(settings.rules), builtin=settings.builtin)
    )  # fail fast, before binding
    configure(settings.log_level)
    where = f"http://{settings.host}:{settings.port}"
    stderr.write(
        f"logenrich: serving {len(table.rules)} rules ({table.version}) on {where}, "
        f"{settings.workers} worker(s)\n"
    )
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": logging_config(settings.log_level),
        "access_log": False,
        "timeout_keep_alive": 75,
        "timeout_graceful_shutdown": 30,
        "lifespan": "on",
    }
    if settings.workers == 1:
        from app.api import create_app

        uvicorn.run(create_app(settings), **common)
        return EXIT_OK
    os.environ.update(_settings_env(settings))
    with tempfile.TemporaryDirectory(prefix="logenrich-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("app.api:app_from_env", factory=True, workers=settings.workers, **common)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    table = load_table(rule_paths(args.rules, builtin=not args.no_builtin))
    if args.target == "json":
        from app.export_json import export_table

        stdout.write(orjson.dumps(export_table(table), option=orjson.OPT_INDENT_2) + b"\n")
        return EXIT_OK
    from app.export_vrl import export_vrl

    stdout.write(export_vrl(table, _enrich_options(args)).encode())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logenrich", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"logenrich {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enrich = commands.add_parser("enrich", help="enrich a log file (raw lines, JSON or NDJSON) to NDJSON")
    enrich.add_argument("file", nargs="?", default="-", help="input file, or - for standard input (default)")
    _add_table_options(enrich)
    _add_enrich_options(enrich)
    enrich.add_argument("--only-matched", action="store_true", help="write only classified records")
    enrich.set_defaults(handler=cmd_enrich)

    check = commands.add_parser("check", help="load, compile and run every example; list every problem")
    check.add_argument(
        "paths", nargs="*", type=Path, help="rule files or directories (default: the built-in set)"
    )
    check.add_argument(
        "--with-builtin", action="store_true", help="check the files together with the built-in set"
    )
    check.set_defaults(handler=cmd_check)

    rules = commands.add_parser("rules", help="list the rule table: id, severity, category, doc link")
    _add_table_options(rules)
    rules.add_argument("--json", action="store_true")
    rules.add_argument("--markdown", action="store_true", help="the catalog table of the README")
    rules.set_defaults(handler=cmd_rules)

    export = commands.add_parser("export", help="the compiled table as a Vector VRL program, or as JSON")
    export.add_argument("target", choices=["vrl", "json"])
    _add_table_options(export)
    _add_enrich_options(export)
    export.set_defaults(handler=cmd_export)

    serve = commands.add_parser(
        "serve", help="run the HTTP service (every flag is also a LOGENRICH_<NAME> environment variable)"
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes, one per core (default 1)")
    serve.add_argument(
        "--rules", metavar="PATH", nargs="+", type=Path, help="extra rule files or directories"
    )
    serve.add_argument("--no-builtin", dest="builtin", action="store_const", const=False, default=None)
    serve.add_argument(
        "--reload-interval", type=float, help="seconds between rule-file checks, 0 = off (default 5)"
    )
    serve.add_argument("--profile", choices=["default", "ecs"])
    serve.add_argument("--key", help="default profile: the output object's key")
    serve.add_argument("--message-field", dest="message_fields", action="append", metavar="PATH")
    serve.add_argument("--max-message-bytes", type=int)
    serve.add_argument("--max-body-bytes", type=int)
    serve.add_argument("--max-decompressed-bytes", type=int)
    serve.add_argument("--max-records", type=int)
    serve.add_argument("--max-pending", type=int, help="requests in progress before 503 (default 8)")
    serve.add_argument(
        "--max-buffered-bytes",
        type=int,
        help="request-body bytes held over all requests before 503 (128 MiB)",
    )
    serve.add_argument("--retry-after", type=int)
    serve.add_argument("--body-timeout", type=float, help="seconds to receive a body before 408 (default 30)")
    serve.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (prefer LOGENRICH_TOKEN)")
    serve.add_argument("--protect-metrics", action="store_const", const=True, default=None)
    serve.add_argument("--forward-url", help="relay mode: the default downstream's URL")
    serve.add_argument("--forward-format", choices=["json", "ndjson", "elasticsearch", "loki"])
    serve.add_argument(
        "--forward-token", help="bearer token for the default downstream (prefer the env variable)"
    )
    serve.add_argument("--forward-timeout", type=float, help="seconds (default 30; below the shippers' 60)")
    serve.add_argument("--forward-compression", choices=["none", "gzip"])
    serve.add_argument(
        "--forward-index", help="elasticsearch: data stream or index (default logs-jupyterhub-default)"
    )
    serve.add_argument("--forward-labels", help="loki: static labels, k=v,k2=v2")
    serve.add_argument(
        "--no-forward-verify-tls", dest="forward_verify_tls", action="store_const", const=False, default=None
    )
    serve.add_argument(
        "--downstreams-file", type=Path, help="named downstreams (TOML), served at /v1/forward/NAME"
    )
    serve.add_argument("--probe-interval", type=float, help="seconds between downstream reachability checks")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--no-access-log", dest="access_log", action="store_const", const=False, default=None)
    serve.set_defaults(handler=cmd_serve)
    return parser


def run(
    argv: Sequence[str] | None = None, stdout: IO[bytes] | None = None, stderr: IO[str] | None = None
) -> int:
    """Run one command; the entry point tests call in-process."""
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.handler(args, out, err)
    except TableError as exc:
        err.write(f"logenrich: {exc}\n")
        return EXIT_FAILURE
    except LogenrichError as exc:
        err.write(f"logenrich: {exc}\n")
        return EXIT_FAILURE
    except BrokenPipeError:
        return EXIT_OK
    return code


def main() -> int:
    return run()


if __name__ == "__main__":
    sys.exit(main())
