"""A build context that is still missing when the build runs (the Tiltfile
accepts one a local resource creates later): a build failure that says so."""
from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from tiltpy.image.context import ContextNotFound, collect_context
from tiltpy.image.docker_builder import BuildFailure, DockerBuilder
from tiltpy.model.manifest import ImageTarget


def _target(context: Path) -> ImageTarget:
    return ImageTarget(ref="app", context=str(context), dockerfile_path="", dockerfile_contents="FROM busybox\n")


def test_missing_context_is_named(tmp_path: Path) -> None:
    with pytest.raises(ContextNotFound, match=f"Build context {tmp_path / 'later'} does not exist"):
        collect_context(_target(tmp_path / "later"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ContextNotFound, match="is not a directory"):
        collect_context(_target(tmp_path / "file"))


def test_builder_reports_it_as_a_build_failure(tmp_path: Path) -> None:
    builder = DockerBuilder(mock.Mock())  # never reached: the context check comes first
    with pytest.raises(BuildFailure, match=r"docker_build\('app', context=...\).*resource_deps"):
        builder.build(_target(tmp_path / "later"), {}, log=lambda line: None)
    builder.client.build.assert_not_called()
