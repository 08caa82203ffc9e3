"""Group log messages into templates with Drain, the fixed-depth parse tree of He et al. (ICWS
2017) that Drain3 implements: the messages the catalog leaves unclassified, told apart by shape.

    miner = Miner()
    for message, line, level in messages:
        miner.add(message, line, level)
    miner.templates()          # by count, each with its masked template and a few example lines

A message is the first line of what follows the log prefix (what a rule's pattern matches). It is
cut into tokens at spaces and tabs; tokens that are plainly variable (numbers, hex ids, UUIDs,
IP addresses, paths, URLs, over-long tokens) are masked. The tree routes a message by its token
count, then by its first ``depth - 3`` tokens (root, count and leaf are the other layers; a token
with a digit, or one more under a node that has ``max_children`` already, goes to the wildcard
child); the leaf holds the templates of that route,
and the message joins the most similar one whose share of equal tokens reaches ``similarity``,
positions that differ becoming variable, or starts a template of its own.

Every variable position also keeps the narrowest character class that fits every token seen
there (``Class``), which is what a drafted rule's named group uses (``app.drafting``).

Bounds: ``max_templates`` templates, ``max_leaf`` per leaf, ``max_tokens`` tokens and
``max_examples`` example lines per template; a message that would need a template past a bound is
counted in ``other``.
"""

import enum
import functools
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from app.enrich import EnrichOptions, cap_text, message_at, readable
from app.prefix import first_line, parse_line

VARIABLE: Final = "<*>"
DEFAULT_DEPTH: Final = 4
DEFAULT_SIMILARITY: Final = 0.4
DEFAULT_MAX_CHILDREN: Final = 100
DEFAULT_MAX_LEAF: Final = 200
DEFAULT_MAX_TOKENS: Final = 48
MAX_TOKEN_CHARS: Final = 120  # a longer token is a value, not a word

# what separates tokens: the tokens themselves may hold any other character
_SEPARATORS: Final = re.compile(r"[ \t]+")

# whole-token masks, tried in order: (label, pattern); the label stands for the value in a template
_MASKS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("<UUID>", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")),
    # a dotted quad, with a port; or an IPv6 address (hex groups and colons, at least two colons)
    (
        "<IP>",
        re.compile(
            r"\(?(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\)?,?|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}"
        ),
    ),
    ("<URL>", re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}://\S*")),
    # numbers, signed, with a decimal part and a short unit (12, -3, 5.77ms, 100%, 2s)
    ("<NUM>", re.compile(r"[-+]?\d+(?:\.\d+)?(?:[a-zA-Z%]{1,3})?[,.;:)]?")),
    # hex ids of 8+ digits with at least one digit (commit hashes, container and kernel ids)
    ("<HEX>", re.compile(r"(?=[0-9a-fA-F]*\d)(?:0x)?[0-9a-fA-F]{8,}")),
    ("<PATH>", re.compile(r"/[^\s/]+(?:/[^\s/]*)+|/")),
)


class Class(enum.IntFlag):
    """Character classes a variable position may fit, narrowest first (``narrowest``)."""

    DIGITS = 1  # 42
    VERSION = 2  # 5.2.1, v1.0.0b2, 4.1.0+local
    PATH = 4  # /hub/user/ana
    NAME = 8  # a user-like token: ana, ana@example.org, jupyter-ana.2
    NONSPACE = 16  # anything without white space
    ANY = 32  # anything between the separators


_CLASS_TESTS: Final[tuple[tuple[Class, re.Pattern[str]], ...]] = (
    (Class.DIGITS, re.compile(r"[0-9]+")),
    (Class.VERSION, re.compile(r"v?[0-9]+\.[0-9]+[0-9A-Za-z_.+-]*")),
    (Class.PATH, re.compile(r"/\S*")),
    (Class.NAME, re.compile(r"[\w.@-]+")),
    (Class.NONSPACE, re.compile(r"\S+")),
)
EVERY_CLASS: Final = int(sum(Class))


@functools.lru_cache(maxsize=8192)
def token_classes(token: str) -> int:
    """Every class that fits the token (ANY always does), as the bits of ``Class``."""
    found = int(Class.ANY)
    for flag, test in _CLASS_TESTS:
        if test.fullmatch(token):
            found |= flag
    return found


def narrowest(classes: int) -> Class:
    for flag in Class:
        if flag & classes:
            return flag
    return Class.ANY


# every mask holds a digit, a slash or a colon: most words are told apart by one search
_MAYBE_MASKED: Final = re.compile(r"[0-9/:]")
_ANY_MASK: Final = re.compile("|".join(f"(?P<m{n}>{regex.pattern})" for n, (_, regex) in enumerate(_MASKS)))
_LABELS: Final = {f"m{n}": label for n, (label, _) in enumerate(_MASKS)}


def mask_of(token: str) -> str | None:
    """The mask label of a plainly variable token, None for a word."""
    if len(token) > MAX_TOKEN_CHARS:
        return VARIABLE
    if _MAYBE_MASKED.search(token) is None:
        return None
    found = _ANY_MASK.fullmatch(token)
    return _LABELS[found.lastgroup] if found is not None and found.lastgroup is not None else None


# one of these at the end of a word is a token of its own, glued to the word: "for ana:" keeps
# "ana" apart from its colon
_GLUED_MARKS: Final = frozenset(":,;")


def tokenise(text: str, max_tokens: int) -> tuple[list[str], tuple[bool, ...], bool]:
    """The tokens of a line (at most max_tokens), which of them follow the one before with no
    white space between (a word's trailing mark), and whether there were more."""
    tokens: list[str] = []
    glued: list[bool] = []
    for word in _SEPARATORS.split(text):
        if not word:
            continue
        if len(word) > 1 and word[-1] in _GLUED_MARKS and word[-2] not in _GLUED_MARKS:
            tokens += (word[:-1], word[-1])
            glued += (False, True)
        else:
            tokens.append(word)
            glued.append(False)
    if len(tokens) > max_tokens:
        return tokens[:max_tokens], tuple(glued[:max_tokens]), True
    return tokens, tuple(glued), False


def joined(tokens: list[str], glued: tuple[bool, ...]) -> str:
    """Tokens written back: a space between them, none before a glued one."""
    return "".join(
        token if glue or not n else " " + token
        for n, (token, glue) in enumerate(zip(tokens, glued, strict=True))
    )


@dataclass(frozen=True, slots=True)
class Example:
    line: str  # the record's log line as it came (prefix included)
    level: str | None  # the logged level, normalised


@dataclass(slots=True)
class Template:
    """One group of messages of the same shape."""

    id: int
    key: str  # a short hash of the first message's shape: stable while the template generalises
    tokens: list[str]  # the constant token, or the mask label, at each position
    variable: list[bool]
    classes: list[int]  # at variable positions: every class that fits every token seen there
    truncated: bool  # the messages had more than max_tokens tokens
    glued: tuple[bool, ...]  # tokens written right after the one before (a word's trailing mark)
    count: int = 0
    levels: Counter[str] = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)
    single: bool = True  # every message had exactly one space between tokens
    lead: bool = False  # some message started with white space
    trail: bool = False  # some message ended with white space

    @property
    def text(self) -> str:
        shown = joined(self.tokens, self.glued)
        return shown + " …" if self.truncated else shown

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "template": self.text,
            "count": self.count,
            "levels": dict(self.levels.most_common()),
            "examples": [example.line for example in self.examples],
        }


def _key(text: str, truncated: bool) -> str:
    shown = text + ("\x00…" if truncated else "")
    return hashlib.blake2b(shown.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()


_Node = dict[str, Any]


class Miner:
    """Drain's parse tree and its templates. Not thread-safe: a caller that shares one locks it."""

    def __init__(
        self,
        *,
        depth: int = DEFAULT_DEPTH,
        similarity: float = DEFAULT_SIMILARITY,
        max_children: int = DEFAULT_MAX_CHILDREN,
        max_templates: int | None = None,
        max_leaf: int = DEFAULT_MAX_LEAF,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_examples: int = 3,
    ) -> None:
        self.layers = max(depth - 3, 1)
        self.similarity = similarity
        self.max_children = max_children
        self.max_templates = max_templates
        self.max_leaf = max_leaf
        self.max_tokens = max_tokens
        self.max_examples = max_examples
        self._root: dict[tuple[int, tuple[bool, ...], bool], _Node] = {}
        self._templates: list[Template] = []
        self._keys: set[str] = set()
        self.messages = 0
        self.other = 0  # messages past a bound, in no template

    def __len__(self) -> int:
        return len(self._templates)

    def add(self, message: str, line: str | None = None, level: str | None = None) -> Template | None:
        """Place one message (the first line after the prefix; `line`: the record's whole log
        line, kept as an example). The template it joined; None when a bound left it out."""
        self.messages += 1
        tokens, glued, truncated = tokenise(message, self.max_tokens)
        masks = [mask_of(token) for token in tokens]
        leaf = self._leaf(tokens, masks, glued, truncated)
        best: Template | None = None
        best_score = -1.0
        for template in leaf:
            score = self._score(template, tokens, masks)
            if score > best_score:
                best, best_score = template, score
        if best is None or best_score < self.similarity:
            if len(leaf) >= self.max_leaf or (
                self.max_templates is not None and len(self._templates) >= self.max_templates
            ):
                self.other += 1
                return None
            best = self._new(tokens, masks, glued, truncated)
            leaf.append(best)
        else:
            self._merge(best, tokens, masks)
        best.count += 1
        if level is not None:
            best.levels[level] += 1
        else:
            best.levels["none"] += 1
        stripped = message.strip(" \t")
        if len(stripped) != len(message):
            best.lead = best.lead or message[:1] in " \t"
            best.trail = best.trail or message[-1:] in " \t"
        if best.single:
            text = joined(tokens, glued)
            best.single = stripped == text or (truncated and stripped.startswith(text + " "))
        if len(best.examples) < self.max_examples:
            shown = line if line is not None else message
            if all(example.line != shown for example in best.examples):
                best.examples.append(Example(shown, level))
        return best

    def _route(self, token: str, mask: str | None) -> str:
        return VARIABLE if mask is not None or any(c.isdigit() for c in token) else token

    def _leaf(
        self, tokens: list[str], masks: list[str | None], glued: tuple[bool, ...], truncated: bool
    ) -> list[Template]:
        """The leaf's template list for this message, created along the way (the count layer
        tells glued marks apart too: a template's tokens are glued alike)."""
        node = self._root.setdefault((len(tokens), glued, truncated), {})
        for position in range(min(self.layers, len(tokens))):
            key = self._route(tokens[position], masks[position])
            child = node.get(key)
            if child is None:
                if key != VARIABLE and len(node) >= self.max_children:
                    key = VARIABLE
                child = node.setdefault(key, {})
            node = child
        leaf: list[Template] = node.setdefault("", [])  # "" is never a token
        return leaf

    def _score(self, template: Template, tokens: list[str], masks: list[str | None]) -> float:
        if not tokens:
            return 1.0
        same = 0
        for position, token in enumerate(tokens):
            if template.variable[position]:
                label = template.tokens[position]
                if label != VARIABLE and masks[position] == label:
                    same += 1
            elif masks[position] is None and template.tokens[position] == token:
                same += 1
        return same / len(tokens)

    def _new(
        self, tokens: list[str], masks: list[str | None], glued: tuple[bool, ...], truncated: bool
    ) -> Template:
        shown = [mask or token for token, mask in zip(tokens, masks, strict=True)]
        key = _key(joined(shown, glued), truncated)
        while key in self._keys:  # a shape seen before but kept apart by a bound: a fresh key
            key = _key(joined(shown, glued) + str(len(self._keys)), truncated)
        self._keys.add(key)
        template = Template(
            id=len(self._templates),
            key=key,
            tokens=shown,
            variable=[mask is not None for mask in masks],
            classes=[
                token_classes(token) if mask is not None else EVERY_CLASS
                for token, mask in zip(tokens, masks, strict=True)
            ],
            truncated=truncated,
            glued=glued,
        )
        self._templates.append(template)
        return template

    def _merge(self, template: Template, tokens: list[str], masks: list[str | None]) -> None:
        for position, token in enumerate(tokens):
            mask = masks[position]
            if template.variable[position]:
                template.classes[position] &= token_classes(token)
                if template.tokens[position] != mask:
                    template.tokens[position] = VARIABLE
            elif mask is not None or template.tokens[position] != token:
                # a word until now: the class of that word and of this token
                template.classes[position] = token_classes(template.tokens[position]) & token_classes(token)
                template.tokens[position] = VARIABLE
                template.variable[position] = True

    def templates(self) -> list[Template]:
        """Every template, the most frequent first."""
        return sorted(self._templates, key=lambda t: (-t.count, t.id))

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        shown = self.templates()[:limit] if limit is not None else self.templates()
        return {
            "messages": self.messages,
            "templates": [template.as_json() for template in shown],
            "template_count": len(self._templates),
            "other": self.other,
        }


def unclassified_messages(
    records: list[Any], options: EnrichOptions, from_bytes: bool = False
) -> Iterator[tuple[str, str, str | None]]:
    """(message, line, level) of records the table left unclassified, as the engines read them:
    the line capped and cleaned, the prefix parsed off, the first line of what follows. Blank
    messages (a rule cannot tell them apart) and records without a line are left out."""
    getters = tuple(tuple(path.split(".")) for path in options.message_fields)
    for record in records:
        line = message_at(record, getters)
        if line is None:
            continue
        text = cap_text(readable(line, from_bytes), options.max_message_bytes)
        message, level, _ = parse_line(text)
        if not message.strip():
            continue
        yield (first_line(message) if "\n" in message else message), text, level
