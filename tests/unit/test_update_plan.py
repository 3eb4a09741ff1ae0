"""Which changes live-update and which rebuild."""
from __future__ import annotations

from pathlib import Path

import pytest

from tiltpy.engine.update_plan import plan_update
from tiltpy.image.context import TargetFiles
from tiltpy.model.live_update import FileCopy
from tiltpy.model.manifest import FallBackOn, ImageTarget, K8sTarget, Manifest, Run, Sync


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ("package/package.json", "server.js", "lib/util.js", "docs/readme.md", "web/vite.config.js",
                "app.dockerfile", "base.dockerfile"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".dockerignore").write_text("*.dockerfile\ndocs\n")
    return tmp_path


def manifest(root: Path, live_update: tuple = (), app_deps: tuple = ("base",)) -> Manifest:
    base = ImageTarget(ref="base", context=str(root / "package"), dockerfile_path=str(root / "base.dockerfile"),
                       dockerfile_contents="FROM node\n")
    app = ImageTarget(ref="app", context=str(root), dockerfile_path=str(root / "app.dockerfile"),
                      dockerfile_contents="FROM base\n", image_deps=app_deps, live_update=live_update)
    return Manifest(name="app", image_targets=(base, app), k8s=K8sTarget(objects=(), image_refs=("app",)))


def plan(m: Manifest, *paths: Path, deleted: tuple = ()):
    files = {t.ref: TargetFiles(t) for t in m.image_targets}
    return plan_update(m, [str(p) for p in paths], files, {str(p) for p in deleted})


def test_synced_file_is_live_updated(tree: Path) -> None:
    m = manifest(tree, (Sync(str(tree), "/var/www/app"),))
    result = plan(m, tree / "server.js", tree / "lib/util.js")
    assert not result.is_rebuild
    [lu] = result.live_updates
    assert lu.target == "app"
    assert lu.copies == (FileCopy(str(tree / "lib/util.js"), "/var/www/app/lib/util.js"),
                         FileCopy(str(tree / "server.js"), "/var/www/app/server.js"))


def test_base_context_change_rebuilds_base_and_dependents_even_if_synced(tree: Path) -> None:
    m = manifest(tree, (Sync(str(tree), "/var/www/app"),))
    result = plan(m, tree / "package/package.json", tree / "server.js")
    assert result.rebuild == ("base", "app")
    assert "base image base" in result.rebuild_reason
    assert result.live_updates == ()


def test_app_change_without_live_update_rebuilds_only_app(tree: Path) -> None:
    result = plan(manifest(tree), tree / "server.js")
    assert result.rebuild == ("app",)


def test_ignored_files_change_nothing(tree: Path) -> None:
    m = manifest(tree, (Sync(str(tree), "/app"),))
    result = plan(m, tree / "docs/readme.md", tree / "app.dockerfile", tree / ".git/index")
    assert not result.is_rebuild and result.live_updates == ()


def test_fall_back_on_rebuilds(tree: Path) -> None:
    m = manifest(tree, (FallBackOn((str(tree / "web/vite.config.js"),)), Sync(str(tree), "/app")))
    result = plan(m, tree / "web/vite.config.js")
    assert result.rebuild == ("app",)
    assert "fall_back_on" in result.rebuild_reason


def test_file_outside_every_sync_rebuilds(tree: Path) -> None:
    m = manifest(tree, (Sync(str(tree / "lib"), "/app/lib"),))
    result = plan(m, tree / "server.js")
    assert result.rebuild == ("app",)
    assert "not matching any sync" in result.rebuild_reason


def test_run_triggers_and_deletes(tree: Path) -> None:
    install = Run(("sh", "-c", "npm install"), (str(tree / "package/package.json"),))
    always = Run(("sh", "-c", "touch /tmp/reload"))
    m = manifest(tree, (Sync(str(tree), "/app"), install, always), app_deps=())
    m = Manifest(name="app", image_targets=(m.image_targets[1],), k8s=m.k8s)
    result = plan(m, tree / "server.js")
    assert result.live_updates[0].runs == (always,)
    result = plan(m, tree / "package/package.json", tree / "gone.js", deleted=(tree / "gone.js",))
    [lu] = result.live_updates
    assert lu.runs == (install, always)
    assert lu.deletes == ("/app/gone.js",)
    assert [c.remote for c in lu.copies] == ["/app/package/package.json"]


def test_most_specific_sync_wins(tree: Path) -> None:
    m = manifest(tree, (Sync(str(tree), "/app"), Sync(str(tree / "lib"), "/opt/lib")), app_deps=())
    [lu] = plan(m, tree / "lib/util.js").live_updates
    assert lu.copies == (FileCopy(str(tree / "lib/util.js"), "/opt/lib/util.js"),)
