"""Pure-Python Dockerfile analysis: find the images a Dockerfile consumes and rewrite them.

Used to discover dependencies between docker_build targets (image A's Dockerfile says
``FROM B``) and to inject the freshly built tag of B into A's Dockerfile, like Tilt does.
This is deliberately a small line-based scanner, not a full BuildKit parser: it only
needs to understand FROM, COPY --from and global ARG (and to skip heredoc bodies).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping

__all__ = ["ImageRef", "RefIndex", "parse_image_refs", "rewrite_image_refs", "ref_name", "ref_matches"]


@dataclass(frozen=True)
class ImageRef:
    """An image a Dockerfile builds on (FROM) or copies from (COPY --from)."""

    ref: str  # after ARG substitution
    line: int  # 1-based line where the instruction starts
    kind: str  # "FROM" or "COPY --from"


# Docker's reference grammar (distribution/reference), so malformed refs are dropped like Tilt does.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
           r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_REF_RE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
# A token is a run of non-space chars; quoted sections may contain spaces (e.g. ARG A="x y").
_TOKEN_RE = re.compile(r"""(?:"[^"]*"|'[^']*'|\S)+""")
_DOLLAR_RE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{)")
_BRACE_BODY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$", re.S)


@dataclass(frozen=True)
class _Hit:
    """Where an ImageRef was found, so it can be rewritten in place."""

    image: ImageRef
    start: int  # index of the first physical line of the instruction
    end: int  # index of the last physical line of the instruction
    logical: str  # instruction text with continuations joined
    span: tuple[int, int]  # where the ref token sits inside `logical`
    prefix: str  # text to keep in front of the new ref inside the span ("--from=" or "")


def _is_blank_or_comment(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


def _escape_char(lines: list[str]) -> str:
    # Parser directives are only honoured at the very top, before any other line (even a comment).
    escape = "\\"
    for line in lines:
        m = _DIRECTIVE_RE.match(line.removesuffix("\r").lstrip("\ufeff"))
        if m is None:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
    return escape


def _instructions(lines: list[str], escape: str) -> Iterator[tuple[int, int, str]]:
    """Yield (first line index, last line index, logical text) for each instruction."""
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    i = 0
    while i < len(lines):
        if _is_blank_or_comment(lines[i]):
            i += 1
            continue
        start = end = i
        parts: list[str] = []
        text = lines[i].removesuffix("\r")
        while True:
            m = cont.search(text)
            if m is None:
                parts.append(text)
                break
            parts.append(text[: m.start()])
            i += 1
            # BuildKit drops blank and comment lines inside a continued instruction.
            while i < len(lines) and _is_blank_or_comment(lines[i]):
                i += 1
            if i >= len(lines):
                break
            end = i
            text = lines[i].removesuffix("\r")
        logical = "".join(parts)
        yield start, end, logical
        i = _skip_heredoc_bodies(lines, end + 1, logical)


# BuildKit heredocs (`RUN <<EOF`, `COPY <<-"EOT" /dst`): the body lines that
# follow belong to the instruction and are never instructions themselves.
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC_RE = re.compile(r"""^\d*<<(-?)(["']?)([^"'<>\s]+)\2$""")


def _heredocs(logical: str) -> list[tuple[str, bool]]:
    """(delimiter, strip leading tabs) for each heredoc the instruction opens, in order."""
    words = _TOKEN_RE.findall(logical)
    if not words or words[0].lstrip("\ufeff").upper() not in _HEREDOC_KEYWORDS:
        return []
    found = []
    for word in words[1:]:
        m = _HEREDOC_RE.match(word)
        if m:
            found.append((m.group(3), m.group(1) == "-"))
    return found


def _skip_heredoc_bodies(lines: list[str], i: int, logical: str) -> int:
    for delimiter, strip_tabs in _heredocs(logical):
        while i < len(lines):
            body_line = lines[i].removesuffix("\r")
            i += 1
            if (body_line.lstrip("\t") if strip_tabs else body_line) == delimiter:
                break
    return i


def _expand(word: str, env: Mapping[str, str], escape: str) -> str:
    """Shell-like word expansion as BuildKit does for FROM: quotes removed, $VAR / ${VAR...} substituted."""
    out: list[str] = []
    i, n, in_dq = 0, len(word), False
    while i < n:
        c = word[i]
        if c == escape and i + 1 < n:
            out.append(word[i + 1])
            i += 2
        elif c == '"':
            in_dq = not in_dq
            i += 1
        elif c == "'" and not in_dq:
            j = word.find("'", i + 1)
            j = n if j < 0 else j
            out.append(word[i + 1 : j])
            i = j + 1
        elif c == "$":
            value, i = _dollar(word, i, env, escape)
            out.append(value)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _dollar(word: str, i: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    m = _DOLLAR_RE.match(word, i)
    if m is None:
        return "$", i + 1
    if m.group(1):
        return env.get(m.group(1), ""), m.end()
    depth, j = 1, m.end()
    while j < len(word) and depth:  # find the matching brace so ${A:-${B}} nests
        depth += {"{": 1, "}": -1}.get(word[j], 0)
        j += 1
    body = word[m.end() : j - 1 if depth == 0 else j]
    bm = _BRACE_BODY_RE.match(body)
    if bm is None:
        return "", j  # bad substitution: Docker errors, we substitute nothing
    name, op, arg = bm.groups()
    value = env.get(name)
    if op is None:
        return value or "", j
    # Without ':' only "unset" counts as missing; with ':' empty counts too.
    is_set = value is not None and (value != "" or not op.startswith(":"))
    if op.endswith("-"):
        return (value if is_set else _expand(arg, env, escape)) or "", j
    if op.endswith("+"):
        return (_expand(arg, env, escape) if is_set else ""), j
    return value or "", j  # ${VAR:?msg}: Docker would fail when unset; we just substitute


def _unquote(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'" else s


def _scan(contents: str, build_args: Mapping[str, str] | None) -> tuple[list[str], list[_Hit]]:
    lines = contents.split("\n")  # split on "\n" only, so "\r" and odd separators survive untouched
    escape = _escape_char(lines)
    build_args = build_args or {}
    env: dict[str, str] = {}  # global ARGs, only those declared before the first FROM
    stages: set[str] = set()
    seen_from = False
    hits: list[_Hit] = []
    for start, end, logical in _instructions(lines, escape):
        toks = [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(logical)]
        if not toks:
            continue
        keyword = toks[0][0].lstrip("\ufeff").upper()
        hit: tuple[str, str, tuple[int, int], str] | None = None  # (ref, kind, span, prefix)
        if keyword == "ARG" and not seen_from:
            for tok, _, _ in toks[1:]:
                key, eq, default = tok.partition("=")
                if key in build_args:  # build args override the Dockerfile's defaults
                    env[key] = build_args[key]
                elif eq:
                    env[key] = _expand(default, env, escape)
        elif keyword == "FROM":
            seen_from = True
            k = 1
            while k < len(toks) and toks[k][0].startswith("--"):  # --platform=...
                k += 1
            if k < len(toks):
                ref = _expand(toks[k][0], env, escape)
                if ref.lower() != "scratch" and ref.lower() not in stages:
                    hit = (ref, "FROM", (toks[k][1], toks[k][2]), "")
                if k + 2 < len(toks) and toks[k + 1][0].lower() == "as":
                    stages.add(toks[k + 2][0].lower())
        elif keyword == "COPY":
            k = 1
            while k < len(toks) and toks[k][0].startswith("--") and hit is None:
                tok, s, e = toks[k]
                flag, eq, val = tok.partition("=")
                if flag.lower() == "--from" and eq:
                    hit = (val, "COPY --from", (s, e), flag + "=")
                elif flag.lower() == "--from" and k + 1 < len(toks):
                    k += 1
                    hit = (toks[k][0], "COPY --from", (toks[k][1], toks[k][2]), "")
                k += 1
            if hit is not None:
                # Decision: expand --from with global ARGs too (newer BuildKit expands it).
                ref = _expand(_unquote(hit[0]), env, escape)
                skip = ref.isdigit() or ref.lower() in stages  # stage index or stage name
                hit = None if skip else (ref, hit[1], hit[2], hit[3])
        if hit is not None and _REF_RE.match(hit[0]):  # drop empty/malformed refs, as Tilt does
            image = ImageRef(ref=hit[0], line=start + 1, kind=hit[1])
            hits.append(_Hit(image, start, end, logical, hit[2], hit[3]))
    return lines, hits


def parse_image_refs(contents: str, build_args: Mapping[str, str] | None = None) -> list[ImageRef]:
    """Every image a Dockerfile consumes via FROM or COPY --from (stage names, indices, scratch skipped)."""
    return [h.image for h in _scan(contents, build_args)[1]]


def rewrite_image_refs(
    contents: str,
    replacements: Callable[[str], str | None],
    build_args: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    """Replace refs for which replacements(ref) returns a string; untouched lines stay byte-identical."""
    lines, hits = _scan(contents, build_args)
    count = 0
    for h in reversed(hits):  # back to front so earlier line indices stay valid
        new = replacements(h.image.ref)
        s, e = h.span
        if new is None or h.prefix + new == h.logical[s:e]:  # nothing would change
            continue
        text = h.logical[:s] + h.prefix + new + h.logical[e:]
        cr = "\r" if lines[h.end].endswith("\r") else ""
        lines[h.start : h.end + 1] = [text + cr]  # continued instructions collapse onto one line
        count += 1
    return "\n".join(lines), count


@functools.lru_cache(maxsize=65536)
def _split(ref: str) -> tuple[str, str | None, str | None] | None:
    m = _REF_RE.match(ref)
    return (m.group("name"), m.group("tag"), m.group("digest")) if m else None


def ref_name(ref: str) -> str:
    """Repository part of a ref, without tag or digest (a registry port is not a tag)."""
    parts = _split(ref)
    if parts is not None:
        return parts[0]
    base = ref.split("@", 1)[0]  # malformed: best effort
    slash = base.rfind("/")
    colon = base.rfind(":")
    return base[:colon] if colon > slash else base


@functools.lru_cache(maxsize=65536)
def _normalize(name: str) -> str:
    # Mirrors docker's splitDockerDomain: the first component is a registry only if it looks like one.
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost" and first == first.lower()):
        first, rest = "docker.io", name
    if first == "index.docker.io":
        first = "docker.io"
    if first == "docker.io" and "/" not in rest:
        rest = "library/" + rest
    return f"{first}/{rest}"


def ref_matches(selector: str, ref: str, exact: bool = False) -> bool:
    """Tilt RefSelector: untagged selector matches by name (any tag/digest); tagged selector matches exactly.
    `exact` (Tilt's WithExactMatch, for images sharing a name): untagged matches untagged only."""
    sel, got = _split(selector), _split(ref)
    if sel is None or got is None:
        return False
    if _normalize(sel[0]) != _normalize(got[0]):
        return False
    if sel[1] is None and not exact:
        return True
    # Exact match compares the full reference, as Tilt's matchExact compares ref.String().
    return sel[1:] == got[1:]


class RefIndex:
    """`ref_matches` against many selectors at once (docker_build refs, in
    declaration order): selectors are grouped by normalized name, so looking
    up an image costs one parse and a dict lookup, not a regex per selector.
    Assembly of hundreds of images and objects stays linear."""

    def __init__(self, selectors: Iterable[str], exact: Callable[[str], bool] = lambda _s: False) -> None:
        self._by_name: dict[str, list[tuple[str, str | None, str | None, bool]]] = {}
        for selector in selectors:
            parts = _split(selector)
            if parts is not None:
                self._by_name.setdefault(_normalize(parts[0]), []).append(
                    (selector, parts[1], parts[2], exact(selector)))

    def matches(self, ref: str) -> list[str]:
        """The selectors `ref` matches, in declaration order."""
        got = _split(ref)
        if got is None:
            return []
        return [selector for selector, tag, digest, exact in self._by_name.get(_normalize(got[0]), ())
                if (tag is None and not exact) or (tag, digest) == got[1:]]

    def first(self, ref: str) -> str | None:
        found = self.matches(ref)
        return found[0] if found else None
