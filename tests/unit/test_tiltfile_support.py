"""Helpers for the test_tiltfile_* modules (no tests here): a scratch project
with a Tiltfile, loaded with tiltpy's loader."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.k8s_yaml import DEPLOYMENT
from tiltpy.model.manifest import TiltfileResult
from tiltpy.tiltfile.loader import load_tiltfile
from tiltpy.tiltfile.state import LoadOptions




class Project:
    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def path(self, rel: str = "") -> str:
        return str(self.root / rel) if rel else str(self.root)

    def load(self, tiltfile: str, context: str = "docker-desktop", args: list[str] | None = None,
             subcommand: str = "up") -> TiltfileResult:
        self.file("Tiltfile", tiltfile)
        return load_tiltfile(str(self.root / "Tiltfile"),
                             LoadOptions(k8s_context=context, args=list(args or []), subcommand=subcommand))

    def ok(self, tiltfile: str, **kw) -> TiltfileResult:
        result = self.load(tiltfile, **kw)
        assert result.error == "", result.error
        return result

    def error(self, tiltfile: str, **kw) -> str:
        result = self.load(tiltfile, **kw)
        assert result.error, "expected the Tiltfile to fail"
        assert result.manifests == []
        return result.error


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.file("Dockerfile", "FROM busybox\n")
    return p
