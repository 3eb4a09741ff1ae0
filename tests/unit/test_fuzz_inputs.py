"""Bad input never shows a Python traceback: mutations of the examples'
Tiltfiles, YAML and Dockerfiles (seeded, so a failure is reproducible) each
load to a result or to a message naming the file — never an exception, never
an "internal error" (our catch-all for bugs)."""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from tiltpy.tiltfile.loader import LoadOptions, load_tiltfile

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.parent for p in (REPO / "examples").glob("*/Tiltfile"))
SEEDS = int(os.environ.get("TILTPY_FUZZ_SEEDS", "150"))

TOKENS = ["(", ")", "'", '"', ":", "{", "}", "[", "]", ",", "\t", "  ", "\\", "#", "=", "None", "True", "-1",
          "0x", "---\n", "- ", "FROM ", "COPY --from=", "ARG ", "${", "$", "\n", "\r\n", "\x00", "é", "🙂",
          "apiVersion: v1\n", "kind: Pod\n", "metadata: {name: 7}\n", "image: ", "k8s_yaml(", "docker_build(",
          "load('", "while True:\n  pass\n", "def f(:", "fail('x')", "exit(0)"]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(7)
    if not data:
        return rng.choice(TOKENS).encode()
    i = rng.randrange(len(data))
    if kind == 0:  # flip a byte (also makes invalid UTF-8)
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
    if kind == 1:  # insert a token
        return data[:i] + rng.choice(TOKENS).encode() + data[i:]
    if kind == 2:  # truncate
        return data[:i]
    lines = data.split(b"\n")
    j = rng.randrange(len(lines))
    if kind == 3:  # drop a line
        return b"\n".join(lines[:j] + lines[j + 1:])
    if kind == 4:  # duplicate a line
        return b"\n".join(lines[:j + 1] + lines[j:])
    if kind == 5:  # swap two lines
        k = rng.randrange(len(lines))
        lines[j], lines[k] = lines[k], lines[j]
        return b"\n".join(lines)
    return data[:i] + data[i:i + rng.randrange(1, 40)] * 2 + data[i:]  # repeat a chunk


def _inputs(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*") if p.is_file() and (
        p.name == "Tiltfile" or p.suffix in (".yaml", ".yml", ".dockerfile") or p.name.startswith("Dockerfile")
        or p.name == "docker-compose.yml"))


@pytest.mark.parametrize("seed", range(SEEDS))
def test_mutated_inputs_load_or_fail_with_a_message(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    example = EXAMPLES[seed % len(EXAMPLES)]
    project = tmp_path / example.name
    shutil.copytree(example, project)
    files = _inputs(project)
    for _ in range(rng.randrange(1, 4)):
        target = rng.choice(files)
        target.write_bytes(_mutate(target.read_bytes(), rng))
    result = load_tiltfile(str(project / "Tiltfile"), LoadOptions(k8s_context="docker-desktop"))
    if result.error:
        assert "internal error" not in result.error, result.error
        assert "Traceback (most recent call last):\n  File" not in result.error, result.error
        assert str(project) in result.error or "Tiltfile" in result.error, result.error


def test_special_bad_inputs(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    assert "it is a directory" in load_tiltfile(str(tmp_path / "dir")).error
    (tmp_path / "latin1").write_bytes(b"print('ok')\nx = '\xe9t\xe9'\n")
    assert f"{tmp_path / 'latin1'}:2: not UTF-8" in load_tiltfile(str(tmp_path / "latin1")).error
    (tmp_path / "names.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 123}\n")
    (tmp_path / "Tiltfile").write_text("k8s_yaml('names.yaml')\n")
    error = load_tiltfile(str(tmp_path / "Tiltfile")).error
    assert error == "" or ("names.yaml" in error and "internal error" not in error), error
    (tmp_path / "bad.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '\xff'}\n")
    (tmp_path / "Tiltfile").write_text("k8s_yaml('bad.yaml')\n")
    error = load_tiltfile(str(tmp_path / "Tiltfile")).error
    assert "bad.yaml" in error and "internal error" not in error, error
