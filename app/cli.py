"""The command line: ``logenrich enrich | check | mine | rules | export | serve``.

Commands are thin: they parse arguments, call the domain, print. Exit codes: 0 ok, 1 failure
(a table that does not check, unreadable input), 2 usage. Heavy imports (uvicorn, the API) stay
inside the command that needs them.
"""

import argparse
import sys
import time
import types
import typing
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from app import __version__
from app.batch import OUTCOME_CLASSIFIED, OUTCOME_UNCLASSIFIED, PASSTHROUGH, Answer, BatchResult, Kind, Limits
from app.catalog import rule_paths
from app.check import check_paths, load_table
from app.compiler import Table
from app.engine import Engine, load_engine
from app.enrich import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MESSAGE_FIELDS, EnrichOptions
from app.errors import CodecError, InputError, LogenrichError
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
    parser.add_argument(
        "--engine",
        choices=["native", "python"],
        default="native",
        help="native (the Rust extension; python when it is missing) or python",
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
        help="record field holding the log line (repeatable, dotted paths; default: message, log, msg,"
        " MESSAGE)",
    )
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)


def _enrich_chunk(engine: Engine, kind: Kind, data: bytes) -> tuple[BatchResult, int]:
    """One chunk through the engine; NDJSON lines that are not JSON are read as raw log lines,
    and a JSON array that is not JSON as raw text, so nothing is lost. Also: lines read so."""
    limits = Limits(max_decompressed_bytes=len(data) + 1, max_records=max(len(data), 1))
    try:
        return engine.run(data, kind, Answer("ndjson"), limits, time.time_ns()), 0
    except CodecError:
        if kind != "ndjson":
            return engine.run(data, "text", Answer("ndjson"), limits, time.time_ns()), 0
    parts: list[BatchResult] = []
    bad = 0
    for line in data.splitlines(keepends=True):
        if not line.strip():
            continue
        try:
            parts.append(engine.run(line, "ndjson", Answer("ndjson"), limits, time.time_ns()))
        except CodecError:
            bad += 1
            text = line.rstrip(b"\r\n")
            parts.append(
                engine.run(
                    orjson.dumps({"message": text.decode("utf-8", "replace")}),
                    "ndjson",
                    Answer("ndjson"),
                    limits,
                    time.time_ns(),
                )
            )
    body = b"".join(part.body.rstrip(b"\n") + b"\n" for part in parts)
    counts: Counter[tuple[str, str, str]] = Counter()
    for part in parts:
        counts.update(part.counts)
    outcomes = b"".join(part.outcomes for part in parts)
    return BatchResult(body, "ndjson", "ndjson", len(parts), counts, outcomes), bad


def _output(result: BatchResult, only_classified: bool) -> bytes:
    """The answer's NDJSON lines (one per record), the classified ones only when asked."""
    body = result.body
    if not only_classified:
        return body if not body or body.endswith(b"\n") else body + b"\n"
    lines = body.splitlines()
    return b"".join(
        line + b"\n"
        for line, outcome in zip(lines, result.outcomes, strict=True)
        if outcome == OUTCOME_CLASSIFIED
    )


def cmd_enrich(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    table = load_table(rule_paths(args.rules, builtin=not args.no_builtin), args.engine)
    engine = load_engine(table, _enrich_options(args), args.engine)
    if args.file == "-":
        stream: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        try:
            stream = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot read {args.file}: {exc.strerror}") from exc
        total = Path(args.file).stat().st_size
    counts: Counter[str] = Counter()
    reader = Reader(stream)
    progress = _Progress(total, stderr)
    records = bad_lines = 0
    try:
        for kind, data in reader.chunks():
            result, bad = _enrich_chunk(engine, kind, data)
            bad_lines += bad
            records += result.records
            for key, count in result.counts.items():
                counts["(passthrough)" if key == PASSTHROUGH else key[0]] += count
            stdout.write(_output(result, args.only_matched))
            progress.update(reader.bytes_read, records)
    finally:
        progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    stdout.flush()
    _summary(counts, reader.shape, bad_lines, stderr)
    return EXIT_OK


def _summary(counts: Counter[str], shape: str, bad_lines: int, out: IO[str]) -> None:
    total = sum(counts.values())
    unclassified = counts.get("unclassified", 0) + counts.get("(passthrough)", 0)
    classified = total - unclassified
    share = f"{classified / total:.0%}" if total else "-"
    out.write(f"logenrich: {total} records ({shape}), {classified} classified ({share})\n")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        out.write(f"  {count:>8}  {name}\n")
    if bad_lines:
        out.write(f"  {bad_lines} line(s) were not JSON and were read as raw log lines\n")


def _unclassified_records(result: BatchResult) -> list[Any]:
    """The records of an NDJSON answer that the table left unclassified."""
    if OUTCOME_UNCLASSIFIED not in result.outcomes:
        return []
    return [
        orjson.loads(line)
        for line, outcome in zip(result.body.splitlines(), result.outcomes, strict=True)
        if outcome == OUTCOME_UNCLASSIFIED
    ]


def cmd_mine(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    from app.drafting import draft_rules
    from app.mining import Miner, unclassified_messages

    if args.draft is not None and args.draft.is_dir():
        raise InputError(f"--draft {args.draft}: a directory; name a file to write")
    paths = rule_paths(args.rules, builtin=not args.no_builtin)
    # --no-builtin alone: no table, every line is unclassified
    table = load_table(paths, args.engine) if paths else Table((), "none", ())
    options = _enrich_options(args)
    engine = load_engine(table, options, args.engine)
    miner = Miner(
        similarity=args.similarity,
        depth=args.depth,
        max_templates=args.max_templates,
        max_examples=max(args.examples, 2 if args.draft else 0),
    )
    sizes = [0 if name == "-" else _size(name) for name in args.files]
    progress = _Progress(sum(sizes), stderr)
    records = bad_lines = unclassified = done = 0
    try:
        for name, size in zip(args.files, sizes, strict=True):
            stream = sys.stdin.buffer if name == "-" else _open(name)
            reader = Reader(stream)
            try:
                for kind, data in reader.chunks():
                    result, bad = _enrich_chunk(engine, kind, data)
                    bad_lines += bad
                    records += result.records
                    for message, line, level in unclassified_messages(_unclassified_records(result), options):
                        unclassified += 1
                        miner.add(message, line, level)
                    progress.update(done + reader.bytes_read, records)
            finally:
                if stream is not sys.stdin.buffer:
                    stream.close()
            done += size
    finally:
        progress.close()
    templates = miner.templates()
    if args.json:
        body = miner.as_json(args.limit)
        body = {"records": records, "unclassified": unclassified, **body}
        for template in body["templates"]:
            template["examples"] = template["examples"][: args.examples]
        stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        stdout.write(_templates_table(templates[: args.limit], args.examples).encode())
    stderr.write(
        f"logenrich: {records} records, {unclassified} unclassified message(s) in {len(templates)} "
        f"template(s)" + (f", {miner.other} past the bounds" if miner.other else "") + "\n"
    )
    if bad_lines:
        stderr.write(f"  {bad_lines} line(s) were not JSON and were read as raw log lines\n")
    if args.draft is None:
        return EXIT_OK
    draft = draft_rules(
        templates,
        min_count=args.min_count,
        name=args.name,
        doc_base=args.doc_base,
        options=options,
        engine=args.engine,
        messages=unclassified,
    )
    for reason in draft.dropped:
        stderr.write(f"  left out {reason}\n")
    if not draft.rules:
        stderr.write(
            f"logenrich: no template seen {args.min_count}+ times gave a rule; {args.draft} not written\n"
        )
        return EXIT_FAILURE
    args.draft.write_text(draft.text, encoding="utf-8")
    stderr.write(
        f"logenrich: {len(draft.rules)} rule(s) drafted into {args.draft}; they pass `logenrich check "
        f"{args.draft}`. Edit the words, then load it with --rules.\n"
    )
    return EXIT_OK


def _size(name: str) -> int:
    try:
        return Path(name).stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from exc


def _open(name: str) -> IO[bytes]:
    try:
        return open(name, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from exc


def _templates_table(templates: list[Any], examples: int) -> str:
    """The templates as a table: count, logged levels, template, then example lines."""
    width = 160
    rows = [f"{'COUNT':>8}  {'LEVELS':<20}  TEMPLATE"]
    for template in templates:
        levels = ",".join(f"{level}:{count}" for level, count in template.levels.most_common(3))
        rows.append(f"{template.count:>8}  {levels[:20]:<20}  {_shown(template.text, width - 32)}")
        rows.extend(f"{'':>10}{'':<22}  {_shown(e.line, width - 36)}" for e in template.examples[:examples])
    return "\n".join(rows) + "\n"


def _shown(text: str, width: int) -> str:
    """One printable line of at most `width` characters."""
    line = "".join(c if c.isprintable() else "?" for c in text.split("\n", 1)[0])
    return line if len(line) <= width else line[: width - 1] + "…"


def cmd_check(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    paths = list(args.paths) if args.paths else rule_paths(None)
    if args.paths and args.with_builtin:
        paths = rule_paths(paths)
    table, issues = check_paths(paths, args.engine)
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
    table = load_table(rule_paths(args.rules, builtin=not args.no_builtin), args.engine)
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


# flags whose name is not the field's (kept as they were before the flags came from the model)
_FLAG_NAMES = {"message_fields": "--message-field"}


def _unwrap(annotation: Any) -> Any:
    """The type under Optional[...] and Annotated[...]."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per settings field, its help the field's description and default: the flags
    cannot drift from the settings, and an unset flag leaves the setting to the environment."""
    from app.settings import Settings

    for name, field in Settings.model_fields.items():
        flag = _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
        kind = _unwrap(field.annotation)
        default = field.default if field.default_factory is None else field.default_factory()  # type: ignore[call-arg]
        shown = default.get_secret_value() if hasattr(default, "get_secret_value") else default
        help_text = f"{field.description or name} (default: {shown!r}; env LOGENRICH_{name.upper()})"
        options: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            parser.add_argument(flag, action="extend", nargs="+", type=item, metavar=name.upper(), **options)
        elif typing.get_origin(kind) is dict:
            parser.add_argument(flag, action="append", metavar="K=V", **options)
        elif typing.get_origin(kind) is typing.Literal:
            parser.add_argument(flag, choices=typing.get_args(kind), **options)
        else:
            parser.add_argument(flag, metavar=name.upper(), **options)


def cmd_serve(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    import os
    import tempfile

    import uvicorn
    from pydantic import ValidationError

    from app.logs import configure, logging_config
    from app.memory import limit_malloc_arenas
    from app.settings import WORKER_SETTINGS, Settings

    given = {
        name: value
        for name, value in vars(args).items()
        if name in Settings.model_fields and value is not None
    }
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        stderr.write(f"logenrich serve: invalid settings:\n{exc}\n")
        return EXIT_USAGE
    limit_malloc_arenas()
    # fail fast, before binding: the table must check and its engine must build
    engine = load_engine(
        load_table(rule_paths(list(settings.rules), builtin=settings.builtin), settings.engine),
        settings.enrich_options,
        settings.engine,
    )
    configure(settings.log_level)
    where = f"http://{settings.host}:{settings.port}"
    stderr.write(
        f"logenrich: serving {len(engine.table.rules)} rules ({engine.table.version}) on {where}, "
        f"{settings.workers} worker(s), {engine.name} engine\n"
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

        uvicorn.run(create_app(settings, engine), **common)
        return EXIT_OK
    os.environ[WORKER_SETTINGS] = settings.for_workers()
    with tempfile.TemporaryDirectory(prefix="logenrich-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("app.api:app_from_env", factory=True, workers=settings.workers, **common)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    table = load_table(rule_paths(args.rules, builtin=not args.no_builtin), args.engine)
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
    check.add_argument(
        "--engine", choices=["native", "python"], default="native", help="the engine that runs the examples"
    )
    check.set_defaults(handler=cmd_check)

    mine = commands.add_parser(
        "mine", help="group the lines the table leaves unclassified into templates; --draft rules for them"
    )
    mine.add_argument(
        "files", nargs="+", metavar="FILE", help="input files (raw lines, JSON or NDJSON), - for stdin"
    )
    _add_table_options(mine)
    _add_enrich_options(mine)
    mine.add_argument("--json", action="store_true", help="the templates as JSON")
    mine.add_argument(
        "--limit", type=int, default=50, help="templates shown, most frequent first (default 50)"
    )
    mine.add_argument("--examples", type=int, default=3, help="example lines shown per template (default 3)")
    mine.add_argument(
        "--similarity", type=float, default=0.4, help="share of equal tokens to join a template"
    )
    mine.add_argument("--depth", type=int, default=4, help="depth of the parse tree (default 4)")
    mine.add_argument("--max-templates", type=int, default=10_000, help="templates kept (default 10000)")
    mine.add_argument(
        "--draft", type=Path, metavar="OUT.toml", help="write a checked rule file, one rule per template"
    )
    mine.add_argument("--min-count", type=int, default=2, help="--draft: lines a template needs (default 2)")
    mine.add_argument("--name", default="site", help="--draft: the ruleset's name and the ids' prefix")
    mine.add_argument(
        "--doc-base",
        default="https://jupyterhub.readthedocs.io/en/stable/",
        help="--draft: the https address the rules' doc links are relative to",
    )
    mine.set_defaults(handler=cmd_mine)

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
    add_settings_flags(serve)
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
