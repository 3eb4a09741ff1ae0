"""A scratch project for the conformance tests: Tiltfiles with the files Tilt's
own tests set up (a Dockerfile per image directory, Deployments, Services,
Secrets, Namespaces), loaded with tiltpy's loader. Written for tiltpy; only the
facts (what a Tiltfile must give) come from tilt-dev/tilt's tests."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiltpy.model.manifest import Manifest, TiltfileResult
from tiltpy.tiltfile.loader import load_tiltfile
from tiltpy.tiltfile.state import LoadOptions

DEFAULT_IMAGE = "gcr.io/windmill-public-containers/servantes/snack"


def deployment(name: str, image: str = DEFAULT_IMAGE, labels: dict[str, str] | None = None,
               namespace: str = "", env: dict[str, str] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    container: dict[str, Any] = {"name": name, "image": image, "command": ["/go/bin/snack"]}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}}}}


def service(name: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"ports": [{"port": 80, "targetPort": 8083, "protocol": "TCP"}],
                     "selector": selector if selector is not None else {"app": name}}}


def secret(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
            "data": {"username": "YWRtaW4="}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


class Fixture:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.result: TiltfileResult | None = None

    def path(self, rel: str = "") -> str:
        return str(self.root / rel) if rel else str(self.root)

    def file(self, rel: str, text: str) -> Path:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def dockerfile(self, rel: str) -> None:
        self.file(rel, "FROM golang:1.10\nADD . .\n")

    def yaml(self, rel: str, *objects: dict[str, Any]) -> None:
        self.file(rel, "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects))

    def setup_foo(self) -> None:
        self.dockerfile("foo/Dockerfile")
        self.yaml("foo.yaml", deployment("foo", image="gcr.io/foo"))

    def setup_foo_and_bar(self) -> None:
        self.setup_foo()
        self.dockerfile("bar/Dockerfile")
        self.yaml("bar.yaml", deployment("bar", image="gcr.io/bar"))

    def setup_expand(self) -> None:
        for name in "abcd":
            self.dockerfile(f"{name}/Dockerfile")
        self.yaml("all.yaml", *(deployment(n, image=f"gcr.io/{n}") for n in "abcd"))

    def run(self, tiltfile: str, args: list[str] | None = None, context: str = "docker-desktop",
            subcommand: str = "up", namespace: str = "default") -> TiltfileResult:
        self.file("Tiltfile", textwrap.dedent(tiltfile))
        self.result = load_tiltfile(self.path("Tiltfile"), LoadOptions(
            k8s_context=context, args=list(args or []), subcommand=subcommand, k8s_namespace=namespace))
        return self.result

    def load(self, tiltfile: str, **kw: Any) -> TiltfileResult:
        result = self.run(tiltfile, **kw)
        assert result.error == "", result.error
        return result

    def error(self, tiltfile: str, *expected: str, **kw: Any) -> str:
        result = self.run(tiltfile, **kw)
        assert result.error, "expected the Tiltfile to fail"
        for text in expected:
            assert text in result.error, f"{text!r} not in:\n{result.error}"
        return result.error

    def manifest(self, name: str) -> Manifest:
        assert self.result is not None
        return self.result.manifest(name)

    def names(self) -> list[str]:
        assert self.result is not None
        return [m.name for m in self.result.manifests]

    def kinds_and_names(self, name: str) -> list[tuple[str, str]]:
        return [(o["kind"], o["metadata"]["name"]) for o in self.manifest(name).k8s.objects]


@pytest.fixture
def f(tmp_path: Path) -> Fixture:
    return Fixture(tmp_path)
