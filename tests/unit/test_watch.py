"""File watching on a real filesystem: what is watched, what is skipped,
and how changes are batched."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tiltpy.tiltfile.loader import LoadOptions, load_tiltfile
from tiltpy.watch.inotify import InotifyWatcher
from tiltpy.watch.project_watch import ProjectWatch

TILTFILE = """
k8s_yaml('k.yml')
docker_build('app-image', '.', ignore=['tmp'])
watch_settings(ignore=['logs'])
"""
YAML = """apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers: [{name: c, image: app-image}]
"""


def _project(root: Path, node_modules_files: int = 0) -> ProjectWatch:
    (root / "Tiltfile").write_text(TILTFILE)
    (root / "k.yml").write_text(YAML)
    (root / "Dockerfile").write_text("FROM busybox\n")
    (root / ".dockerignore").write_text("node_modules\n")
    (root / ".tiltignore").write_text("**/*.bak\n")  # dockerignore syntax: *.bak alone is root-only
    for d in ("src/lib", "tmp/cache", "logs", ".git/objects"):
        (root / d).mkdir(parents=True)
    (root / "src" / "main.js").write_text("x")
    for i in range(node_modules_files):
        d = root / "node_modules" / f"pkg{i // 100}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        (d / f"f{i}.js").write_text("")
    result = load_tiltfile(str(root / "Tiltfile"), LoadOptions(k8s_context="docker-desktop"))
    assert not result.error, result.error
    return ProjectWatch(result)


def test_ignored_directories_are_not_watched(tmp_path: Path) -> None:
    watch = _project(tmp_path)
    assert watch.roots() == [str(tmp_path)]
    assert watch.is_ignored_dir(str(tmp_path / ".git"))
    assert watch.is_ignored_dir(str(tmp_path / "tmp"))  # ignore= in the only context
    assert watch.is_ignored_dir(str(tmp_path / "logs"))  # watch_settings
    assert not watch.is_ignored_dir(str(tmp_path / "src"))
    config, other = watch.split({str(tmp_path / "Tiltfile"), str(tmp_path / "src/main.js"),
                                 str(tmp_path / "src/main.js.bak"), str(tmp_path / "src/.main.js.swp")})
    assert config == {str(tmp_path / "Tiltfile")}
    assert other == {str(tmp_path / "src/main.js")}


def test_100k_file_node_modules_costs_no_watches(tmp_path: Path) -> None:
    watch = _project(tmp_path, node_modules_files=100_000)

    async def run() -> int:
        watcher = InotifyWatcher(lambda batch: None, is_ignored_dir=watch.is_ignored_dir)
        watcher.start(watch.roots())
        count = watcher.watch_count
        watcher.close()
        return count

    # The root, src and src/lib: node_modules' 1,000 directories cost nothing.
    assert asyncio.run(run()) == 3


def test_changes_are_batched_after_quiet_and_new_dirs_followed(tmp_path: Path) -> None:
    watch = _project(tmp_path)

    async def run() -> list[set[str]]:
        batches: list[set[str]] = []
        got = asyncio.Event()

        def on_batch(batch: set[str]) -> None:
            batches.append(batch)
            got.set()

        watcher = InotifyWatcher(on_batch, is_ignored_dir=watch.is_ignored_dir, quiet_ms=30)
        watcher.start(watch.roots())
        for i in range(5):
            (tmp_path / "src" / f"f{i}.js").write_text("y")
        await asyncio.wait_for(got.wait(), 2)
        got.clear()
        (tmp_path / "src" / "new" / "deep").mkdir(parents=True)
        (tmp_path / "src" / "new" / "deep" / "x.js").write_text("z")
        await asyncio.wait_for(got.wait(), 2)
        got.clear()
        (tmp_path / "node_modules").mkdir(exist_ok=True)
        (tmp_path / "node_modules" / "ignored.js").write_text("z")
        (tmp_path / "src" / "after.js").write_text("z")
        await asyncio.wait_for(got.wait(), 2)
        watcher.close()
        return batches

    batches = asyncio.run(run())
    assert batches[0] == {str(tmp_path / "src" / f"f{i}.js") for i in range(5)}
    assert str(tmp_path / "src/new/deep/x.js") in batches[1]
    assert str(tmp_path / "node_modules/ignored.js") not in batches[2]
    assert str(tmp_path / "src/after.js") in batches[2]


@pytest.mark.parametrize("name", ["main.js~", ".main.js.swp", "4913", ".#main.js"])
def test_editor_temp_files_are_ignored(tmp_path: Path, name: str) -> None:
    watch = _project(tmp_path)
    _, other = watch.split({os.path.join(str(tmp_path), "src", name)})
    assert other == set()
