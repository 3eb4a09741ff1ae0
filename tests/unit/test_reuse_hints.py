"""The remembered (engine, ref, inputs) → image ID hints: kept across
processes, merged when two write, bounded, and harmless when broken."""
from __future__ import annotations

from pathlib import Path

from tiltpy.image import reuse_cache
from tiltpy.image.reuse_cache import ReuseHints


def test_hints_survive_the_process_and_are_per_engine(tmp_path: Path) -> None:
    path = str(tmp_path / "cache" / "image-inputs.json")
    ReuseHints("unix://a", path).put("app", "inputs1", "sha256:1")
    assert ReuseHints("unix://a", path).get("app", "inputs1") == "sha256:1"
    assert ReuseHints("unix://b", path).get("app", "inputs1") is None
    assert ReuseHints("unix://a", path).get("app", "inputs2") is None


def test_two_writers_keep_each_others_hints(tmp_path: Path) -> None:
    path = str(tmp_path / "image-inputs.json")
    first, second = ReuseHints("e", path), ReuseHints("e", path)
    first.get("x", "y")  # both have read the (empty) file
    second.get("x", "y")
    first.put("a", "1", "sha256:a")
    second.put("b", "2", "sha256:b")
    fresh = ReuseHints("e", path)
    assert (fresh.get("a", "1"), fresh.get("b", "2")) == ("sha256:a", "sha256:b")


def test_bounded_and_broken_files_are_ignored(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "image-inputs.json"
    path.write_text("{not json")
    hints = ReuseHints("e", str(path))
    assert hints.get("a", "1") is None
    monkeypatch.setattr(reuse_cache, "MAX_ENTRIES", 3)
    for i in range(5):
        hints.put("a", str(i), f"sha256:{i}")
    fresh = ReuseHints("e", str(path))
    assert [fresh.get("a", str(i)) for i in range(5)] == [None, None, "sha256:2", "sha256:3", "sha256:4"]
