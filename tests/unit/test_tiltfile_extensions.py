"""Composition: load() rules, include(), load_dynamic(), load('ext://...'),
and the shipped restart_process extension (checked in real containers)."""
from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.unit.test_tiltfile_support import DEPLOYMENT, Project, project  # noqa: F401
from tiltpy.model.manifest import Run, Sync
from tiltpy.tiltfile.builtins.extensions import SHIPPED_DIR

WRAPPER = Path(SHIPPED_DIR) / "restart_process" / "tilt-restart-wrapper.sh"


def test_load_rules(project: Project) -> None:
    project.file("lib/helpers.star", "NAME = __name__\ndef where():\n    return __file__\n")
    project.file("lib/more.star", "load('helpers.star', 'NAME')\nALSO = NAME\n")
    result = project.ok("""
        load('lib/helpers.star', 'where', n = 'NAME')
        load('./lib/more.star', 'ALSO')
        print(where(), n, ALSO, __name__)
    """)
    assert result.logs == [f"{project.path('lib/helpers.star')} helpers.star helpers.star __main__"]
    for name in ("lib/helpers.star", "lib/more.star"):
        assert project.path(name) in result.watched_files
    assert "no such file" in project.error("load('missing.star', 'x')\n")
    project.file("a.star", "load('b.star', 'B')\nA = 1\n")
    project.file("b.star", "load('a.star', 'A')\nB = 1\n")
    assert "Circular load" in project.error("load('a.star', 'A')\n")


def test_include_runs_once_for_side_effects(project: Project) -> None:
    project.file("sub/Tiltfile", "print('sub ran', os.getcwd())\nk8s_yaml('k.yml')\n")
    project.file("sub/k.yml", DEPLOYMENT.format(name="sub-app", image="busybox"))
    result = project.ok("include('sub/Tiltfile')\ninclude('./sub/Tiltfile')\n")
    assert result.logs == [f"sub ran {project.path('sub')}"]
    assert [m.name for m in result.manifests] == ["sub-app"]


def test_load_dynamic(project: Project) -> None:
    project.file("lib.star", """
        COUNT = 3
        DATA = {'k': [1, 2]}
        def double(x, times = 2):
            return x * times
        def step(path):
            return sync(path, '/app')
        if COUNT > 5:
            NEVER = 1
        _private = 1
    """)
    result = project.ok("""
        symbols = load_dynamic('lib.star')
        print(sorted(symbols.keys()))
        print(symbols['COUNT'], symbols['DATA'], symbols['double'](21), symbols['double'](2, times = 5))
        docker_build('img', '.', live_update = [symbols['step']('.')])
        again = load_dynamic('./lib.star')
        print(again['COUNT'])
    """)
    assert result.logs[0] == '["COUNT", "DATA", "double", "step"]'
    assert result.logs[1:] == ['3 {"k": [1, 2]} 42 10', "3"]


def test_extensions_dir_overrides(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$TILTPY_EXTENSIONS_DIR holds NAME/Tiltfile: used before any repo (offline)."""
    ext_dir = tmp_path / "exts"
    (ext_dir / "hello_world").mkdir(parents=True)
    (ext_dir / "hello_world" / "Tiltfile").write_text("def hi():\n    print('Hello world!')\n")
    (ext_dir / "nested" / "inner").mkdir(parents=True)
    (ext_dir / "nested" / "inner" / "Tiltfile").write_text("X = 'nested'\n")
    monkeypatch.setenv("TILTPY_EXTENSIONS_DIR", str(ext_dir))
    result = project.ok("load('ext://hello_world', 'hi')\nload('ext://nested/inner', 'X')\nhi()\nprint(X)\n"
                        "d = load_dynamic('ext://hello_world')\nd['hi']()\n")
    assert result.logs == ["Hello world!", "nested", "Hello world!"]
    assert str(ext_dir / "hello_world" / "Tiltfile") in result.watched_files
    assert result.api_objects == []  # an override goes through no repo
    assert "invalid extension name" in project.error("load('ext://../escape', 'x')\n")


def test_restart_process_builds_one_image_with_the_wrapper(project: Project) -> None:
    project.file("app/Dockerfile", "FROM busybox AS build\nRUN true\nFROM busybox AS dev\nCOPY . /app\n"
                 "FROM busybox AS prod\nCOPY . /srv\n")
    project.file("k.yml", DEPLOYMENT.format(name="app", image="app-image"))
    result = project.ok("""
        load('ext://restart_process', 'docker_build_with_restart')
        k8s_yaml('k.yml')
        docker_build_with_restart('app-image', 'app', entrypoint=['/app/server', '--port', '80'],
                                  live_update=[sync('app', '/app')], target='dev', trigger=['app/server'],
                                  exit_policy='continue')
    """)
    manifest = result.manifest("app")
    assert [t.ref for t in manifest.image_targets] == ["tiltpy-restart-helper", "app-image"]
    helper, app = manifest.image_targets
    assert helper.context == str(WRAPPER.parent) and helper.only == ("tilt-restart-wrapper.sh",)
    assert app.context == project.path("app") and app.target == "dev"
    assert app.image_deps == ("tiltpy-restart-helper",) and app.restart_file == "/tmp/.restart-proc"
    wrapped = ("/bin/sh", "/tilt-restart-wrapper", "--watch_file=/tmp/.restart-proc", "--entr_flags=-r", "--",
               "/app/server", "--port", "80")
    assert app.entrypoint == wrapped
    assert app.live_update == (Sync(project.path("app"), "/app"),
                               Run(("sh", "-c", "date > /tmp/.restart-proc"), (project.path("app/server"),)))
    # The wrapper goes at the end of the target stage, before the next FROM.
    stages = app.dockerfile_contents.split("FROM busybox AS prod")
    assert "COPY --from=tiltpy-restart-helper /tilt-restart-wrapper /tilt-restart-wrapper" in stages[0]
    assert 'ENTRYPOINT ["/bin/sh","/tilt-restart-wrapper"' in stages[0]
    assert "restart" not in stages[1]
    assert project.path("app/Dockerfile") in result.watched_files
    assert not result.warnings


@pytest.mark.parametrize("tiltfile, expected", [
    ("docker_build_with_restart('a', '.', 'x', live_update=[])\n", "requires at least one live_update step"),
    ("docker_build_with_restart('a', '.', 'x', live_update=[restart_container()])\n",
     "is not compatible with live_update step: `restart_container()`"),
    ("docker_build_with_restart('a', '.', 3, live_update=[sync('.', '/a')])\n", "`entrypoint` must be a string"),
    ("docker_build_with_restart('a', '.', 'x', live_update=[sync('.', '/a')], exit_policy='never')\n",
     "`exit_policy` must be 'restart' or 'continue'"),
])
def test_restart_process_errors(project: Project, tiltfile: str, expected: str) -> None:
    assert expected in project.error("load('ext://restart_process', 'docker_build_with_restart')\n" + tiltfile)


def test_custom_build_with_restart(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="app-image"))
    result = project.ok("""
        load('ext://restart_process', 'custom_build_with_restart')
        k8s_yaml('k.yml')
        custom_build_with_restart('app-image', 'docker build -t $EXPECTED_REF .', deps=['.'],
                                  entrypoint='/bin/app', live_update=[sync('.', '/src')])
    """)
    refs = [t.ref for t in result.manifest("app").image_targets]
    assert refs[-1] == "app-image" and "app-image-tilt_docker_build_with_restart_base" in refs
    assert "skips_local_docker" in project.error(
        "load('ext://restart_process', 'custom_build_with_restart')\n"
        "custom_build_with_restart('a', 'x', ['.'], 'e', live_update=[sync('.', '/a')], skips_local_docker=True)\n")


# --- in real containers ------------------------------------------------------------------

def _docker_ok(image: str) -> bool:
    try:
        return subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


IMAGES = [i for i in ("busybox:latest", "debian:bookworm-slim") if _docker_ok(i)]
needs_images = pytest.mark.skipif(not IMAGES, reason="needs Docker with busybox or debian:bookworm-slim")


class Container:
    def __init__(self, image: str, *args: str, mount: bool = True) -> None:
        self.name = f"tiltpy-restart-{uuid.uuid4().hex[:8]}"
        volume = ["-v", f"{WRAPPER}:/tilt-restart-wrapper:ro"] if mount else []
        subprocess.run(["docker", "run", "-d", "--name", self.name, *volume, image, *args],
                       check=True, capture_output=True, timeout=60)

    def exec(self, script: str) -> None:
        subprocess.run(["docker", "exec", self.name, "sh", "-c", script], check=True, capture_output=True, timeout=30)

    def logs(self) -> str:
        return subprocess.run(["docker", "logs", self.name], capture_output=True, text=True, timeout=30).stdout

    def wait_for(self, text: str, count: int = 1, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = self.logs()
            if logs.count(text) >= count:
                return logs
            time.sleep(0.1)
        raise AssertionError(f"{text!r} x{count} not in logs:\n{self.logs()}")

    def state(self) -> tuple[bool, int]:
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", self.name],
                             capture_output=True, text=True, timeout=30).stdout.split()
        return out[0] == "true", int(out[1])

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, timeout=60)


APP = 'echo "started $(cat /tmp/version 2>/dev/null || echo v1)"; trap "exit 0" TERM; while :; do sleep 1; done'


@needs_images
@pytest.mark.parametrize("image", IMAGES)
def test_wrapper_restarts_on_change_and_stops_on_term(image: str) -> None:
    c = Container(image, "/bin/sh", "/tilt-restart-wrapper", "--watch_file=/tmp/.restart-proc", "--",
                  "sh", "-c", APP)
    try:
        c.wait_for("started v1")
        c.exec("echo v2 > /tmp/version && date > /tmp/.restart-proc")
        c.wait_for("started v2")
        # Two writes within one second are two restarts (entr reacts to writes).
        c.exec("echo v3 > /tmp/version && date > /tmp/.restart-proc")
        c.wait_for("started v3")
        c.exec("echo v4 > /tmp/version && date > /tmp/.restart-proc")
        c.wait_for("started v4")
        assert c.state() == (True, 0)
        started = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "10", c.name], check=True, capture_output=True, timeout=30)
        assert time.monotonic() - started < 5  # TERM reached the process; no 10 s kill
        assert c.state() == (False, 0)
    finally:
        c.remove()


@needs_images
@pytest.mark.parametrize("image", IMAGES)
def test_wrapper_exit_policies(image: str) -> None:
    exits = Container(image, "/bin/sh", "/tilt-restart-wrapper", "sh", "-c", "echo ran; sleep 0.5; exit 3")
    keeps = Container(image, "/bin/sh", "/tilt-restart-wrapper", "--entr_flags=-r", "--", "sh", "-c",
                      "echo ran; exit 4")
    try:
        deadline = time.monotonic() + 10
        while exits.state()[0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exits.state() == (False, 3)  # default ('restart'): the container ends with the process
        keeps.wait_for("ran")
        time.sleep(1)
        assert keeps.state()[0]  # 'continue': waits for the next live update
        keeps.exec("date > /tmp/.restart-proc")
        keeps.wait_for("ran", count=2)
    finally:
        exits.remove()
        keeps.remove()


@needs_images
def test_restart_process_image_end_to_end(project: Project) -> None:
    """Build the images docker_build_with_restart declares (with tiltpy's
    builder) and run the result the way Compose would: no command override."""
    from tiltpy.image.docker_builder import DockerBuilder, connect
    from tiltpy.tiltfile.loader import load_tiltfile
    from tiltpy.tiltfile.state import LoadOptions

    base = IMAGES[-1]
    project.file("app/Dockerfile", f"FROM {base}\nCOPY . /app\n")
    project.file("app/run.sh", 'echo "app $(cat /app/version)"\ntrap "exit 0" TERM\nwhile :; do sleep 1; done\n')
    project.file("app/version", "one\n")
    project.file("k.yml", DEPLOYMENT.format(name="app", image="tiltpy-restart-e2e"))
    project.file("Tiltfile", "load('ext://restart_process', 'docker_build_with_restart')\nk8s_yaml('k.yml')\n"
                 "docker_build_with_restart('tiltpy-restart-e2e', 'app', entrypoint='sh /app/run.sh',\n"
                 "                          live_update=[sync('app', '/app')])\n")
    result = load_tiltfile(project.path("Tiltfile"), LoadOptions(k8s_context="docker-desktop"))
    assert result.error == ""
    builder = DockerBuilder.detect(connect())
    built: dict = {}
    for target in result.manifest("app").image_targets:
        built[target.ref] = builder.build(target, {d: built[d] for d in target.image_deps}, lambda _line: None)
    c = Container(built["tiltpy-restart-e2e"].local_ref, mount=False)
    try:
        c.wait_for("app one")
        # What the live update does: copy the changed file, then run the appended step.
        c.exec("echo two > /app/version && date > /tmp/.restart-proc")
        c.wait_for("app two")
    finally:
        c.remove()
        for image in built.values():
            subprocess.run(["docker", "rmi", image.local_ref], capture_output=True, timeout=60)
