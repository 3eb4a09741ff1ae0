"""BuildKit builds through the Docker CLI, as Tilt builds whenever the engine
supports BuildKit.

docker-py speaks only the classic builder, and BuildKit's own client
protocol (a gRPC session for secrets and SSH) is the Docker CLI's job. So the
filtered context tar is streamed into `docker build -` and the CLI's
`--progress=plain` output is parsed into the resource's log step by step.

Which CLI works is detected, not assumed: `docker buildx` when the plugin is
there; otherwise a CLI older than 23.0, whose `docker build` has BuildKit
built in (DOCKER_BUILDKIT=1). A CLI of 23.0 or later without buildx cannot
build with BuildKit at all."""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterable

Log = Callable[[str], None]

# The engine API version from which BuildKit is stable (Docker 18.09).
MIN_BUILDKIT_API = (1, 39)


class BuildKitUnavailable(Exception):
    """The CLI could not build with BuildKit at all (not the user's build failing)."""


def buildkit_requested(environ: dict[str, str] | os._Environ[str]) -> bool | None:
    """DOCKER_BUILDKIT as Docker reads it: True/False when set, None when not."""
    value = environ.get("DOCKER_BUILDKIT", "").strip()
    if not value:
        return None
    lowered = value.lower()
    if lowered in ("1", "t", "true", "y", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "n", "no", "off"):
        return False
    raise ValueError(f"DOCKER_BUILDKIT environment variable expects boolean value, got {value!r}")


def api_supports_buildkit(api_version: str) -> bool:
    try:
        major, minor = (int(p) for p in api_version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= MIN_BUILDKIT_API


@dataclass(frozen=True)
class BuildKitCLI:
    """How to run a BuildKit build: the argv prefix and extra environment."""

    command: tuple[str, ...]  # e.g. ("docker", "buildx", "build", "--load") or ("docker", "build")
    env: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return "`" + " ".join(os.path.basename(self.command[0]) if i == 0 else c
                              for i, c in enumerate(self.command)) + "`"


def detect_cli(docker: str | None = None, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
               ) -> tuple[BuildKitCLI | None, str]:
    """(the CLI to build with, or None with the reason)."""
    docker = docker or shutil.which("docker")
    if not docker:
        return None, "no `docker` CLI on PATH"

    def probe(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return run([docker, *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None

    buildx = probe("buildx", "version")
    if buildx is not None and buildx.returncode == 0:
        return BuildKitCLI((docker, "buildx", "build", "--load")), ""
    version = probe("version", "--format", "{{.Client.Version}}")
    if version is None or not version.stdout.strip():
        return None, f"`{docker} version` failed"
    client = version.stdout.strip()
    match = re.match(r"(\d+)\.", client)
    if match and int(match.group(1)) < 23:
        return BuildKitCLI((docker, "build"), (("DOCKER_BUILDKIT", "1"),)), ""
    return None, f"the docker CLI {client} needs the buildx plugin for BuildKit, and it is missing"


@dataclass(frozen=True)
class BuildRequest:
    """Everything a `docker build` needs besides the context tar."""

    dockerfile: str  # path of the Dockerfile inside the tar
    labels: tuple[tuple[str, str], ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    target: str = ""
    network: str = ""
    platform: str = ""
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()


def build_argv(cli: BuildKitCLI, request: BuildRequest, iidfile: str) -> list[str]:
    argv = [*cli.command, "--progress=plain", "--iidfile", iidfile, "-f", request.dockerfile]
    for key, value in request.labels:
        argv += ["--label", f"{key}={value}"]
    for key, value in request.build_args:
        argv += ["--build-arg", f"{key}={value}"]
    for flag, value in (("--target", request.target), ("--network", request.network),
                        ("--platform", request.platform)):
        if value:
            argv += [flag, value]
    if request.pull:
        argv.append("--pull")
    for flag, values in (("--cache-from", request.cache_from), ("--secret", request.secrets),
                         ("--ssh", request.ssh), ("--add-host", request.extra_hosts)):
        for value in values:
            argv += [flag, value]
    argv.append("-")  # the context is the tar on stdin
    return argv


_STEP_LINE = re.compile(r"^#(\d+) (.*)$")
_OUTPUT = re.compile(r"^(\d+\.\d+) (.*)$")
_NOISE = re.compile(r"^(sha256:[0-9a-f]+|transferring .*|resolve .*|extracting .*|exporting .*|writing image .*|"
                    r"naming to .*|copy /context /|\[auth\].*|unpacking .*|preparing .*|sending tarball .*|importing .*)$")


@dataclass
class _Step:
    name: str
    internal: bool
    shown: bool = False


@dataclass
class ProgressPrinter:
    """Turns `--progress=plain` lines into log lines: a header per build step
    (`[2/4] RUN npm ci`), its output indented below it, CACHED marks, errors.
    BuildKit's own housekeeping ([internal] steps, digests, export) is left
    out unless it fails."""

    log: Log
    steps: dict[str, _Step] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)
    failed_step: str = ""
    saw_step: bool = False
    last_plain: str = ""
    _current: str = ""

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.line(line.rstrip("\r\n"))

    def line(self, line: str) -> None:
        match = _STEP_LINE.match(line)
        if match is None:
            self._plain(line)
            return
        self.saw_step = True
        vertex, rest = match.groups()
        step = self.steps.get(vertex)
        if step is None:
            name = re.sub(r"^\[stage-0 ", "[", rest)  # BuildKit's name for an unnamed single stage
            step = self.steps[vertex] = _Step(name, name.startswith("[internal]") or _NOISE.match(name) is not None)
            self._header(vertex, step)
            return
        if rest.startswith("ERROR"):
            self.failed_step = step.name
            self._header(vertex, step, force=True)
            self.log(f"    {rest}")
            return
        if step.internal or rest.startswith("DONE") or _NOISE.match(rest):
            return
        if rest == "CACHED":
            self._header(vertex, step)
            self.log("    CACHED")
            return
        output = _OUTPUT.match(rest)
        self._header(vertex, step)
        self.log(f"    {output.group(2) if output else rest}")

    def _header(self, vertex: str, step: _Step, force: bool = False) -> None:
        if step.internal and not force:
            return
        if not step.shown or self._current != vertex:
            step.shown = True
            self._current = vertex
            self.log(f"  {step.name}")

    def _plain(self, line: str) -> None:
        if not line.strip():
            return
        self._current = ""
        if line.lower().startswith("error:"):
            self.errors.append(line.split(":", 1)[1].strip())
        elif not line.startswith(("------", " >", "  ")) and not re.match(r"^\s*\d+ \|", line):
            self.last_plain = line.strip()  # the CLI 20.10 prints its final error without a prefix
        self.log(f"    {line}")

    def failure_message(self, returncode: int) -> str:
        error = (self.errors[-1] if self.errors else self.last_plain) or f"docker build exited with code {returncode}"
        # BuildKit wraps the cause in layers of gRPC plumbing; the user needs the cause.
        error = re.sub(r"^(failed to solve( with frontend [\w.]+)?: )?(rpc error: code = \w+ desc = )?", "", error)
        error = re.sub(r"^failed to solve( with frontend [\w.]+)?: ", "", error)
        step = self.failed_step
        return f"{step}: {error}" if step and step not in error else error
