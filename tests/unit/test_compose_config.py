"""Reading Compose files and turning services into resources."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tiltpy.compose.config import ComposeError, interpolate, load_project
from tiltpy.model.manifest import Link
from tiltpy.tiltfile.loader import LoadOptions, load_tiltfile

COMPOSE = """
services:
  web:
    image: "web-app:${WEB_TAG:-dev}"
    build: .
    ports: ["8080:80", "127.0.0.1:9229:9229", {target: 81, published: 8081}, "3000"]
    volumes: ["./src:/src", "data:/data"]
  db:
    image: postgres
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data: {}
"""


@pytest.mark.parametrize("text, env, expected", [
    ("${A}", {"A": "1"}, "1"),
    ("$A-x", {"A": "1"}, "1-x"),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A:+alt}", {"A": "1"}, "alt"),
    ("${A+alt}", {}, ""),
    ("$$A", {"A": "1"}, "$A"),
    ("${MISSING}", {}, ""),
])
def test_interpolation(text: str, env: dict, expected: str) -> None:
    assert interpolate(text, env) == expected


def test_required_variable_error() -> None:
    with pytest.raises(ComposeError, match="B is missing"):
        interpolate("${B:?B is missing}", {})


def test_services_ports_mounts_profiles(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / ".env").write_text("WEB_TAG=v2\n")
    project = load_project([str(tmp_path / "docker-compose.yml")], environ={})
    assert project.name == tmp_path.name.lower()
    assert set(project.services) == {"web", "db"}
    web = project.services["web"]
    assert web.image == "web-app:v2" and web.has_build
    assert web.published_ports == (8080, 9229, 8081)
    assert web.bind_mounts == (str(tmp_path / "src"),)
    with_debug = load_project([str(tmp_path / "docker-compose.yml")], profiles=["debug"], environ={})
    assert "debug" in with_debug.services


def test_override_files_merge(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(COMPOSE)
    (tmp_path / "b.yml").write_text("services:\n  db:\n    image: postgres:16\n")
    project = load_project([str(tmp_path / "a.yml"), str(tmp_path / "b.yml")], project_name="proj", environ={})
    assert project.name == "proj"
    assert project.services["db"].image == "postgres:16"


def test_tiltfile_compose_resources(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "Tiltfile").write_text(textwrap.dedent("""\
        docker_compose('docker-compose.yml', project_name='shop')
        docker_build('web-app', '.', live_update=[sync('.', '/src'), restart_container()])
        dc_resource('web', labels=['front'], resource_deps=['database'], links=['http://docs'])
        dc_resource('db', new_name='database', trigger_mode=TRIGGER_MODE_MANUAL)
        local_resource('seed', cmd='echo seed', deps=['seed.sql'], resource_deps=['database'])
        """))
    result = load_tiltfile(str(tmp_path / "Tiltfile"), LoadOptions())
    assert not result.error, result.error
    web = result.manifest("web")
    assert web.compose.project_name == "shop"
    assert web.compose.image_refs == ("web-app",) and not web.compose.has_build
    assert [t.ref for t in web.image_targets] == ["web-app"]
    assert web.links[0] == Link("http://docs")
    assert Link("http://localhost:8080/") in web.links
    assert web.resource_deps == ("database",) and web.labels == ("front",)
    db = result.manifest("database")
    assert db.compose.service == "db" and db.trigger_mode == 1 and db.image_targets == ()
    seed = result.manifest("seed")
    assert seed.local.cmd == ("sh", "-c", "echo seed")
    assert seed.local.deps == (str(tmp_path / "seed.sql"),)


@pytest.mark.parametrize("tiltfile, message", [
    ("docker_compose('missing.yml')\n", "compose file not found"),
    ("docker_compose('docker-compose.yml')\ndc_resource('nope')\n", 'no Docker Compose service named "nope"'),
    ("local_resource('x')\n", "must specify cmd or serve_cmd"),
    ("local_resource('x', cmd='true', readiness_probe=probe(exec=exec_action(['true'])))\n", "needs a serve_cmd"),
    ("probe(period_secs='5', exec=exec_action(['true']))\n", "probe: for parameter period_secs: got string, want int"),
    ("probe()\n", "exactly one of exec, http_get, or tcp_socket must be specified"),
    ("local_resource('x', cmd='true')\nlocal_resource('x', cmd='true')\n", "already exists"),
])
def test_errors(tmp_path: Path, tiltfile: str, message: str) -> None:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / "Tiltfile").write_text(tiltfile)
    result = load_tiltfile(str(tmp_path / "Tiltfile"), LoadOptions())
    assert message in result.error
