"""Write the compiled table as a Vector VRL program for a `remap` transform.

The program is the Python engine step by step: the message-field choice, the prefix parsing of
every supported format (app/prefix.py, which is loop- and recursion-free for this reason), the
first line of a multi-line record, the rules in precedence order (each behind cheap `contains` /
`starts_with` checks on its guard literals, the way the Python engine prefilters), filters,
captures, derivations, conversions, the severity adjustment with its conditions, the traceback's
exception, and the output of either profile. A parity test runs it with Vector's own VRL runtime
over every rule example and the dev corpus and compares every record with `logenrich enrich`.

Known differences, outside what the parity test covers: messages over the byte cap are cut by
characters, not bytes; `version-boundary` conditions compare versions by release numbers and a
dev/pre/final/post stage, not full PEP 440 (a release number of 7 or more digits is not a version
there); "white space" is Unicode White_Space, where Python also counts the ASCII separators
\\x1c-\\x1f.
"""

import json
import re
from typing import Any

from app import __version__, formats
from app.compiler import CompiledBoundary, CompiledRange, CompiledRule, Table
from app.enrich import EnrichOptions
from app.profiles import ProfileSpec, Value
from app.severity import LEVEL_WORDS, RANK

_STAGES = {"dev": 0, "pre": 1, "final": 2, "post": 3}
_DOCKER = formats.DOCKER_JSON_KEY


def _s(text: str) -> str:
    """A VRL string literal (control characters as `\\u{…}` escapes)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u{" + m.group(1).lstrip("0") + "}", quoted)


def _r(pattern: str) -> str:
    """A VRL regex literal (raw; a quote is escaped)."""
    return "r'" + pattern.replace("'", "\\'") + "'"


def _prefix_pattern(pattern: str) -> str:
    """A prefix regex anchored at the start, with the rest of the line captured."""
    return "^(?:" + pattern + ")(?P<le_rest>(?s:.*))"


def _class(chars: str) -> str:
    """A regex class of these letters, digits and punctuation, with runs written as ranges."""
    codes = sorted(set(map(ord, chars)))
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code != previous + 1:
            parts.append(chr(start) if start == previous else f"{chr(start)}-{chr(previous)}")
            start = code
        previous = code
    return "[" + "".join(parts) + "]"


def _starts(var: str, chars: str) -> str:
    """A VRL test that the string starts with one of these characters."""
    if len(chars) == 1:
        return f"starts_with({var}, {_s(chars)})"
    return f"match({var}, r'^{_class(chars)}')"


def _formats(var: str, via: str) -> list[str]:
    """prefix._match_format without the JSON case, flat: sets le_mf_ok and the le_mf_* parts."""
    c = [
        f"le_mf_line = {var}",
        f"if match(le_mf_line, r'^[{formats.LOST_BRACKET_LETTERS}] [0-9]') && "
        f'contains(truncate(le_mf_line, {formats.LOST_BRACKET_WITHIN}), "] ") {{ le_mf_line = "[" + le_mf_line }}',
    ]
    for fmt in formats.APP_FORMATS:
        names = re.compile(fmt.pattern).groupindex
        groups = []
        if "level" in names:
            groups.append(
                "if is_string(le_mf_m.level) { "
                "le_mf_level = get(le_levels, [downcase(strip_whitespace(string!(le_mf_m.level)))]) ?? null }"
            )
        if "logger" in names:
            groups.append("le_mf_logger = le_mf_m.logger")
        if "file" in names:
            groups.append(
                'if le_mf_m.file != null && le_mf_m.file != "" { le_mf_file = le_mf_m.file; '
                "le_mf_lineno = to_int!(le_mf_m.line) }"
            )
        if "time" in names:
            groups.append("le_mf_time = le_mf_m.time")
        format_value = _s(fmt.name)
        if fmt.name_without_file is not None:
            format_value = (
                f"if le_mf_file == null {{ {_s(fmt.name_without_file)} }} else {{ {_s(fmt.name)} }}"
            )
        c += [
            f"if !le_mf_ok && {_starts('le_mf_line', fmt.starts)} {{",
            f"  le_mf_m, le_mf_e = parse_regex(le_mf_line, {_r(_prefix_pattern(fmt.pattern))})",
            "  if le_mf_e == null {",
            "    le_mf_ok = true",
            "    le_mf_msg = string!(le_mf_m.le_rest)",
            *["    " + g for g in groups],
            f"    le_mf_fmt = {format_value}",
            f"    le_mf_via = {via}",
            "  }",
            "}",
        ]
    return c


def _json_record(var: str, via: str) -> list[str]:
    """prefix._json_record on the object {var}: sets le_mf_ok and the le_mf_* parts when the
    record is one of formats.JSON_FORMATS (the first that fits)."""
    c: list[str] = []
    for fmt in formats.JSON_FORMATS:
        field = f"{var}.{_path_key(fmt.message)}"
        tests = ["!le_mf_ok", f"is_string({field})"]
        if fmt.marks:
            tests.append("(" + " || ".join(f"is_string({var}.{_path_key(k)})" for k in fmt.marks) + ")")
        level = f"{var}.{_path_key(fmt.level)}"
        logger = f"{var}.{_path_key(fmt.logger)}"
        time = f"{var}.{_path_key(fmt.time)}"
        body = [
            "le_mf_ok = true",
            f"le_mf_msg = string!({field})",
            f"le_mf_fmt = {_s(fmt.name)}",
            f"if is_string({logger}) {{ le_mf_logger = {logger} }}",
        ]
        if fmt.file is not None:
            file = f"{var}.{_path_key(fmt.file)}"
            number = "" if fmt.line is None else f"{var}.{_path_key(fmt.line)}"
            line = f" if is_integer({number}) {{ le_mf_lineno = {number} }}" if number else ""
            body.append(f"if is_string({file}) {{ le_mf_file = {file};{line} }}")
        body.append(f"if is_string({time}) {{ le_mf_time = {time} }}")
        body.append(f"le_mf_via = {via}")
        if fmt.exception is not None:
            exception = f"{var}.{_path_key(fmt.exception)}"
            body.append(
                f'if is_string({exception}) && {exception} != "" {{ '
                f'le_mf_msg = le_mf_msg + "\\n" + string!({exception}) }}'
            )
        body.append(
            f"if is_string({level}) {{ le_mf_level = get(le_levels, "
            f"[downcase(strip_whitespace(string!({level})))]) ?? null }}"
        )
        c += [f"if {' && '.join(tests)} {{", *["  " + line for line in body], "}"]
    return c


def _path_key(key: str) -> str:
    """A key as one segment of a VRL path (quoted: any key is safe)."""
    return json.dumps(key, ensure_ascii=False)


def _match_format(var: str, via: str) -> list[str]:
    """prefix._match_format: sets le_mf_ok, le_mf_msg, le_mf_level and the source parts
    (le_mf_fmt, _logger, _file, _lineno, _time, _via), flat and with scalars only."""
    return [
        'le_mf_ok = false; le_mf_msg = ""; le_mf_level = null; le_mf_fmt = null; le_mf_logger = null',
        "le_mf_file = null; le_mf_lineno = null; le_mf_time = null; le_mf_via = null; le_mf_plain = false",
        'le_mf_injson = false; le_mf_inner = ""; le_mf_jvia = null',
        f'if starts_with({var}, "{{\\"") {{',
        f"  le_mf_data, le_mf_jerr = parse_json({var})",
        "  if le_mf_jerr == null && is_object(le_mf_data) {",
        "    le_mf_d = object!(le_mf_data)",
        f"    if is_string(le_mf_d.{_DOCKER}) {{",
        f"      le_mf_inner = replace(string!(le_mf_d.{_DOCKER}), r'\\n+$', \"\")",
        *["      " + line for line in _clean("le_mf_inner")],
        f'      le_mf_jvia = if {via} != null && {via} != "" {{ {via} }} else {{ {_s(formats.DOCKER_JSON_VIA)} }}',
        "      le_mf_injson = true",
        "    } else {",
        *["      " + line for line in _json_record("le_mf_d", via)],
        "    }",
        "  }",
        "}",
        "if le_mf_injson {",
        # the line Docker wrapped may be a JSON record itself (but not another Docker wrapper)
        '  if starts_with(le_mf_inner, "{\\"") {',
        "    le_mf_data, le_mf_jerr = parse_json(le_mf_inner)",
        "    if le_mf_jerr == null && is_object(le_mf_data) {",
        "      le_mf_d = object!(le_mf_data)",
        *["      " + line for line in _json_record("le_mf_d", "le_mf_jvia")],
        "    }",
        "  }",
        *["  " + line for line in _formats("le_mf_inner", "le_mf_jvia")],
        "  if !le_mf_ok { le_mf_ok = true; le_mf_plain = true; le_mf_msg = le_mf_inner; le_mf_via = le_mf_jvia }",
        f'}} else if !le_mf_ok && !starts_with({var}, "{{") {{',
        *["  " + line for line in _formats(var, via)],
        "}",
    ]


def _take_format() -> list[str]:
    """le_text, le_level and le_src from a successful _match_format."""
    return [
        "le_text = le_mf_msg",
        "le_level = le_mf_level",
        "if le_mf_plain {",
        '  le_src = {"format": "plain", "via": le_mf_via}',
        "} else {",
        '  le_src = {"format": le_mf_fmt}',
        '  if le_mf_logger != null && le_mf_logger != "" { le_src.logger = le_mf_logger }',
        '  if le_mf_file != null && le_mf_file != "" { le_src.file = le_mf_file }',
        "  if le_mf_lineno != null { le_src.line = le_mf_lineno }",
        "  if le_mf_time != null { le_src.time = le_mf_time }",
        '  if le_mf_via != null && le_mf_via != "" { le_src.via = le_mf_via }',
        "}",
        "le_done = true",
    ]


def _clean(var: str) -> list[str]:
    ansi = " || ".join(f"contains({var}, {_s(literal)})" for literal in formats.ANSI_LITERALS)
    border = _class(formats.BORDER_STRIP) + "+$"
    return [
        f'if {ansi} {{ {var} = replace({var}, {_r(formats.ANSI)}, "") }}',
        f"{var} = replace({var}, r'^\\s+', \"\")",
        f'if ends_with({var}, {_s(formats.BORDER)}) {{ {var} = replace({var}, {_r(border)}, "") }}',
    ]


def _strip_supervisor(var: str) -> list[str]:
    """Sets le_s_rest and le_s_via (null when no supervisor prefix), as prefix._strip_supervisor."""
    c = [f"le_s_rest = {var}", "le_s_via = null"]
    for sup in formats.SUPERVISORS:
        tests = ["le_s_via == null"]
        if sup.starts is not None:
            tests.append(_starts(var, sup.starts))
        if sup.within is not None:
            tests.append(f"contains(truncate({var}, {sup.within_chars}), {_s(sup.within)})")
        c += [
            f"if {' && '.join(tests)} {{",
            f"  le_s_m, le_s_e = parse_regex({var}, {_r(_prefix_pattern(sup.pattern))})",
            f"  if le_s_e == null {{ le_s_rest = string!(le_s_m.le_rest); le_s_via = {_s(sup.name)} }}",
            "}",
        ]
    # the application's prefix further in: it must start within the window (searched lazily)
    embedded = (
        f"^(?s:.)(?:.{{0,{formats.EMBEDDED_WITHIN - 56}}}?)"
        f"(?P<le_rest>(?:{formats.EMBEDDED_HUB}|{formats.EMBEDDED_CHP})(?s:.*))"
    )
    c += [
        "if le_s_via == null {",
        f"  le_s_m, le_s_e = parse_regex({var}, {_r(embedded)})",
        f"  if le_s_e == null {{ le_s_rest = string!(le_s_m.le_rest); le_s_via = {_s(formats.EMBEDDED_VIA)} }}",
        "}",
    ]
    return c


def _parse_line() -> list[str]:
    """Sets le_text, le_level and le_src from le_raw (prefix.parse_line), as a flat sequence:
    the supervisor loop is unrolled MAX_SUPERVISORS times."""
    c = [
        "le_cur = le_raw",
        *_clean("le_cur"),
        "le_done = false",
        "le_via = null",
        *_match_format("le_cur", "null"),
        "if le_mf_ok {",
        *["  " + line for line in _take_format()],
        "}",
    ]
    for _ in range(formats.MAX_SUPERVISORS):
        c += [
            "if !le_done {",
            *["  " + line for line in _strip_supervisor("le_cur")],
            "  if le_s_via == null {",
            "    le_text = le_cur",
            '    if le_via != null { le_src = {"format": "plain", "via": le_via} }',
            "    le_done = true",
            "  } else {",
            "    if le_via == null { le_via = le_s_via }",
            "    le_cur = replace(le_s_rest, r'^\\s+', \"\")",
            "  }",
            "}",
            "if !le_done {",
            *["  " + line for line in _match_format("le_cur", "le_via")],
            "  if le_mf_ok {",
            *["    " + line for line in _take_format()],
            "  }",
            "}",
        ]
    c.append('if !le_done { le_text = le_cur; le_src = {"format": "plain", "via": le_via} }')
    return c


def _version_key(expr: str, out: str) -> list[str]:
    """Sets {out} to a sortable number for a version string, or null when it is not one."""
    return [
        f"{out} = null",
        f"if is_string({expr}) {{",
        f"  {out}_m, {out}_e = parse_regex(string!({expr}), "
        r"r'(?i)^\s*v?(?P<a>\d{1,6})(?:\.(?P<b>\d{1,6}))?(?:\.(?P<c>\d{1,6}))?(?:\.\d+)*(?P<s>(?:[-_.]?(?:dev|a|alpha|b|beta|c|rc|pre|preview|post|rev|r)[-_.]?\d*)*)(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$')",
        f"  if {out}_e == null {{",
        f"    {out}_stage = 2",
        f"    {out}_suffix = downcase(string!({out}_m.s))",
        f"    if contains({out}_suffix, \"post\") || match({out}_suffix, r'(^|[-_.0-9])(rev|r)[-_.]?[0-9]*$') {{ {out}_stage = 3 }}",
        f"    if match({out}_suffix, r'(a|alpha|b|beta|c|rc|pre|preview)') {{ {out}_stage = 1 }}",
        f'    if contains({out}_suffix, "dev") {{ {out}_stage = 0 }}',
        f"    {out}_b = if {out}_m.b == null {{ 0 }} else {{ to_int!({out}_m.b) }}",
        f"    {out}_c = if {out}_m.c == null {{ 0 }} else {{ to_int!({out}_m.c) }}",
        f"    {out} = ((to_int!({out}_m.a) * 1000 + {out}_b) * 1000 + {out}_c) * 4 + {out}_stage",
        "  }",
        "}",
    ]


def _boundary_key(text: str) -> int:
    parts = [int(p) for p in text.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return ((parts[0] * 1000 + parts[1]) * 1000 + parts[2]) * 4 + _STAGES["final"]


def _severity(rule: CompiledRule) -> list[str]:
    c = ["le_sev = null"]
    for condition in rule.conditions:
        if isinstance(condition, CompiledRange):
            f = f"le_f.{condition.field}"
            tests = []
            if condition.low is not None:
                tests.append(f"to_float!({f}) >= {float(condition.low)}")
            if condition.high is not None:
                tests.append(f"to_float!({f}) <= {float(condition.high)}")
            test = " && ".join(tests) or "true"
            c.append(
                f"if le_sev == null && (is_integer({f}) || is_float({f})) {{ if {test} {{ le_sev = {_s(condition.severity)} }} }}"
            )
        elif isinstance(condition, CompiledBoundary):
            c += _version_key(f"le_f.{condition.first}", "le_va")
            c += _version_key(f"le_f.{condition.second}", "le_vb")
            keys = [_boundary_key(str(b)) for b in condition.boundaries]
            straddles = " || ".join(f"(le_vlow < {k} && {k} <= le_vhigh)" for k in keys)
            c += [
                "if le_sev == null && le_va != null && le_vb != null {",
                "  le_vlow = if to_int!(le_va) <= to_int!(le_vb) { to_int!(le_va) } else { to_int!(le_vb) }",
                "  le_vhigh = if to_int!(le_va) <= to_int!(le_vb) { to_int!(le_vb) } else { to_int!(le_va) }",
                f"  if {straddles} {{ le_sev = {_s(condition.severity)} }}",
                "}",
            ]
    spec = rule.spec
    if spec.severity == "keep":
        c.append('if le_sev == null { le_sev = if le_level != null { le_level } else { "info" } }')
    elif spec.adjust == "set":
        c.append(f"if le_sev == null {{ le_sev = {_s(spec.severity)} }}")
    else:
        op = "<" if spec.adjust == "cap" else ">"
        c.append(
            f"if le_sev == null {{ le_sev = if le_level != null && to_int!(get!(le_ranks, [le_level])) {op} "
            f"{RANK[spec.severity]} {{ le_level }} else {{ {_s(spec.severity)} }} }}"
        )
    return c


_NONEMPTY = 'filter(object!({0})) -> |_k, v| {{ v != null && v != "" }}'


def _rule_block(rule: CompiledRule, gated: bool = True) -> list[str]:
    spec = rule.spec
    gates = ["le_rule == null"]
    if gated and rule.guard:
        gates.append("(" + " || ".join(f"contains(le_line, {_s(k)})" for k in rule.guard) + ")")
    if gated and rule.first_chars is not None and len(rule.first_chars) <= 12:
        gates.append(
            "(" + " || ".join(f"starts_with(le_line, {_s(ch)})" for ch in sorted(rule.first_chars)) + ")"
        )
    if rule.loggers is not None:
        gates.append(
            f"(le_src == null || le_src.logger == null || includes({json.dumps(sorted(rule.loggers))}, le_src.logger))"
        )
    if rule.formats is not None:
        gates.append(f"(le_src == null || includes({json.dumps(sorted(rule.formats))}, le_src.format))")
    if rule.levels is not None:
        gates.append(f"(le_level == null || includes({json.dumps(sorted(rule.levels))}, le_level))")
    c = [
        f"# {rule.id}  ({rule.path.rsplit('/', 1)[-1]}:{rule.line})",
        f"if {' && '.join(gates)} {{",
        f"  le_m, le_err = parse_regex(le_line, {_r(spec.pattern)})",
        "  if le_err == null {",
        f"    le_rule = {_s(rule.id)}",
        f"    le_meta = {_meta(rule)}",
        "    le_f = " + _NONEMPTY.format("le_m"),
    ]
    for derive in rule.spec.derive:
        source = derive.source
        c += [
            f"    if is_string(le_f.{source}) {{",
            f"      le_d, le_derr = parse_regex(string!(le_f.{source}), {_r(derive.pattern)})",
            "      if le_derr == null { le_f = merge(" + _NONEMPTY.format("le_d") + ", le_f) }",
            "    }",
        ]
    for name, conversion in rule.convert:
        target = f"le_f.{name}"
        if conversion == "int":
            fn = "to_int"
        elif conversion == "float":
            fn = "to_float"
        elif conversion == "urldecode":
            c.append(f"    if is_string({target}) {{ {target} = decode_percent(string!({target})) }}")
            continue
        else:
            continue
        c += [
            f"    if is_string({target}) {{",
            f"      le_cv, le_cerr = {fn}(string!({target}))",
            f"      if le_cerr == null {{ {target} = le_cv }} else {{ le_f = remove!(le_f, [{_s(name)}]) }}",
            "    }",
        ]
    c += ["    " + line for line in _severity(rule)]
    c += ["  }", "}"]
    return c


def _meta(rule: CompiledRule) -> str:
    """The rule's constant enrichment, built only when the rule decides (not per event)."""
    constants = {k: v for k, v in rule.constants.items() if k != "classification"}
    return json.dumps(constants, ensure_ascii=False)


def _message_choice(options: EnrichOptions) -> list[str]:
    c = ["le_raw = null"]
    for path in options.message_fields:
        parts = json.dumps(path.split("."))
        c.append(
            f"if le_raw == null {{ le_v = get(., {parts}) ?? null; if is_string(le_v) {{ le_raw = le_v }} }}"
        )
    return c


# each value a profile writes, as a VRL expression over the program's variables (null: absent)
_VALUES: dict[Value, str] = {
    "classification": 'if le_rule == null { "unclassified" } else { le_rule }',
    "title": "le_meta.title",
    "category": "le_meta.category",
    "severity": "if le_rule == null { le_level } else { le_sev }",
    "syslog_severity": "if le_v_severity != null { get!(le_syslog, [le_v_severity]) } else { null }",
    "level": "le_level",
    "doc_url": "le_meta.doc_url",
    "summary": "le_meta.summary",
    "action": "le_meta.action",
    "fields": "if le_rule == null { null } else { le_f }",
    "source": "le_src",
    "source_logger": "if le_src != null { le_src.logger } else { null }",
    "source_file": "if le_src != null { le_src.file } else { null }",
    "source_line": "if le_src != null { le_src.line } else { null }",
    "ruleset": "le_meta.ruleset",
    "ruleset_version": "le_meta.ruleset_version",
}


def _path(parts: tuple[str, ...]) -> str:
    """A VRL path of quoted segments: any key is safe."""
    return "." + ".".join(json.dumps(part, ensure_ascii=False) for part in parts)


def _write_profile(spec: ProfileSpec) -> list[str]:
    """The profile's targets and slots (app.profiles), as the Python writer applies them."""
    c = [f"le_v_{name} = {expression}" for name, expression in _VALUES.items()]
    for target in spec.targets:
        body: list[str] = []
        if target.replace:
            body.append("le_o = {}")
            body += [
                f"if le_v_{slot.value} != null {{ le_o.{json.dumps(slot.key)} = le_v_{slot.value} }}"
                for slot in target.slots
            ]
            body.append(f"{_path(target.path)} = le_o")
            depth = 0
            for end in range(1, len(target.path)):
                parent = _path(target.path[:end])
                body[0:0] = [f"if !exists({parent}) {{ {parent} = {{}} }}", f"if is_object({parent}) {{"]
                depth += 1
            body += ["}"] * depth
        else:
            for end in range(1, len(target.path) + 1):
                here = _path(target.path[:end])
                body += [f"if !exists({here}) {{ {here} = {{}} }}", f"if is_object({here}) {{"]
            for slot in target.slots:
                where = _path((*target.path, slot.key))
                keep = f" && !exists({where})" if slot.keep_existing else ""
                body.append(f"if le_v_{slot.value} != null{keep} {{ {where} = le_v_{slot.value} }}")
            body += ["}"] * len(target.path)
        if target.needs:
            test = " || ".join(f"le_v_{need} != null" for need in target.needs)
            c += [f"if {test} {{", *["  " + line for line in body], "}"]
        else:
            c += body
    return c


def export_vrl(table: Table, options: EnrichOptions | None = None, gated: bool = True) -> str:
    """The program text: deterministic for the same table and options. `gated=False` drops the
    literal checks in front of each regex (a plain if-chain, for the benchmark only)."""
    options = options or EnrichOptions()
    levels: dict[str, Any] = dict(LEVEL_WORDS)
    out: list[str] = [
        f"# logenrich {__version__}: the rule table {table.version} ({len(table.rules)} rules) as a VRL program",
        f"# profile {options.profile}; generated by `logenrich export vrl` - do not edit, regenerate",
        f"le_levels = {json.dumps(levels)}",
        f"le_ranks = {json.dumps(RANK)}",
        *_message_choice(options),
        "le_go = le_raw != null",
    ]
    if options.spec.guard_key is not None:
        guard = _path((options.spec.guard_key,))
        out.append(f"if exists({guard}) && !is_object({guard}) {{ le_go = false }}")
    out += [
        "if le_go {",
        "  le_raw = string!(le_raw)",
        f"  if length(le_raw) > {options.max_message_bytes} {{ le_raw = truncate(le_raw, {options.max_message_bytes}) }}",
        "  le_text = le_raw",
        "  le_level = null",
        "  le_src = null",
    ]
    # a block: the parser's own variables end with it, so the rule blocks below carry little state
    out += ["  {", *["    " + line for line in _parse_line()], "  }"]
    out += [
        '  le_multi = contains(le_text, "\\n")',
        "  le_line = le_text",
        "  if le_multi {",
        '    le_parts = split(le_text, "\\n")',
        "    le_line = string!(le_parts[0])",
        '    if strip_whitespace(le_line) == "" {',
        "      le_found = false",
        "      for_each(slice!(le_parts, 1)) -> |_i, le_part| {",
        '        if !le_found && strip_whitespace(string!(le_part)) != "" { le_line = strip_whitespace(string!(le_part)); le_found = true }',
        "      }",
        "    }",
        "  }",
        "  le_rule = null",
        "  le_meta = {}",
        "  le_f = {}",
        "  le_sev = null",
    ]
    # a blank line without a prefix says nothing: no rule runs on it
    out.append('  if le_src == null && strip_whitespace(le_text) == "" { le_rule = "" }')
    for rule in table.rules:
        out += ["  " + line for line in _rule_block(rule, gated)]
    out.append('  if le_rule == "" { le_rule = null }')
    out += [
        "  if le_rule != null && le_multi && !exists(le_f.exception) {",
        '    le_tail = split(replace(le_text, r\'\\s+$\', ""), "\\n")',
        "    le_last = strip_whitespace(string!(le_tail[-1]))",
        "    if match(le_last, r'^(?:[A-Za-z_][\\w.]*\\.)?[A-Z]\\w*(?:Error|Exception|Exit|Interrupt|Timeout|Failure)\\w*(?::.*)?$') { le_f.exception = le_last }",
        "  }",
    ]
    out.append('  le_syslog = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}')
    writer = _write_profile(options.spec)
    out += ["  " + line for line in writer]
    out.append("}")
    return "\n".join(out) + "\n"
