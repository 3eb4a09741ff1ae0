"""BuildKit through the Docker CLI: detection, the command line, progress
parsing, the streamed context tar, and docker_build's BuildKit arguments."""
from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.k8s_yaml import DEPLOYMENT
from tests.unit.test_tiltfile_support import Project, project  # noqa: F401  (fixture)
from tiltpy.image.buildkit import BuildKitCLI, BuildRequest, ProgressPrinter, api_supports_buildkit, build_argv, \
    buildkit_requested, detect_cli
from tiltpy.image.context import DOCKERFILE_IN_TAR, BuildContext, dockerfile_name_in_tar, write_context_tar
from tiltpy.model.manifest import ImageTarget


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("", None), ("1", True), ("true", True), ("0", False),
                                             ("false", False), ("FALSE", False)])
def test_docker_buildkit_env(value: str, expected: bool | None) -> None:
    assert buildkit_requested({"DOCKER_BUILDKIT": value}) is expected


def test_docker_buildkit_env_must_be_boolean() -> None:
    with pytest.raises(ValueError, match="expects boolean value"):
        buildkit_requested({"DOCKER_BUILDKIT": "maybe"})


def test_api_versions() -> None:
    assert api_supports_buildkit("1.41") and api_supports_buildkit("1.39")
    assert not api_supports_buildkit("1.38") and not api_supports_buildkit("junk")


def _fake_cli(buildx_ok: bool, client_version: str):
    calls: list[list[str]] = []

    def run(argv: list[str], **_kw) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        if argv[1:3] == ["buildx", "version"]:
            return subprocess.CompletedProcess(argv, 0 if buildx_ok else 1, "github.com/docker/buildx v0.12.1", "")
        if argv[1] == "version":
            return subprocess.CompletedProcess(argv, 0, client_version + "\n", "")
        raise AssertionError(argv)

    return run, calls


def test_detect_prefers_buildx() -> None:
    run, _ = _fake_cli(True, "27.1.1")
    cli, reason = detect_cli("/usr/bin/docker", run)
    assert cli == BuildKitCLI(("/usr/bin/docker", "buildx", "build", "--load")) and reason == ""


def test_detect_old_cli_has_buildkit_built_in() -> None:
    run, _ = _fake_cli(False, "20.10.24+dfsg1")
    cli, _ = detect_cli("/usr/bin/docker", run)
    assert cli == BuildKitCLI(("/usr/bin/docker", "build"), (("DOCKER_BUILDKIT", "1"),))


def test_detect_new_cli_without_buildx_has_no_buildkit() -> None:
    run, _ = _fake_cli(False, "28.2.2")
    cli, reason = detect_cli("/usr/local/bin/docker", run)
    assert cli is None and "buildx plugin" in reason and "28.2.2" in reason


# --- the command line ------------------------------------------------------------------------------


def test_build_argv_passes_every_option() -> None:
    request = BuildRequest(dockerfile="Dockerfile", labels=(("a", "b"),), build_args=(("X", "1"),), target="dev",
                           network="host", platform="linux/amd64", pull=True, cache_from=("reg/app:cache",),
                           secrets=("id=tok,src=/abs/token",), ssh=("default",), extra_hosts=("db:10.0.0.2",))
    argv = build_argv(BuildKitCLI(("docker", "build")), request, "/tmp/iid")
    assert argv == ["docker", "build", "--progress=plain", "--iidfile", "/tmp/iid", "-f", "Dockerfile",
                    "--label", "a=b", "--build-arg", "X=1", "--target", "dev", "--network", "host",
                    "--platform", "linux/amd64", "--pull", "--cache-from", "reg/app:cache",
                    "--secret", "id=tok,src=/abs/token", "--ssh", "default", "--add-host", "db:10.0.0.2", "-"]


# --- progress ------------------------------------------------------------------------------------------

PLAIN_20_10 = """\
#1 [internal] load build definition from .tiltpy.Dockerfile
#1 sha256:e95fa44ca01608de81b835422d5de81e593cf422debd7d6e48033fa81da3a90d
#1 transferring dockerfile: 281B done
#1 DONE 0.0s

#4 [1/3] FROM docker.io/library/busybox
#4 CACHED

#5 [2/3] RUN npm ci
#5 sha256:32301fdf6268042bf1a1cc6a80a2723376ca571e0fa541286ebeaf4ab731d10d
#5 0.342 added 57 packages
#6 [3/3] RUN exit 3
#5 1.001 done
#6 0.101 about to fail
#6 ERROR: executor failed running [/bin/sh -c exit 3]: exit code: 3
------
 > [3/3] RUN exit 3:
------
executor failed running [/bin/sh -c exit 3]: exit code: 3
"""


def _printed(text: str) -> tuple[list[str], ProgressPrinter]:
    lines: list[str] = []
    printer = ProgressPrinter(lines.append)
    printer.feed(text.splitlines())
    return lines, printer


def test_progress_shows_steps_output_and_cache_hits_not_housekeeping() -> None:
    lines, printer = _printed(PLAIN_20_10)
    assert lines[:6] == ["  [1/3] FROM docker.io/library/busybox", "    CACHED", "  [2/3] RUN npm ci",
                         "    added 57 packages", "  [3/3] RUN exit 3", "  [2/3] RUN npm ci"]
    assert "    done" in lines and "    about to fail" in lines
    assert not any("sha256" in line or "internal" in line or "DONE" in line for line in lines)
    assert printer.saw_step


def test_progress_failure_names_the_step_and_the_cause() -> None:
    _, printer = _printed(PLAIN_20_10)
    assert printer.failure_message(1) == "[3/3] RUN exit 3: executor failed running [/bin/sh -c exit 3]: exit code: 3"


def test_progress_failure_of_buildx_strips_grpc_wrapping() -> None:
    _, printer = _printed("#7 [stage-0 2/2] RUN false\n#7 ERROR: process did not complete successfully\n"
                          "ERROR: failed to solve: rpc error: code = Unknown desc = process \"/bin/sh -c false\" "
                          "did not complete successfully: exit code: 1\n")
    assert printer.failure_message(1) == ('[2/2] RUN false: process "/bin/sh -c false" did not complete '
                                          "successfully: exit code: 1")


def test_progress_without_any_step_is_not_a_build() -> None:
    _, printer = _printed("ERROR: BuildKit is enabled but the buildx component is missing or broken.\n")
    assert not printer.saw_step


# --- the context tar -------------------------------------------------------------------------------------


def _target(tmp_path: Path, dockerfile: str = "Dockerfile") -> ImageTarget:
    return ImageTarget(ref="app", context=str(tmp_path), dockerfile_path=str(tmp_path / dockerfile),
                       dockerfile_contents="FROM busybox\n")


def _tar(context: BuildContext, name: str, classic: bool) -> tuple[bytes, list[str]]:
    out = io.BytesIO()
    sent = write_context_tar(context, "FROM base:tilt-1\n", name, out.write, classic_dockerignore=classic)
    data = out.getvalue()
    assert sent == len(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return data, tar.getnames()


def test_dockerfile_in_the_context_travels_in_its_place(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    context = BuildContext(str(tmp_path), ("Dockerfile", "sub/a.txt"))
    name = dockerfile_name_in_tar(_target(tmp_path), context)
    assert name == "Dockerfile"
    data, names = _tar(context, name, classic=False)
    assert names == ["Dockerfile", "sub", "sub/a.txt"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("Dockerfile").read() == b"FROM base:tilt-1\n"  # the rewritten one


def test_dockerfile_outside_the_context_gets_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    context = BuildContext(str(tmp_path), ("a.txt",))
    assert dockerfile_name_in_tar(_target(tmp_path, "../elsewhere/Dockerfile"), context) == DOCKERFILE_IN_TAR
    _, names = _tar(context, DOCKERFILE_IN_TAR, classic=False)
    assert names == [DOCKERFILE_IN_TAR, "a.txt"]
    _, names = _tar(context, DOCKERFILE_IN_TAR, classic=True)
    assert names == [DOCKERFILE_IN_TAR, ".dockerignore", "a.txt"]


def test_first_tar_header_is_plain_ustar(tmp_path: Path) -> None:
    # The Docker CLI sniffs a tar on stdin from its first 512 bytes alone: an
    # extended (PAX) header first would make it read the tar as a Dockerfile.
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    context = BuildContext(str(tmp_path), ("Dockerfile",))
    data, _ = _tar(context, "Dockerfile", classic=False)
    assert data[156:157] == b"0"  # typeflag: a regular file, not 'x' (PAX) or 'L' (GNU long name)


def test_vanished_file_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    context = BuildContext(str(tmp_path), ("a.txt", "gone.txt"))
    _, names = _tar(context, DOCKERFILE_IN_TAR, classic=False)
    assert names == [DOCKERFILE_IN_TAR, "a.txt"]


# --- docker_build's BuildKit arguments ---------------------------------------------------------


def test_secret_ssh_extra_hosts_reach_the_image_target(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="app"))
    result = project.ok("k8s_yaml('k.yml')\n"
                        "docker_build('app', '.', secret=['id=npm,src=secrets/npmrc', 'id=tok,env=TOKEN'],\n"
                        "             ssh='default', extra_hosts=['db:10.0.0.2'])\n")
    target = result.manifest("app").image_targets[0]
    assert target.secrets == (f"id=npm,src={project.path('secrets/npmrc')}", "id=tok,env=TOKEN")
    assert target.ssh == ("default",)
    assert target.extra_hosts == ("db:10.0.0.2",)


def test_secret_of_type_env_keeps_its_source_name(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="app"))
    result = project.ok("k8s_yaml('k.yml')\ndocker_build('app', '.', secret='type=env,id=tok,src=TOKEN')\n")
    assert result.manifest("app").image_targets[0].secrets == ("type=env,id=tok,src=TOKEN",)


@pytest.mark.parametrize("spec, message", [
    ("id", "must be a key=value pair"),
    ("id=x,type=vault", "unsupported secret type 'vault'"),
    ("id=x,mode=0400", "unexpected key 'mode'"),
])
def test_bad_secret_specs_are_tiltfile_errors(project: Project, spec: str, message: str) -> None:
    error = project.error(f"docker_build('app', '.', secret={spec!r})\n")
    assert message in error and "Tiltfile:1" in error


def test_bad_extra_host_is_a_tiltfile_error(project: Project) -> None:
    assert "expected host:ip" in project.error("docker_build('app', '.', extra_hosts='nocolon')\n")
