from __future__ import annotations

import pytest

from tiltpy.image.dockerfile import ImageRef, RefIndex, parse_image_refs, ref_matches, ref_name, rewrite_image_refs


def refs(contents: str, build_args: dict[str, str] | None = None) -> list[str]:
    return [r.ref for r in parse_image_refs(contents, build_args)]


# --- basic parsing -----------------------------------------------------------------------------


def test_simple_from_with_line_and_kind() -> None:
    df = "# a comment\n\nFROM node:18\nRUN echo hi\n"
    assert parse_image_refs(df) == [ImageRef(ref="node:18", line=3, kind="FROM")]


def test_case_insensitive_keywords_and_comments() -> None:
    df = "  # FROM commented-out\nfrom alpine:3\ncopy --FROM=busybox /bin/sh /sh\n"
    assert parse_image_refs(df) == [
        ImageRef("alpine:3", 2, "FROM"),
        ImageRef("busybox", 3, "COPY --from"),
    ]


def test_scratch_skipped() -> None:
    assert refs("FROM scratch\nCOPY app /app\n") == []


def test_empty_and_malformed_skipped() -> None:
    assert refs("") == []
    assert refs("FROM\nFROM Not/Valid:Ref!\n") == []


# --- ARG substitution --------------------------------------------------------------------------


def test_arg_default() -> None:
    assert refs("ARG BASE=node:18\nFROM $BASE\n") == ["node:18"]
    assert refs("ARG REG=gcr.io/x\nARG TAG=1\nFROM ${REG}/app:${TAG}\n") == ["gcr.io/x/app:1"]


def test_build_args_override_default() -> None:
    df = "ARG BASE=node:18\nFROM ${BASE}\n"
    assert refs(df, {"BASE": "node:20"}) == ["node:20"]
    assert refs("ARG BASE\nFROM $BASE\n", {"BASE": "python:3.12"}) == ["python:3.12"]


def test_build_arg_feeds_later_default() -> None:
    df = "ARG TAG=1\nARG IMAGE=app:$TAG\nFROM $IMAGE\n"
    assert refs(df, {"TAG": "2"}) == ["app:2"]


def test_default_and_alternative_forms() -> None:
    assert refs("FROM ${BASE:-debian:12}\n") == ["debian:12"]
    assert refs("ARG BASE=alpine\nFROM ${BASE:-debian}\n") == ["alpine"]
    assert refs("ARG V=1\nFROM app${V:+:v$V}\n") == ["app:v1"]
    assert refs("FROM app${V:+:v$V}\n") == ["app"]
    assert refs("ARG E=\nFROM ${E:-fallback}\n") == ["fallback"]
    assert refs("FROM ${A:-${B:-nested}}\n") == ["nested"]


def test_unset_var_substitutes_empty() -> None:
    assert refs("FROM myrepo/app:$UNSET\n") == []  # "myrepo/app:" is malformed -> dropped
    assert refs("FROM myrepo/app$UNSET\n") == ["myrepo/app"]
    assert refs("FROM $UNSET\n") == []


def test_arg_after_from_not_used_for_from() -> None:
    df = "FROM alpine AS one\nARG BASE=node:18\nFROM ${BASE:-busybox}\n"
    assert refs(df) == ["alpine", "busybox"]


def test_undeclared_build_arg_not_used() -> None:
    # Docker only consumes build args that are declared with a global ARG.
    assert refs("FROM ${BASE:-busybox}\n", {"BASE": "node"}) == ["busybox"]


# --- multi-stage ------------------------------------------------------------------------------


def test_multistage_stage_names_and_indices_skipped() -> None:
    df = (
        "FROM golang:1.22 AS builder\n"
        "RUN go build\n"
        "FROM builder AS again\n"
        "FROM gcr.io/distroless/base\n"
        "COPY --from=builder /out /out\n"
        "COPY --from=0 /out /out2\n"
        "COPY --from=some-image /etc/x /etc/x\n"
        "COPY --chown=1:1 --from registry:5000/tools:1 /bin/t /bin/t\n"
    )
    assert parse_image_refs(df) == [
        ImageRef("golang:1.22", 1, "FROM"),
        ImageRef("gcr.io/distroless/base", 4, "FROM"),
        ImageRef("some-image", 7, "COPY --from"),
        ImageRef("registry:5000/tools:1", 8, "COPY --from"),
    ]


def test_stage_names_case_insensitive_and_as_case_insensitive() -> None:
    df = "FROM alpine as Build\nFROM BUILD\nCOPY --from=build /a /a\nFROM base As x\nFROM X\n"
    assert refs(df) == ["alpine", "base"]


def test_later_stage_name_is_not_earlier() -> None:
    # "foo" is only a stage *after* this instruction, so here it is an image.
    assert refs("FROM foo AS foo\nCOPY --from=foo /a /a\n") == ["foo"]


def test_copy_from_quoted() -> None:
    assert refs('FROM a\nCOPY --from="vandelay/common" /x /y\n') == ["a", "vandelay/common"]


def test_platform_flag() -> None:
    df = "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM --platform=linux/amd64 alpine\n"
    assert refs(df) == ["golang:1.22", "alpine"]


# --- continuations and directives --------------------------------------------------------------


def test_continuation_lines() -> None:
    df = "FROM \\\n  node:18 \\\n  # comment inside\n\n  AS build\nCOPY \\\n --from=tools \\\n /a /b\nFROM build\n"
    assert parse_image_refs(df) == [ImageRef("node:18", 1, "FROM"), ImageRef("tools", 6, "COPY --from")]


def test_escape_directive_backtick() -> None:
    df = "# escape=`\nFROM `\n  mcr.microsoft.com/windows/servercore:ltsc2022\nCOPY C:\\src\\ C:\\dst\\\nFROM x\n"
    assert parse_image_refs(df) == [
        ImageRef("mcr.microsoft.com/windows/servercore:ltsc2022", 2, "FROM"),
        ImageRef("x", 5, "FROM"),
    ]


def test_escape_directive_only_at_top() -> None:
    # After a non-directive line, "# escape=`" is just a comment; backslash stays the escape.
    df = "# hello\n# escape=`\nFROM \\\n alpine\n"
    assert parse_image_refs(df) == [ImageRef("alpine", 3, "FROM")]


def test_crlf_line_endings() -> None:
    assert refs("ARG B=node\r\nFROM $B \\\r\n AS x\r\nCOPY --from=img /a /a\r\n") == ["node", "img"]


# --- rewriting -------------------------------------------------------------------------------


def test_rewrite_base_image_example() -> None:
    df = "FROM nodejs-express-base-image\nWORKDIR '/var/www/app'\nADD . .\n"
    new, count = rewrite_image_refs(
        df, lambda r: "nodejs-express-base-image:tilt-0123456789abcdef" if r == "nodejs-express-base-image" else None
    )
    assert count == 1
    assert new == "FROM nodejs-express-base-image:tilt-0123456789abcdef\nWORKDIR '/var/www/app'\nADD . .\n"


def test_rewrite_keeps_unrelated_lines_byte_identical() -> None:
    df = (
        "# syntax=docker/dockerfile:1\n"
        "ARG  X=1   \r\n"
        "FROM   other:1\n"
        "FROM base\t# trailing\n"
        "RUN a \\\n    && b\n"
        "   \n"
        "COPY --from=keep /a /a"  # no trailing newline
    )
    new, count = rewrite_image_refs(df, lambda r: "base:tilt-1" if r == "base" else None)
    assert count == 1
    expected = df.replace("FROM base\t# trailing\n", "FROM base:tilt-1\t# trailing\n")
    assert new == expected


def test_rewrite_keeps_alias_and_platform() -> None:
    df = "FROM --platform=linux/amd64 base AS build\nRUN x\nFROM build\n"
    new, count = rewrite_image_refs(df, lambda r: "reg/base:t" if r == "base" else None)
    assert count == 1
    assert new == "FROM --platform=linux/amd64 reg/base:t AS build\nRUN x\nFROM build\n"


def test_rewrite_copy_from_keeps_flags() -> None:
    df = 'FROM a\nCOPY --chown=1:1 --from="common" --link /src /dst\nCOPY --from other /x /y\n'
    new, count = rewrite_image_refs(df, lambda r: r + ":t")
    assert count == 3
    assert new == "FROM a:t\nCOPY --chown=1:1 --from=common:t --link /src /dst\nCOPY --from other:t /x /y\n"


def test_rewrite_arg_ref_is_substituted_then_replaced_literally() -> None:
    df = "ARG BASE=base\nFROM ${BASE} AS b\n"
    new, count = rewrite_image_refs(df, lambda r: "base:t" if r == "base" else None)
    assert (new, count) == ("ARG BASE=base\nFROM base:t AS b\n", 1)
    new, count = rewrite_image_refs(df, lambda r: "x:1" if r == "other" else None, {"BASE": "other"})
    assert (new, count) == ("ARG BASE=base\nFROM x:1 AS b\n", 1)


def test_rewrite_collapses_continuation() -> None:
    df = "FROM \\\n  base \\\n  AS b\nRUN x\n"
    new, count = rewrite_image_refs(df, lambda r: "base:t")
    assert count == 1
    assert new.splitlines()[-1] == "RUN x"
    assert parse_image_refs(new) == [ImageRef("base:t", 1, "FROM")]
    assert new.split()[:4] == ["FROM", "base:t", "AS", "b"]


def test_rewrite_no_match_is_identity() -> None:
    df = "FROM a\nCOPY --from=b /x /y\n"
    assert rewrite_image_refs(df, lambda r: None) == (df, 0)
    assert rewrite_image_refs(df, lambda r: r) == (df, 0)


def test_rewrite_with_ref_matches() -> None:
    df = "FROM gcr.io/windmill/foo:v1\nCOPY --from=vandelay/common /a /b\nFROM gcr.io/windmill/bar\n"
    new, count = rewrite_image_refs(
        df, lambda r: "gcr.io/windmill/foo:deadbeef" if ref_matches("gcr.io/windmill/foo", r) else None
    )
    assert count == 1
    assert new.startswith("FROM gcr.io/windmill/foo:deadbeef\n")


# --- ref_name / ref_matches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("foo", "foo"),
        ("foo:1.2", "foo"),
        ("localhost:5005/foo:1.2", "localhost:5005/foo"),
        ("localhost:5005/foo", "localhost:5005/foo"),
        ("foo@sha256:" + "a" * 64, "foo"),
        ("registry:5000/a/b:t@sha256:" + "b" * 64, "registry:5000/a/b"),
        ("docker.io/library/foo:latest", "docker.io/library/foo"),
    ],
)
def test_ref_name(ref: str, name: str) -> None:
    assert ref_name(ref) == name


@pytest.mark.parametrize(
    ("selector", "ref", "expected"),
    [
        ("nodejs-express-base-image", "nodejs-express-base-image", True),
        ("nodejs-express-base-image", "nodejs-express-base-image:latest", True),
        ("nodejs-express-base-image", "nodejs-express-base-image:v1", True),
        ("nodejs-express-base-image", "nodejs-express-base-image@sha256:" + "c" * 64, True),
        ("nodejs-express-base-image", "other-image", False),
        ("foo:v1", "foo:v1", True),
        ("foo:v1", "foo:v2", False),
        ("foo:v1", "foo", False),
        ("foo:latest", "foo", False),  # Tilt compares tagged selectors exactly; no implicit :latest
        ("docker.io/library/foo", "foo", True),
        ("library/foo", "foo:1", True),
        ("foo", "docker.io/library/foo:2", True),
        ("index.docker.io/library/foo", "foo", True),
        ("docker.io/library/foo:1", "library/foo:1", True),
        ("vandelay/common", "docker.io/vandelay/common", True),
        ("vandelay/common", "common", False),
        ("localhost:5005/foo", "localhost:5005/foo:tilt-1", True),
        ("localhost:5005/foo", "foo", False),
        ("localhost/foo", "foo", False),
        ("gcr.io/x/foo", "gcr.io/x/foo:v1", True),
        ("gcr.io/x/foo:v1", "gcr.io/x/foo:v1", True),
        ("not a ref", "not a ref", False),
    ],
)
def test_ref_matches(selector: str, ref: str, expected: bool) -> None:
    assert ref_matches(selector, ref) is expected


# --- heredocs ----------------------------------------------------------------------------------


def test_heredoc_body_is_not_read_as_instructions() -> None:
    df = ("FROM base\n"
          "RUN <<EOF\n"
          "FROM other-image\n"
          "echo hi\n"
          "EOF\n"
          "COPY <<-\"EOT\" /etc/conf\n"
          "\tFROM also-not-an-image\n"
          "\tEOT\n"
          "RUN cat <<A <<'B' > /x\n"
          "FROM nope-a\n"
          "A\n"
          "FROM nope-b\n"
          "B\n"
          "FROM final:1\n")
    assert parse_image_refs(df) == [ImageRef("base", 1, "FROM"), ImageRef("final:1", 14, "FROM")]


def test_heredoc_bodies_survive_a_rewrite() -> None:
    df = "FROM base\nRUN <<EOF\nFROM other-image\nEOF\nCOPY --from=base /a /a\n"
    out, count = rewrite_image_refs(df, lambda ref: "base:tilt-1234" if ref == "base" else None)
    assert count == 2
    assert out == "FROM base:tilt-1234\nRUN <<EOF\nFROM other-image\nEOF\nCOPY --from=base:tilt-1234 /a /a\n"


def test_heredoc_marker_only_in_run_copy_add() -> None:
    # `<<` in other instructions is plain text: the next line is an instruction.
    assert refs("FROM a\nLABEL x=<<EOF\nFROM b\n") == ["a", "b"]


def test_unterminated_heredoc_swallows_the_rest() -> None:
    assert refs("FROM a\nRUN <<EOF\nFROM b\n") == ["a"]


# --- RefIndex: ref_matches against many selectors at once ----------------------------------------


@pytest.mark.parametrize("selectors, ref", [
    (["app", "app:v1", "docker.io/library/app", "other", "gcr.io/x/app"], "app:v1"),
    (["app", "app:v1"], "app:v2"),
    (["app@sha256:" + "a" * 64, "localhost:5000/app"], "localhost:5000/app:t"),
    (["vandelay/app", "vandelay/app:jessie"], "vandelay/app:jessie"),
    (["Bad Ref!", "ok"], "ok:1"),
])
def test_ref_index_agrees_with_ref_matches(selectors: list[str], ref: str) -> None:
    for exact in (set(), {"app", "vandelay/app"}):
        index = RefIndex(selectors, lambda s, exact=exact: ref_name(s) in exact)
        expected = [s for s in selectors if ref_matches(s, ref, exact=ref_name(s) in exact)]
        assert index.matches(ref) == expected
        assert index.first(ref) == (expected[0] if expected else None)
