"""Docker's .dockerignore semantics, ported from moby/patternmatcher, moby's ignorefile and
the Docker CLI's build-context walk (archive.TarWithOptions), plus Tilt's composition of
.dockerignore, ignore= and only= for an image build context."""
from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Sequence

_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)
_REGEX_META = frozenset(".+()|{}$")  # regex specials with no glob meaning: patternmatcher escapes them
# Letter escapes pass through patternmatcher into Go's RE2; these mean the same in Python (re.ASCII).
_LETTER_ESCAPES = {c: "\\" + c for c in "dDsSwWbBAafnrtvx"} | {"z": r"\Z"}
_POSIX_CLASSES = {  # RE2 understands [[:name:]] inside a class; Python's re does not
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": r"\x00-\x7f", "blank": r"\t ",
    "cntrl": r"\x00-\x1f\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": r"!-/:-@\[-`{-~", "space": r"\t\n\v\f\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f"}


def _clean(p: str) -> str:
    """Go's filepath.Clean: normpath, except that POSIX lets normpath keep a leading '//'."""
    p = posixpath.normpath(p)
    return p[1:] if p.startswith("//") else p


def _normalize(line: str) -> str:
    """ignorefile.ReadAll's per-line rule: trim, Clean, drop a leading '/', keep the '!'."""
    p = line.strip()
    invert = p.startswith("!")
    if invert:
        p = p[1:].strip()
    if p:
        p = _clean(p)
        if len(p) > 1 and p[0] == "/":
            p = p[1:]
    return "!" + p if invert else p


def _check_syntax(p: str) -> None:
    """The errors Go's filepath.Match reports, which patternmatcher.New uses as its syntax check."""
    n, i = len(p), 0

    def esc(j: int) -> int:  # filepath.getEsc: one (possibly escaped) class char, more must follow
        if j >= n or p[j] in "-]":
            raise ValueError(f"bad pattern {p!r}")
        j += 2 if p[j] == "\\" else 1
        if j >= n:
            raise ValueError(f"bad pattern {p!r}")
        return j

    while i < n:
        c, i = p[i], i + 1
        if c == "\\":
            if i >= n:
                raise ValueError(f"bad pattern {p!r}: trailing backslash")
            i += 1
        elif c == "[":
            i += p.startswith("^", i)
            items = 0
            while not (i < n and p[i] == "]" and items):
                i = esc(i)
                if p[i] == "-":
                    i = esc(i + 1)
                items += 1
            i += 1


def _to_python_regex(rx: str) -> str:
    """Adapt the RE2 text patternmatcher builds to Python's re: POSIX classes, '[' and set
    operators inside classes, and the letter escapes both engines share."""
    out: list[str] = []
    i, n, in_class, class_first = 0, len(rx), False, False
    while i < n:
        c = rx[i]
        if c == "\\" and i + 1 < n:
            e, i = rx[i + 1], i + 2
            if e.isalnum() and e not in _LETTER_ESCAPES:
                raise ValueError(f"unsupported escape \\{e} (Go's RE2 rejects or treats it specially)")
            out.append(_LETTER_ESCAPES.get(e, "\\" + e))
            class_first = False
            continue
        i += 1
        if not in_class:
            if c == "[":  # RE2, like Python, takes a ']' right after '[' or '[^' literally
                in_class, class_first = True, True
                c, i = ("[^", i + 1) if rx.startswith("^", i) else (c, i)
            out.append(c)
            continue
        m = re.match(r"\[:(\^?)(\w+):\]", rx[i - 1:])
        if m:
            if m.group(1) or m.group(2) not in _POSIX_CLASSES:  # RE2 rejects unknown names
                raise ValueError(f"unsupported character class {m.group(0)}")
            out.append(_POSIX_CLASSES[m.group(2)])
            i += len(m.group(0)) - 1
        elif c == "]" and not class_first:
            in_class = False
            out.append(c)
        else:
            out.append("\\" + c if c in "[&~|" else c)
        class_first = False
    return "".join(out)


class _Pattern:
    """One compiled pattern (patternmatcher's Pattern); compiled once, at construction."""

    __slots__ = ("text", "exclusion", "kind", "regex")

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text, self.exclusion = text, exclusion
        _check_syntax(text)
        # Port of Pattern.compile: a literal pattern stays an exact/prefix/suffix string test.
        kind, rx, i, n = _EXACT, [], 0, len(text)
        while i < n:
            first, ch = i == 0, text[i]
            i += 1
            if ch == "*" and text.startswith("*", i):
                i += 1
                i += text.startswith("/", i)  # "**/" behaves as "**"
                if i < n:  # "**" spans any number of directories, including zero
                    kind = _REGEX
                    rx.append("(.*/)?")
                elif kind == _EXACT:  # trailing "**" accepts everything below, like .gitignore
                    kind = _PREFIX
                else:
                    kind = _REGEX
                    rx.append(".*")
                if first:  # Go's quirk: a leading "**" makes it a plain suffix test
                    kind = _SUFFIX
            elif ch in "*?":  # neither crosses a '/'
                kind = _REGEX
                rx.append("[^/]*" if ch == "*" else "[^/]")
            elif ch in _REGEX_META:
                rx.append("\\" + ch)
            elif ch == "\\":  # never trailing: _check_syntax rejects that
                kind = _REGEX
                rx.append("\\" + text[i])
                i += 1
            else:
                rx.append(ch)
                kind = _REGEX if ch in "[]" else kind
        self.kind, self.regex = kind, None
        if kind == _REGEX:
            try:  # Docker fails the build on a regexp that RE2 can't compile; so do we, earlier
                self.regex = re.compile(_to_python_regex("".join(rx)), re.ASCII)
            except re.error as e:
                raise ValueError(f"bad pattern {text!r}: {e}") from None

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]  # "**/foo" also matches "foo" itself
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None  # fullmatch: Go's '$' never matches before '\n'


_Info = list[bool]  # patternmatcher.MatchInfo: which patterns matched the parent directory


def _match_group(group: list[_Pattern], path: str, parent: _Info | None) -> tuple[bool, _Info]:
    """MatchesUsingParentResults; with parent=None it is exactly MatchesOrParentMatches."""
    matched, info = False, [False] * len(group)
    dirs = path.split("/")[:-1]
    for k, pat in enumerate(group):
        match = parent[k] if parent else False
        if not match:
            if pat.exclusion != matched:
                continue  # can't change the outcome; like Go, it is then not recorded in info
            match = pat.match(path)
            if not match and parent is None:  # a pattern matching a parent dir excludes the path
                match = any(pat.match("/".join(dirs[: j + 1])) for j in range(len(dirs)))
        info[k] = match
        if match:
            matched = not pat.exclusion
    return matched, info


class PatternMatcher:
    """A .dockerignore pattern list. Tilt ORs several lists (.dockerignore, ignore=, only=):
    a path is excluded if any list excludes it, so each list is kept as its own group."""

    def __init__(self, patterns: Sequence[str]) -> None:
        group: list[_Pattern] = []
        for raw in patterns:
            # ReadAll isn't idempotent ('/!x' -> the exception '!x'), so its output isn't redone.
            p = (raw if isinstance(raw, _ReadAllPattern) else _normalize(raw)).strip()
            if not p:
                continue
            p = _clean(p)  # New() cleans again, '!' included: "!/" becomes the illegal "!"
            if p == "!":
                raise ValueError('illegal exclusion pattern: "!"')
            group.append(_Pattern(p[1:], True) if p[0] == "!" else _Pattern(p, False))
        self._groups = [group] if group else []

    @classmethod
    def union(cls, matchers: Sequence[PatternMatcher]) -> PatternMatcher:
        """A matcher that excludes a path when any of `matchers` does (Tilt's CompositeMatcher)."""
        out = cls(())
        out._groups = [g for m in matchers for g in m._groups]
        return out

    @property
    def patterns(self) -> list[str]:
        return [("!" if p.exclusion else "") + p.text for g in self._groups for p in g]

    def exclusions(self) -> bool:
        return any(p.exclusion for g in self._groups for p in g)

    def matches(self, rel_path: str) -> bool:
        path = _clean(rel_path)
        if path == ".":
            return False  # "don't let them exclude everything"
        return any(_match_group(g, path, None)[0] for g in self._groups)

    def can_skip_dir(self, rel_dir: str) -> bool:
        """True when nothing below this directory can be in the context, so a
        walker or a file watcher need not descend into it."""
        path = _clean(rel_dir)
        if path == ".":
            return False
        return any(_match_group(g, path, None)[0] and _prunable(g, path) for g in self._groups)


def _prunable(group: list[_Pattern], rel_dir: str) -> bool:
    """TarWithOptions' test for skipping an excluded dir: only an exception whose text starts
    with '<dir>/' keeps it open, so '!**/keep.js' does NOT rescue files below it."""
    return not any(p.exclusion and (p.text + "/").startswith(rel_dir + "/") for p in group)


class _ReadAllPattern(str):
    """A line already normalized by read_dockerignore."""


def read_dockerignore(path: str) -> list[str]:
    """ignorefile.ReadAll: BOM stripped, '#' comments only at column 0, '!' kept."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().removeprefix("\ufeff").split("\n")
    except FileNotFoundError:
        return []
    return [_ReadAllPattern(p) for p in (_normalize(l) for l in lines if not l.startswith("#")) if p]


def context_matcher(context_dir: str, dockerfile_path: str | None = None,
                    ignore: Sequence[str] = (), only: Sequence[str] = ()) -> PatternMatcher:
    """Tilt's build-context filter: ignore=, only= ('**' then '!<path>' each), the
    `<dockerfile>.dockerignore` if it exists else `<context>/.dockerignore`, and '.git'.
    A relative dockerfile_path is taken relative to context_dir."""
    di_file = os.path.join(context_dir, ".dockerignore")
    if dockerfile_path:
        custom = os.path.join(context_dir, dockerfile_path) + ".dockerignore"
        di_file = custom if os.path.exists(custom) else di_file
    # only= paths may also come absolute (Tilt resolves them against the Tiltfile's dir).
    only_rel = [os.path.relpath(p, context_dir) if os.path.isabs(p) else p for p in only]
    groups = [PatternMatcher(ignore), PatternMatcher(["**", *(f"!{p}" for p in only_rel)] if only else ()),
              PatternMatcher(read_dockerignore(di_file)), PatternMatcher([".git"])]
    return PatternMatcher.union(groups)


def walk_context(context_dir: str, matcher: PatternMatcher) -> list[str]:
    """Sorted '/'-separated paths of the files and symlinks (never followed) Docker would send,
    walking like the CLI's TarWithOptions: each entry is matched using its parent dir's
    results, and an excluded dir is skipped unless an exception's text starts with '<dir>/'."""
    groups = matcher._groups
    result: list[str] = []
    stack: list[tuple[str, str, list[_Info] | None]] = [(context_dir, "", None)]
    while stack:
        abs_dir, rel_dir, infos = stack.pop()
        with os.scandir(abs_dir) as it:
            entries = list(it)
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            res = [_match_group(g, rel, infos[k] if infos else None) for k, g in enumerate(groups)]
            excluded = any(m for m, _ in res)
            if e.is_dir(follow_symlinks=False):
                if not any(m and _prunable(g, rel) for (m, _), g in zip(res, groups)):
                    stack.append((e.path, rel, [info for _, info in res]))
            elif not excluded and (e.is_file(follow_symlinks=False) or e.is_symlink()):
                result.append(rel)
    return sorted(result)
