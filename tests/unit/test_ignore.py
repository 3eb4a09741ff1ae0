"""tiltpy.image.ignore against what real Docker puts in a build context.

The expected data below was recorded, not reasoned out: each scenario's tree (FILES + LINKS +
a Dockerfile) and .dockerignore was built with Docker's legacy builder (Docker Engine
20.10.24 daemon, Docker CLI 28.2.2 — with the legacy builder it is the CLI that applies
.dockerignore while tarring the context, the daemon then drops a matched Dockerfile and
.dockerignore) on 2026-11-28, using

    DOCKER_BUILDKIT=0 docker build -t img .        # Dockerfile: FROM busybox / COPY . /ctx
    docker run --rm img find /ctx ( -type f -o -type l )

and the kept paths were pasted here. test_recorded_data_still_matches_docker (marked e2e)
repeats that procedure on the testbed, with its current CLI ($TESTBED_DOCKER_CURRENT_CLI).
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tiltpy.image.ignore import PatternMatcher, context_matcher, read_dockerignore, walk_context

FILES = """x.tmp sub/x.tmp sub/deep/y.tmp a.log sub/b.log node_modules/y.js node_modules/keep.js
node_modules/lib/z.js sub/node_modules/y.js weird[1].txt weird1.txt docs/a/b/c.md docs/top.md
docs/a/notes.txt build/out.o sub/build/out.o src/main.go src/gen/z.go src/gen/keep.go
src/general.go .git/HEAD README.md sub/README.txt a.dockerfile a1.txt ab.txt b.cfg d.cfg
cache/x.bin #comment #notcomment keep.js foobar fooxbar foox/bar sub/keep/a.txt sub/other.txt
dup/f dup/g file1.txt filed.txt !x.txt ax.txt bx.txt ünï.txt *.txt A.TXT
x/y/n deep/n/inside bxy* bx1* bxyz 7.cls q.cls""".split() + ["a b.sp"]
LINKS = {"link.txt": "README.md", "srclink": "src", "node_modules/.bin/tool": "../y.js"}
DOCKERFILE = "FROM busybox\nCOPY . /ctx\n"
ALL_PATHS = sorted({*FILES, *LINKS, "Dockerfile", ".dockerignore"})

# name -> (.dockerignore text as written, sorted paths Docker kept in /ctx). Behaviour worth
# knowing, all confirmed by Docker: only a '#' in column 0 starts a comment (' #notcomment' is
# a pattern); a leading "**" is a plain suffix test ('**.tmp' hits 'sub/x.tmp'); 'foo**bar'
# is foo(.*/)?bar, so 'fooxbar' survives; '[!a]' is "'!' or 'a'" and '\d' a digit, because
# patterns become Go regexps; '/!ax.txt' turns into the exception '!ax.txt'.
SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "classic": (
        '# a comment line\n#comment\n #notcomment\n\n**.tmp\n*.log\nnode_modules\n'
        '!node_modules/keep.js\nweird\\[1\\].txt\n/build\ndocs/**/*.md\n./src/gen\n'
        '!src/gen/keep.go\n**/README*\na?.txt\n[a-c].cfg\ncache/\n   .git   \n',
        ["!x.txt", "#comment", "*.txt", ".dockerignore", "7.cls", "A.TXT", "Dockerfile",
         "a b.sp", "a.dockerfile", "bx.txt", "bx1*", "bxy*", "bxyz", "d.cfg", "deep/n/inside",
         "docs/a/notes.txt", "dup/f", "dup/g", "file1.txt", "filed.txt", "foobar", "foox/bar",
         "fooxbar", "keep.js", "link.txt", "node_modules/keep.js", "q.cls", "src/gen/keep.go",
         "src/general.go", "src/main.go", "srclink", "sub/b.log", "sub/build/out.o",
         "sub/keep/a.txt", "sub/node_modules/y.js", "sub/other.txt", "weird1.txt", "x/y/n",
         "ünï.txt"],
    ),
    "allowlist": (
        '*\n!src\n!Dockerfile\nsrc/gen\n!src/gen/keep.go\n!**/keep.js\n!docs/a\ndocs/a/b\n',
        ["Dockerfile", "docs/a/notes.txt", "keep.js", "src/gen/keep.go", "src/general.go",
         "src/main.go"],
    ),
    "quirks": (
        '**/*.md\n!docs/**\ndocs/a/b\nfoo**bar\nsub/**\n!sub/keep\ndup\n!dup/f\ndup\n'
        '*.dockerfile\nDockerfile\n.dockerignore\nfile\\d.txt\n[!a]x.txt\nsrclink/\n'
        'node_modules/.bin\n',
        ["#comment", "#notcomment", "*.txt", ".git/HEAD", "7.cls", "A.TXT", "a b.sp", "a.log",
         "a1.txt", "ab.txt", "b.cfg", "build/out.o", "bx.txt", "bx1*", "bxy*", "bxyz",
         "cache/x.bin", "d.cfg", "deep/n/inside", "docs/a/notes.txt", "docs/top.md", "dup/f",
         "filed.txt", "fooxbar", "keep.js", "link.txt", "node_modules/keep.js",
         "node_modules/lib/z.js", "node_modules/y.js", "q.cls", "src/gen/keep.go",
         "src/gen/z.go", "src/general.go", "src/main.go", "sub/keep/a.txt", "weird1.txt",
         "weird[1].txt", "x.tmp", "x/y/n", "ünï.txt"],
    ),
    "globstar": (
        '**\n!src/**/*.go\n!docs/*/b\n!**/keep.js\n!*.cfg\n!./link.txt\n',
        ["b.cfg", "d.cfg", "keep.js", "link.txt", "src/general.go", "src/main.go"],
    ),
    "misc_bom_crlf": (
        '\ufeffsub/../a.log\r\nsub/*\r\n!sub/keep*\r\n[^a-c].cfg\r\n**/node_modules\r\n'
        '!**/node_modules/keep.js\r\ndocs/*/*/c.md\r\nsrc/gen/\r\n!src/gen\r\nün?.txt\r\n'
        '\\*.txt\r\n*.TXT\r\n  ! ./src/gen/z.go  \r\n*x.txt\r\n/!ax.txt\r\n',
        ["#comment", "#notcomment", ".dockerignore", ".git/HEAD", "7.cls", "Dockerfile",
         "README.md", "a b.sp", "a.dockerfile", "a1.txt", "ab.txt", "ax.txt", "b.cfg",
         "build/out.o", "bx1*", "bxy*", "bxyz", "cache/x.bin", "deep/n/inside",
         "docs/a/notes.txt", "docs/top.md", "dup/f", "dup/g", "file1.txt", "filed.txt",
         "foobar", "foox/bar", "fooxbar", "keep.js", "link.txt", "q.cls", "src/gen/keep.go",
         "src/gen/z.go", "src/general.go", "src/main.go", "srclink", "sub/keep/a.txt",
         "weird1.txt", "weird[1].txt", "x.tmp", "x/y/n"],
    ),
    "details": (
        '/sub/**\n**/n\nb?[^0-9]\\*\n[[:digit:]].cls\na\\ b.sp\n/\n!sub/keep\n',
        ["!x.txt", "#comment", "#notcomment", "*.txt", ".dockerignore", ".git/HEAD", "A.TXT",
         "Dockerfile", "README.md", "a.dockerfile", "a.log", "a1.txt", "ab.txt", "ax.txt",
         "b.cfg", "build/out.o", "bx.txt", "bx1*", "bxyz", "cache/x.bin", "d.cfg",
         "docs/a/b/c.md", "docs/a/notes.txt", "docs/top.md", "dup/f", "dup/g", "file1.txt",
         "filed.txt", "foobar", "foox/bar", "fooxbar", "keep.js", "link.txt",
         "node_modules/.bin/tool", "node_modules/keep.js", "node_modules/lib/z.js",
         "node_modules/y.js", "q.cls", "src/gen/keep.go", "src/gen/z.go", "src/general.go",
         "src/main.go", "srclink", "sub/keep/a.txt", "weird1.txt", "weird[1].txt", "x.tmp",
         "ünï.txt"],
    ),
}

# Where Docker's context walk and patternmatcher.MatchesOrParentMatches disagree. The walk
# (a) skips an excluded dir unless an exception's text starts with '<dir>/', so '!**/keep.js'
# or '!src/**/*.go' can't reach into it, and (b) reuses the parent's per-pattern results,
# in which a pattern skipped at the parent counts as unmatched (the 'dup' case).
# matches() implements MatchesOrParentMatches, so it answers the opposite of Docker here.
WALK_ONLY = {
    ("allowlist", "node_modules/keep.js"), ("misc_bom_crlf", "node_modules/keep.js"),
    ("globstar", "node_modules/keep.js"), ("globstar", "src/gen/z.go"),
    ("globstar", "src/gen/keep.go"), ("globstar", "docs/a/b/c.md"), ("quirks", "dup/f"),
}


def make_tree(root: Path, dockerignore: str) -> None:
    for f in FILES:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f + "\n")
    for link, target in LINKS.items():
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / link)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / ".dockerignore").write_bytes(dockerignore.encode())


def scenario_matcher(tmp_path: Path, name: str) -> PatternMatcher:
    (tmp_path / ".dockerignore").write_bytes(SCENARIOS[name][0].encode())
    return PatternMatcher(read_dockerignore(str(tmp_path / ".dockerignore")))


@pytest.mark.parametrize("name", SCENARIOS)
def test_walk_context_keeps_what_docker_kept(tmp_path: Path, name: str) -> None:
    make_tree(tmp_path, SCENARIOS[name][0])
    matcher = PatternMatcher(read_dockerignore(str(tmp_path / ".dockerignore")))
    assert walk_context(str(tmp_path), matcher) == SCENARIOS[name][1]


@pytest.mark.parametrize(("name", "path"), [(n, p) for n in SCENARIOS for p in ALL_PATHS])
def test_matches_agrees_with_docker(tmp_path: Path, name: str, path: str) -> None:
    excluded_by_docker = path not in SCENARIOS[name][1]
    expected = not excluded_by_docker if (name, path) in WALK_ONLY else excluded_by_docker
    assert scenario_matcher(tmp_path, name).matches(path) is expected


def test_read_dockerignore_normalizes_like_moby(tmp_path: Path) -> None:
    f = tmp_path / ".dockerignore"
    f.write_bytes("\ufeff#c\n  # not a comment  \r\n\n/abs/./x/\n! ./y/../z\n!/w\n//v\n/\n".encode())
    assert read_dockerignore(str(f)) == ["# not a comment", "abs/x", "!z", "!w", "v", "/"]
    assert read_dockerignore(str(tmp_path / "missing")) == []


def test_matcher_api() -> None:
    pm = PatternMatcher(["/a/**", "  ", "**/n/", "!./a/keep"])
    assert pm.patterns == ["a/**", "**/n", "!a/keep"] and pm.exclusions()
    assert not PatternMatcher(["a"]).exclusions() and PatternMatcher([]).patterns == []
    assert pm.matches("a/x/y") and pm.matches("./a/x/") and not pm.matches("a/keep")
    assert not PatternMatcher(["**"]).matches(".")  # the context root itself is never excluded


# Docker refuses all of these: "error checking context: syntax error in pattern" (and
# 'illegal exclusion pattern: "!"'), so the build fails; we refuse them up front.
@pytest.mark.parametrize("bad", ["a[", "foo\\", "[]x", "?[", "!", "[a-]", "foo\\q"])
def test_bad_patterns_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        PatternMatcher([bad])


def _tree(root: Path, *files: str) -> None:
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f)


def test_context_matcher_only_and_ignore(tmp_path: Path) -> None:
    _tree(tmp_path, "src/a.go", "src/a_test.go", "src/gen/g.go", "src/keep.txt", "docs/d.md",
          "Dockerfile", "top.go", ".git/HEAD", "src/.git/x", ".dockerignore")
    (tmp_path / ".dockerignore").write_text("src/gen\n!docs\n!src/keep.txt\n**/*.txt\n")
    only = [str(tmp_path / "src"), "./Dockerfile"]  # absolute, as Tilt resolves them, or relative
    m = context_matcher(str(tmp_path), "Dockerfile", ignore=["**/*_test.go"], only=only)
    # only= keeps src and Dockerfile; ignore= and .dockerignore still cut inside them, and an
    # exception in .dockerignore ('!docs') cannot re-include what only= left out: Tilt ORs them.
    # '.git' is the context's own: a nested src/.git is not special.
    assert walk_context(str(tmp_path), m) == ["Dockerfile", "src/.git/x", "src/a.go"]
    assert m.matches("docs/d.md") and m.matches(".git/HEAD") and m.matches("src/gen/g.go")
    assert m.patterns[:2] == ["**/*_test.go", "**"] and m.patterns[-1] == ".git"


def test_context_matcher_dockerfile_dockerignore_wins(tmp_path: Path) -> None:
    _tree(tmp_path, "a.txt", "b.txt", "c.txt", "build/app.Dockerfile", ".git/config")
    (tmp_path / ".dockerignore").write_text("a.txt\n")
    (tmp_path / "build/app.Dockerfile.dockerignore").write_text("b.txt\n")
    with_custom = context_matcher(str(tmp_path), str(tmp_path / "build/app.Dockerfile"))
    assert walk_context(str(tmp_path), with_custom) == [
        ".dockerignore", "a.txt", "build/app.Dockerfile", "build/app.Dockerfile.dockerignore", "c.txt"]
    # No <dockerfile>.dockerignore: fall back to the context's .dockerignore.
    (tmp_path / "build/app.Dockerfile.dockerignore").unlink()
    fallback = context_matcher(str(tmp_path), "build/app.Dockerfile")
    assert walk_context(str(tmp_path), fallback) == [".dockerignore", "b.txt", "build/app.Dockerfile", "c.txt"]
    assert context_matcher(str(tmp_path)).matches("a.txt")


def test_walk_context_prunes_big_ignored_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nm = tmp_path / "node_modules"
    nm.mkdir()
    (nm / "keep.js").touch()
    for d in range(20):
        (nm / f"pkg{d}").mkdir()
        for i in range(1000):  # hard links: regular files, but far cheaper to make than 20k inodes
            os.link(nm / "keep.js", nm / f"pkg{d}" / f"f{i}.js")
    _tree(tmp_path, "app.js", "Dockerfile")
    scanned: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: str) -> Any:
        scanned.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)
    assert walk_context(str(tmp_path), PatternMatcher(["node_modules"])) == ["Dockerfile", "app.js"]
    assert scanned == ["."]  # never opened node_modules
    # An exception naming a path under it forces the walk in, as in Docker.
    scanned.clear()
    kept = walk_context(str(tmp_path), PatternMatcher(["node_modules", "!node_modules/keep.js"]))
    assert kept == ["Dockerfile", "app.js", "node_modules/keep.js"]
    assert scanned == [".", "node_modules"]  # the pkg* dirs hold nothing it could name


@pytest.mark.e2e
@pytest.mark.parametrize("name", SCENARIOS)
def test_recorded_data_still_matches_docker(tmp_path: Path, name: str, testbed: dict[str, str]) -> None:
    """Re-records one scenario with the real legacy builder of a current Docker
    CLI: the testbed's default `docker` (20.10) handles .dockerignore corner
    cases the old way, and our matcher follows current Docker."""
    docker = os.environ.get("TESTBED_DOCKER_CURRENT_CLI", "")
    if not docker or not os.access(docker, os.X_OK):
        pytest.fail(f"TESTBED_DOCKER_CURRENT_CLI ({docker!r}) must name a current Docker CLI (source the testbed env)")
    make_tree(tmp_path, SCENARIOS[name][0])
    tag = f"tiltpy-ignore-test:{uuid.uuid4().hex[:12]}"
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    try:
        subprocess.run([docker, "build", "-q", "-t", tag, str(tmp_path)], env=env, check=True, capture_output=True)
        out = subprocess.run([docker, "run", "--rm", tag, "find", "/ctx", "(", "-type", "f", "-o", "-type", "l", ")"],
                             check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True)
    assert sorted(line.removeprefix("/ctx/") for line in out.splitlines() if line) == SCENARIOS[name][1]
