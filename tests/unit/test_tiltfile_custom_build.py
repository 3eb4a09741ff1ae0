"""custom_build(): what the Tiltfile records, and image/custom_builder.py
running the command against the real Docker Engine (busybox is local; the
"build" commands just tag it)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.test_tiltfile_support import DEPLOYMENT, Project, project  # noqa: F401
from tiltpy.image.custom_builder import CustomBuilder, expected_image
from tiltpy.image.docker_builder import BuildFailure
from tiltpy.model.images import BuiltImage
from tiltpy.model.manifest import CustomBuild, ImageTarget, Run, Sync


def test_custom_build_is_recorded(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="gcr.io/proj/app"))
    project.file("src/main.go", "")
    project.file("Dockerfile.base", "FROM busybox\n")
    result = project.ok("""
        k8s_yaml('k.yml')
        docker_build('base-image', '.', dockerfile='Dockerfile.base')
        custom_build('gcr.io/proj/app', 'make image REF=$EXPECTED_REF', ['src', 'Makefile'],
                     tag='dev', disable_push=True, live_update=[sync('src', '/src'), run('go build')],
                     ignore=['*.tmp'], entrypoint='/app --serve', image_deps=['base-image'],
                     env={'GOOS': 'linux'}, dir='src', match_in_env_vars=True, container_args=['-v'])
    """)
    manifest = result.manifest("app")
    assert [t.ref for t in manifest.image_targets] == ["base-image", "gcr.io/proj/app"]
    target = manifest.image_target("gcr.io/proj/app")
    assert target.context == "-" and target.dockerfile_contents == ""
    assert target.image_deps == ("base-image",)
    assert target.live_update == (Sync(project.path("src"), "/src"), Run(("sh", "-c", "go build")))
    assert target.ignore == ("*.tmp",) and target.match_in_env_vars
    assert target.entrypoint == ("sh", "-c", "/app --serve") and target.container_args == ("-v",)
    assert target.custom_build == CustomBuild(
        command=("sh", "-c", "make image REF=$EXPECTED_REF"), deps=(project.path("src"), project.path("Makefile")),
        workdir=project.path("src"), env=(("GOOS", "linux"),), tag="dev", disable_push=True,
        skips_local_docker=False, outputs_image_ref_to="", image_deps=("base-image",))
    assert manifest.k8s.image_refs == ("gcr.io/proj/app",)
    assert project.path("src/.dockerignore") in result.watched_files
    out = project.ok("custom_build('x', ['./build.sh'], '.', outputs_image_ref_to='ref.txt', skips_local_docker=True)\n"
                     "update_settings(suppress_unused_image_warnings='x')\n")
    assert out.manifests == [] and not out.warnings  # an unused image, its warning suppressed


@pytest.mark.parametrize("tiltfile, expected", [
    ("custom_build('x', '', ['.'])\n", "Argument 2 (command) can't be empty"),
    ("custom_build('x', 'true', ['.'], tag='t', outputs_image_ref_to='f')\n",
     "Cannot specify both tag= and outputs_image_ref_to="),
    ("custom_build('Bad Ref', 'true', ['.'])\n", "invalid image reference"),
    ("custom_build('x', 'true', ['.'])\ncustom_build('x', 'true', ['.'])\n", "has already been defined"),
    ("custom_build('x', 'true', ['.'], image_deps=['ghost'])\n", 'image "x": image dep "ghost" not found'),
    ("custom_build('x', 'true', ['.'], ignore=['a\\nb'])\n", "ignore cannot contain newlines"),
    ("custom_build('x', 'true', ['.'], live_update=[run('a'), sync('.', '/a')])\n", "all sync steps must precede all run steps"),
])
def test_custom_build_errors(project: Project, tiltfile: str, expected: str) -> None:
    assert expected in project.error(tiltfile)


def test_expected_image() -> None:
    assert expected_image("localhost:1234/foo_bar:tilt-build-1") == "foo_bar"
    assert expected_image("localhost:1234/foo/bar:tilt-build-1") == "foo/bar"
    assert expected_image("gcr.io/proj/app:dev") == "proj/app"
    assert expected_image("app:dev") == "library/app"


# --- the builder, against the real Docker Engine -------------------------------------------

def _docker():
    try:
        import docker

        client = docker.from_env(timeout=60).api
        client.ping()
        client.inspect_image("busybox:latest")
        return client
    except Exception:  # noqa: BLE001
        return None


DOCKER = _docker()
needs_docker = pytest.mark.skipif(DOCKER is None, reason="needs the Docker Engine with busybox:latest")


def _target(tmp: Path, command: str, **kw) -> ImageTarget:
    return ImageTarget(ref=kw.pop("ref", "tiltpy-cb-test"), context="-", dockerfile_path="", dockerfile_contents="",
                       image_deps=kw.pop("image_deps", ()),
                       custom_build=CustomBuild(command=("sh", "-c", command), deps=(str(tmp),), workdir=str(tmp),
                                                **kw))


@pytest.fixture
def cleanup():
    refs: list[str] = []
    yield refs
    for ref in refs:
        try:
            DOCKER.remove_image(ref)
        except Exception:  # noqa: BLE001
            pass


@needs_docker
def test_builder_default_mode(tmp_path: Path, cleanup: list[str]) -> None:
    (tmp_path / "src.txt").write_text("x")
    lines: list[str] = []
    target = _target(tmp_path, 'docker tag busybox:latest "$EXPECTED_REF" && '
                               'echo "$EXPECTED_IMAGE $EXPECTED_TAG $FROM_ENV" > out.txt', env=(("FROM_ENV", "yes"),))
    builder = CustomBuilder(DOCKER, clock=lambda: 1551202573)
    built = builder.build(target, {}, lines.append)
    cleanup += ["tiltpy-cb-test:tilt-build-1551202573", built.local_ref]
    busybox_id = DOCKER.inspect_image("busybox:latest")["Id"]
    assert built.image_id == busybox_id
    assert built.local_ref == built.cluster_ref == f"tiltpy-cb-test:tilt-{busybox_id.split(':')[1][:16]}"
    assert (tmp_path / "out.txt").read_text().split() == ["library/tiltpy-cb-test", "tilt-build-1551202573", "yes"]
    assert "  EXPECTED_REF=tiltpy-cb-test:tilt-build-1551202573" in lines
    assert built.context_files == frozenset({str(tmp_path / "src.txt"), str(tmp_path / "out.txt")})
    DOCKER.inspect_image(built.local_ref)


@needs_docker
def test_builder_registry_tag_and_image_deps(tmp_path: Path, cleanup: list[str]) -> None:
    target = _target(tmp_path, 'docker tag busybox:latest "$EXPECTED_REF" && '
                               'echo "$EXPECTED_REF $EXPECTED_REGISTRY $TILT_IMAGE_0 $TILT_IMAGE_MAP_0" > out.txt',
                     ref="team/app", tag="dev", image_deps=("base-image",))
    base = BuiltImage("base-image", "sha256:1", "base-image:tilt-1234", "base-image:tilt-1234", "")
    builder = CustomBuilder(DOCKER, registry="localhost:5005", registry_from_cluster="registry:5000")
    built = builder.build(target, {"base-image": base}, lambda _line: None)
    cleanup += ["team/app:dev", built.local_ref]
    # tag= mode: the command builds <name>:<tag> without the registry; tiltpy retags it.
    assert (tmp_path / "out.txt").read_text().split() == ["team/app:dev", "localhost:5005", "base-image:tilt-1234",
                                                          "base-image"]
    tag = built.local_ref.rsplit(":", 1)[1]
    assert built.local_ref == f"localhost:5005/team_app:{tag}" and tag.startswith("tilt-")
    assert built.cluster_ref == f"registry:5000/team_app:{tag}"


@needs_docker
def test_builder_outputs_image_ref_to(tmp_path: Path, cleanup: list[str]) -> None:
    ref_file = tmp_path / "ref.txt"
    ref_file.write_text("stale")
    target = _target(tmp_path, 'test ! -e ref.txt && test -z "$EXPECTED_REF" && '
                               'docker tag busybox:latest tiltpy-cb-out:content-123 && '
                               'echo tiltpy-cb-out:content-123 > ref.txt', outputs_image_ref_to=str(ref_file))
    built = CustomBuilder(DOCKER).build(target, {}, lambda _line: None)
    cleanup.append("tiltpy-cb-out:content-123")
    assert built.local_ref == built.cluster_ref == "tiltpy-cb-out:content-123"


def test_builder_skips_local_docker_needs_no_engine(tmp_path: Path) -> None:
    target = _target(tmp_path, 'echo "$EXPECTED_REF" > out.txt', skips_local_docker=True)
    built = CustomBuilder(None, registry="gcr.io/proj", clock=lambda: 7).build(target, {}, lambda _line: None)
    assert built.local_ref == built.cluster_ref == "gcr.io/proj/tiltpy-cb-test:tilt-build-7"
    assert (tmp_path / "out.txt").read_text().strip() == "gcr.io/proj/tiltpy-cb-test:tilt-build-7"


def test_builder_failures(tmp_path: Path) -> None:
    with pytest.raises(BuildFailure, match='Custom build "echo nope; exit 3" failed: exit status 3'):
        CustomBuilder(None).build(_target(tmp_path, "echo nope; exit 3"), {}, lambda _line: None)
    with pytest.raises(BuildFailure, match="Could not find image ref in output"):
        CustomBuilder(None).build(_target(tmp_path, "true", outputs_image_ref_to=str(tmp_path / "never.txt"),
                                          skips_local_docker=True), {}, lambda _line: None)
    (tmp_path / "bad.txt").write_text("no-tag-here")
    with pytest.raises(BuildFailure, match="was invalid"):
        CustomBuilder(None).build(_target(tmp_path, "echo no-tag-here > bad.txt",
                                          outputs_image_ref_to=str(tmp_path / "bad.txt"), skips_local_docker=True),
                                  {}, lambda _line: None)


@needs_docker
def test_builder_image_missing_from_docker(tmp_path: Path) -> None:
    with pytest.raises(BuildFailure, match="Did your custom_build script properly tag the image"):
        CustomBuilder(DOCKER).build(_target(tmp_path, "true"), {}, lambda _line: None)


def test_env_is_the_process_env_plus_target_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILTPY_CB_PARENT", "parent")
    target = _target(tmp_path, 'echo "$TILTPY_CB_PARENT $OWN" > out.txt', env=(("OWN", "own"),),
                     skips_local_docker=True)
    CustomBuilder(None).build(target, {}, lambda _line: None)
    assert (tmp_path / "out.txt").read_text().split() == ["parent", "own"]
    assert os.environ.get("OWN") is None
