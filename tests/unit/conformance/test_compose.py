"""docker_compose and dc_resource (tiltfile_docker_compose_test.go, docker_compose_test.go)."""
from __future__ import annotations

import pytest

from tests.unit.conformance.support import Fixture, f  # noqa: F401
from tiltpy.model.manifest import TRIGGER_MODE_AUTO, TRIGGER_MODE_MANUAL

SIMPLE = "version: '3'\nservices:\n  foo:\n    build: ./foo\n    command: sleep 100\n    ports:\n      - \"12312:80\"\n"
TWO = SIMPLE + "  bar:\n    image: bar-image\n    expose:\n      - \"3000\"\n    depends_on:\n      - foo\n"


def test_compose_manifest(f: Fixture) -> None:
    """TestDockerComposeManifest: a service with build: is a resource with its published port as a link."""
    f.dockerfile("foo/Dockerfile")
    f.file("docker-compose.yml", SIMPLE)
    result = f.load("docker_compose('docker-compose.yml')\n")
    foo = f.manifest("foo")
    assert f.names() == ["foo"] and foo.compose.published_ports == (12312,) and foo.compose.has_build
    assert f.path("docker-compose.yml") in result.watched_files


def test_depends_on_become_resource_deps(f: Fixture) -> None:
    """TestDCDependsOnInferredFromComposeFile / TestDCDependsOnResourceDepSpecified."""
    f.dockerfile("foo/Dockerfile")
    f.file("docker-compose.yml", TWO)
    f.load("docker_compose('docker-compose.yml')\n")
    assert f.manifest("foo").resource_deps == () and f.manifest("bar").resource_deps == ("foo",)
    f.load("docker_compose('docker-compose.yml')\ndc_resource('bar', resource_deps=['foo'])\n")
    assert f.manifest("bar").resource_deps == ("foo",)


def test_services_in_dependency_order(f: Fixture) -> None:
    """TestParseConfigPreservesServiceOrder."""
    f.file("docker-compose.yml", "version: '3'\nservices:\n"
           "  a:\n    image: imga\n    depends_on: [b]\n  b:\n    image: imgb\n    depends_on: [c]\n"
           "  c:\n    image: imgc\n    depends_on: [d, e, f]\n  d:\n    image: imgd\n    depends_on: [f, e]\n"
           "  e:\n    image: imge\n    depends_on: [f]\n  f:\n    image: imgf\n")
    f.load("docker_compose('docker-compose.yml')\n")
    assert f.names() == ["f", "e", "d", "c", "b", "a"]


def test_with_docker_build(f: Fixture) -> None:
    """TestDockerComposeWithDockerBuild: dc_resource's second argument is the image."""
    f.dockerfile("foo/Dockerfile")
    f.file("docker-compose.yml", SIMPLE)
    f.load("docker_build('gcr.io/foo', './foo')\ndocker_compose('docker-compose.yml')\ndc_resource('foo', 'gcr.io/foo')\n")
    foo = f.manifest("foo")
    assert [t.ref for t in foo.image_targets] == ["gcr.io/foo"]
    assert foo.compose.config_paths == (f.path("docker-compose.yml"),)


def test_labels_and_links_add_up(f: Fixture) -> None:
    """TestDockerComposeLabels (and dc_resource's additive options)."""
    f.dockerfile("foo/Dockerfile")
    f.file("docker-compose.yml", SIMPLE)
    f.load("docker_compose('docker-compose.yml')\ndc_resource('foo', labels='test')\n"
           "dc_resource('foo', labels=['more'], links=['www.zombo.com/x'])\n")
    foo = f.manifest("foo")
    assert foo.labels == ("test", "more")
    assert [link.url for link in foo.links] == ["http://www.zombo.com/x", "http://localhost:12312/"]


@pytest.mark.parametrize("global_mode, dc_mode, auto_init, mode, init", [
    ("", "", "", TRIGGER_MODE_AUTO, True),
    ("trigger_mode(TRIGGER_MODE_MANUAL)", "", "", TRIGGER_MODE_MANUAL, True),
    ("", "TRIGGER_MODE_MANUAL", "", TRIGGER_MODE_MANUAL, True),
    ("", "TRIGGER_MODE_MANUAL", "False", TRIGGER_MODE_MANUAL, False),
    ("trigger_mode(TRIGGER_MODE_MANUAL)", "TRIGGER_MODE_AUTO", "", TRIGGER_MODE_AUTO, True),
])
def test_trigger_modes(f: Fixture, global_mode: str, dc_mode: str, auto_init: str, mode: int, init: bool) -> None:
    """TestTriggerModeDC."""
    f.dockerfile("foo/Dockerfile")
    f.file("docker-compose.yml", SIMPLE)
    call = ""
    if dc_mode:
        call = f"dc_resource('foo', trigger_mode={dc_mode}" + (f", auto_init={auto_init})" if auto_init else ")")
    f.load(f"{global_mode}\ndocker_compose('docker-compose.yml')\n{call}\n")
    assert (f.manifest("foo").trigger_mode, f.manifest("foo").auto_init) == (mode, init)


def test_errors(f: Fixture) -> None:
    """TestDockerComposeNothingError / TestDockerComposeBadTypeError."""
    f.error("docker_compose(None)\n", "docker_compose")
    f.error("docker_compose(True)\n", "got bool")
