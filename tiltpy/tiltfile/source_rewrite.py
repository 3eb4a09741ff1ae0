"""What starlark-go (Tilt's interpreter) takes and starlark-pyo3's parser does
not, rewritten before parsing:

- `while` loops (Tilt's dialect allows them, with recursion). Each
  `while COND:` becomes `for _ in range(2147483647):` with `if not (COND):
  break` as the first statement of its body: the same iterations, `break`
  and `continue` semantics. That adds a line per loop.
- tabs in indentation (starlark-rust refuses them); expanded to the next
  multiple of 8 columns, as Go's scanner counts them.

The loader keeps a LineMap per rewritten file, and error messages are mapped
back to the user's lines, columns and text."""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

_LOOP_HEADER = "for _tiltpy_while in range(2147483647):"


@dataclass
class LineMap:
    """Transformed line number -> the user's line (1-based)."""

    original_lines: list[str]
    origin: list[int] = field(default_factory=list)  # origin[t - 1] = user's line of transformed line t
    column_shift: dict[int, int] = field(default_factory=dict)  # inserted check lines: transformed col - user's col

    def line(self, transformed: int) -> int:
        if 1 <= transformed <= len(self.origin):
            return self.origin[transformed - 1]
        return transformed

    def text(self, transformed: int) -> str:
        line = self.line(transformed)
        return self.original_lines[line - 1] if 1 <= line <= len(self.original_lines) else ""


def translate(source: str) -> tuple[str, LineMap | None]:
    """The source rewritten, and its LineMap (None when nothing needed
    rewriting, or the source does not tokenize: the interpreter then reports
    the syntax error itself)."""
    if "while" not in source and "\t" not in source:
        return source, None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source, None
    original_lines = source.split("\n")
    tab_shift: dict[int, int] = {}
    if "\t" in source:
        source, tab_shift = _expand_indentation_tabs(original_lines, tokens)
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            return source, None
    loops = _find_loops(tokens)
    if loops:
        source, line_map = _rewrite(source, loops)
    elif tab_shift:
        line_map = LineMap(original_lines=original_lines, origin=list(range(1, len(original_lines) + 1)))
    else:
        return source, None
    line_map.original_lines = original_lines
    for t_line, row in enumerate(line_map.origin, start=1):
        if row in tab_shift:
            line_map.column_shift[t_line] = line_map.column_shift.get(t_line, 0) + tab_shift[row]
    return source, line_map


def _expand_indentation_tabs(lines: list[str], tokens: list[tokenize.TokenInfo]) -> tuple[str, dict[int, int]]:
    """Leading tabs become spaces (to the next multiple of 8), except on lines
    that continue a multi-line string."""
    in_string = {row for tok in tokens if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]
                 for row in range(tok.start[0] + 1, tok.end[0] + 1)}
    out, shift = [], {}
    for row, line in enumerate(lines, start=1):
        indent = line[:len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and row not in in_string:
            expanded = indent.expandtabs(8)
            shift[row] = len(expanded) - len(indent)
            line = expanded + line[len(indent):]
        out.append(line)
    return "\n".join(out), shift


@dataclass
class _Loop:
    """A `while` loop found in the source, to rewrite."""

    row: int  # line of `while`
    col: int
    cond_start: tuple[int, int]
    cond_end: tuple[int, int]
    colon_end: tuple[int, int]
    body_indent: str | None  # indentation of the body block; None: body on the header line


_STATEMENT_START = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


def _find_loops(tokens: list[tokenize.TokenInfo]) -> list[_Loop]:
    loops = []
    previous = tokenize.NEWLINE
    for i, tok in enumerate(tokens):
        at_start = previous in _STATEMENT_START or i == 0
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.type
        if not (at_start and tok.type == tokenize.NAME and tok.string == "while"):
            continue
        depth = 0
        j = i + 1
        while j < len(tokens):
            t = tokens[j]
            if t.type == tokenize.OP and t.string in "([{":
                depth += 1
            elif t.type == tokenize.OP and t.string in ")]}":
                depth -= 1
            elif t.type == tokenize.OP and t.string == ":" and depth == 0:
                break
            j += 1
        if j >= len(tokens) or j == i + 1:
            continue
        colon = tokens[j]
        body_indent = None
        following = [t for t in tokens[j + 1:] if t.type not in (tokenize.NL, tokenize.COMMENT)]
        if following and following[0].type == tokenize.NEWLINE:
            if len(following) > 1 and following[1].type == tokenize.INDENT:
                body_indent = following[1].string
            else:
                continue  # not a valid block: leave it to the interpreter's error
        loops.append(_Loop(tok.start[0], tok.start[1], tokens[i + 1].start, tokens[j - 1].end, colon.end,
                           body_indent))
    return loops


def _slice(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (r1, c1), (r2, c2) = start, end
    if r1 == r2:
        return lines[r1 - 1][c1:c2]
    parts = [lines[r1 - 1][c1:]] + lines[r1:r2 - 1] + [lines[r2 - 1][:c2]]
    return " ".join(_without_comment(p).strip() for p in parts)


def _without_comment(line: str) -> str:
    # Only for continuation lines of a multi-line condition; a '#' inside a
    # string there is rare enough to accept a wrong join (the loop then fails
    # to parse, with the message pointing at the `while`).
    return re.sub(r"#.*$", "", line)


def _rewrite(source: str, loops: list[_Loop]) -> tuple[str, LineMap]:
    lines = source.split("\n")
    by_row = {loop.row: loop for loop in loops}
    out: list[str] = []
    line_map = LineMap(original_lines=lines)
    row = 1
    while row <= len(lines):
        loop = by_row.get(row)
        if loop is None:
            out.append(lines[row - 1])
            line_map.origin.append(row)
            row += 1
            continue
        line = lines[row - 1]
        indent = line[:loop.col]
        cond = _slice(lines, loop.cond_start, loop.cond_end)
        end_row, end_col = loop.colon_end
        rest = lines[end_row - 1][end_col:]
        out.append(indent + _LOOP_HEADER + (rest if loop.body_indent is not None else ""))
        line_map.origin.append(row)
        # Lines of a multi-line condition stay, empty, so later lines keep their numbers.
        for r in range(row + 1, end_row + 1):
            out.append("")
            line_map.origin.append(r)
        body_indent = loop.body_indent if loop.body_indent is not None else indent + "    "
        check_prefix = body_indent + "if not ("
        out.append(check_prefix + cond + "): break")
        line_map.origin.append(row)
        line_map.column_shift[len(out)] = len(check_prefix) - loop.cond_start[1]
        if loop.body_indent is None:
            out.append(body_indent + rest.strip())
            line_map.origin.append(end_row)
        row = end_row + 1
    return "\n".join(out), line_map


_ARROW = re.compile(r"^(\s*--> )(.+?):(\d+):(\d+)(.*)$")
_FRAME = re.compile(r"^(\s*\* )(.+?):(\d+)(, in .*)$")
_GUTTER = re.compile(r"^(\s*)(\d+)( \| ?)(.*)$")
_CARET = re.compile(r"^(\s*\| ?)(\s*)(\^+.*)$")


def remap_error(text: str, maps: dict[str, LineMap]) -> str:
    """The interpreter's error text with line numbers, source lines and
    carets of rewritten files put back to what the user wrote."""
    if not maps:
        return text
    out: list[str] = []
    current: LineMap | None = None  # the file of the last `-->` or `*` line
    last_shift = 0
    frame_source_next = False
    frame_line = 0
    for line in text.split("\n"):
        if frame_source_next:
            frame_source_next = False
            if current is not None and line.strip():
                indent = line[:len(line) - len(line.lstrip())]
                out.append(indent + current.text(frame_line).strip())
                continue
        match = _ARROW.match(line)
        if match:
            current = maps.get(match.group(2))
            if current is not None:
                t_line, col = int(match.group(3)), int(match.group(4))
                shift = current.column_shift.get(t_line, 0)
                line = f"{match.group(1)}{match.group(2)}:{current.line(t_line)}:{max(1, col - shift)}{match.group(5)}"
            out.append(line)
            continue
        match = _FRAME.match(line)
        if match:
            current = maps.get(match.group(2))
            if current is not None:
                frame_line = int(match.group(3))
                line = f"{match.group(1)}{match.group(2)}:{current.line(frame_line)}{match.group(4)}"
                frame_source_next = True
            out.append(line)
            continue
        if current is not None:
            match = _GUTTER.match(line)
            if match:
                t_line = int(match.group(2))
                last_shift = current.column_shift.get(t_line, 0)
                number = str(current.line(t_line)).rjust(len(match.group(2)))
                out.append(f"{match.group(1)}{number}{match.group(3)}{current.text(t_line)}")
                continue
            match = _CARET.match(line)
            if match and last_shift:
                spaces = match.group(2)[:max(0, len(match.group(2)) - last_shift)]
                out.append(f"{match.group(1)}{spaces}{match.group(3)}")
                continue
        out.append(line)
    return "\n".join(out)
