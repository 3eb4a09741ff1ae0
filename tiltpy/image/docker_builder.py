"""Builds image targets with the Docker Engine API and tags the result
`<ref>:tilt-<first 16 hex of the image id>`, as Tilt does.

Blocking (docker-py); the engine runs it in a worker thread and passes a
thread-safe log function."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
import threading
import time
from typing import IO, Any, Callable, Iterator, Mapping

import docker
import docker.errors

from tiltpy import children
from tiltpy.image.buildkit import BuildKitCLI, BuildKitUnavailable, BuildRequest, ProgressPrinter, \
    api_supports_buildkit, build_argv, buildkit_requested, detect_cli
from tiltpy.image.context import DOCKERFILE_IN_TAR, BuildContext, ContextNotFound, collect_context, \
    dockerfile_name_in_tar, inputs_digest, write_context_tar
from tiltpy.image.dockerfile import ref_matches, ref_name, rewrite_image_refs
from tiltpy.image.reuse_cache import ReuseHints
from tiltpy.model.images import BuiltImage
from tiltpy.model.manifest import ImageTarget

LABEL_REF = "dev.tiltpy.ref"
LABEL_INPUTS = "dev.tiltpy.inputs"

Log = Callable[[str], None]


class BuildFailure(Exception):
    """The user's build failed (a RUN step, a bad Dockerfile): their fault, shown as is."""


class DockerUnavailable(Exception):
    """No Docker Engine to talk to: tell the user where we looked."""


def _absolute(context: BuildContext) -> frozenset[str]:
    return frozenset(os.path.join(context.directory, rel) for rel in context.files)


class _TarSender:
    """Writes the context tar into a pipe from its own thread, so the build
    reads it as it is produced: memory stays flat for any context size."""

    def __init__(self, context: BuildContext, dockerfile: str, dockerfile_name: str, *, classic: bool) -> None:
        self._args = (context, dockerfile, dockerfile_name)
        self._classic = classic
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.sent = 0

    def start(self, pipe: IO[bytes]) -> None:
        self._thread = threading.Thread(target=self._run, args=(pipe,), name="context-tar", daemon=True)
        self._thread.start()

    def _run(self, pipe: IO[bytes]) -> None:
        context, dockerfile, name = self._args
        hide = self._classic and name == DOCKERFILE_IN_TAR
        try:
            self.sent = write_context_tar(context, dockerfile, name, pipe.write, classic_dockerignore=hide)
        except (BrokenPipeError, ValueError):
            pass  # the builder stopped reading: its own error says why
        except OSError as err:
            self._error = err
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def raise_error(self) -> None:
        if self._error is not None:
            raise BuildFailure(f"cannot send the build context: {self._error}")


def _chunks(pipe: IO[bytes], size: int = 1 << 16) -> Iterator[bytes]:
    """The request body for the classic build: fixed-size chunks (a file object
    would be sent line by line, and a binary "line" can be huge)."""
    while chunk := pipe.read(size):
        yield chunk


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def tilt_tag(image_id: str) -> str:
    return "tilt-" + image_id.split(":", 1)[-1][:16]


def connect() -> docker.APIClient:
    """The engine the `docker` CLI talks to: DOCKER_HOST, else the CLI's
    current context (`docker context use`, DOCKER_CONTEXT: Docker Desktop,
    Rancher Desktop, colima and OrbStack all select theirs this way)."""
    try:
        client = _client_for_cli_context()
        client.ping()
        return client
    except docker.errors.DockerException as err:
        raise DockerUnavailable(
            f"Cannot connect to the Docker Engine ({err}). Is dockerd running, and is DOCKER_HOST "
            "(or the current `docker context`) right?"
        ) from None


def _client_for_cli_context() -> docker.APIClient:
    if not os.environ.get("DOCKER_HOST"):
        name = os.environ.get("DOCKER_CONTEXT", "")
        context = docker.ContextAPI.get_context(name or None)
        if context is None and name:
            raise docker.errors.DockerException(f"DOCKER_CONTEXT names {name!r}, which `docker context ls` lacks")
        if context is not None and context.Host and context.name != "default":
            return docker.APIClient(base_url=context.Host, tls=context.TLSConfig or False, timeout=600,
                                    version="auto")
    return docker.from_env(timeout=600).api


def rewritten_dockerfile(target: ImageTarget, deps: dict[str, BuiltImage]) -> tuple[str, int]:
    """Point FROM / COPY --from at the exact images just built for the bases."""

    def replacement(found: str) -> str | None:
        for dep_ref, built in deps.items():
            if ref_matches(dep_ref, found):
                return built.local_ref
        return None

    return rewrite_image_refs(target.dockerfile_contents, replacement, dict(target.build_args))


def detect_buildkit(client: docker.APIClient, environ: Mapping[str, str] = os.environ,
                    ) -> tuple[BuildKitCLI | None, str]:
    """Tilt's rule: BuildKit unless DOCKER_BUILDKIT says no or the engine is too
    old; and here also only when a `docker` CLI that can drive it exists.
    Returns (the CLI, or None with the reason for the classic builder)."""
    try:
        wanted = buildkit_requested(environ)
    except ValueError as err:
        return None, str(err)
    if wanted is False:
        return None, "DOCKER_BUILDKIT=0"
    try:
        api = str(client.version().get("ApiVersion", ""))
    except docker.errors.DockerException as err:
        return None, f"cannot read the Docker Engine's version: {err}"
    if not api_supports_buildkit(api):
        return None, f"the Docker Engine's API {api} predates BuildKit"
    return detect_cli()


class DockerBuilder:
    def __init__(self, client: docker.APIClient, buildkit: BuildKitCLI | None = None,
                 classic_reason: str = "", *, detected: bool = True) -> None:
        self.client = client
        self.buildkit = buildkit
        self.classic_reason = classic_reason
        # Which builder to use takes running the docker CLI (~0.1 s); an image
        # reused from the cache needs neither, so `up` starts without waiting
        # for it: detection runs once, when first needed (see ensure_detected).
        self._detected = detected
        self._detect_lock = threading.Lock()
        self.reuse_hints = ReuseHints(str(client.base_url))

    @classmethod
    def detect(cls, client: docker.APIClient) -> DockerBuilder:
        return cls(client, *detect_buildkit(client))

    @classmethod
    def undetected(cls, client: docker.APIClient) -> DockerBuilder:
        """A builder that finds out how to build when it first has to (blocking, any thread)."""
        return cls(client, detected=False)

    def ensure_detected(self) -> None:
        with self._detect_lock:
            if not self._detected:
                self.buildkit, self.classic_reason = detect_buildkit(self.client)
                self._detected = True

    def describe(self) -> str:
        if self.buildkit is not None:
            return f"BuildKit via {self.buildkit.describe()}"
        return f"the classic builder ({self.classic_reason})" if self.classic_reason else "the classic builder"

    def find_reusable(self, target: ImageTarget, inputs: str) -> tuple[str, list[str]] | None:
        """(image ID, its tags) of an image built from these inputs, if the
        engine has one: the one remembered from last time when it still
        carries these labels (one inspect), else a search by label."""
        hint = self.reuse_hints.get(target.ref, inputs)
        if hint:
            try:
                image = self.client.inspect_image(hint)
            except docker.errors.NotFound:
                image = None
            labels = ((image or {}).get("Config") or {}).get("Labels") or {}
            if image and labels.get(LABEL_REF) == target.ref and labels.get(LABEL_INPUTS) == inputs:
                return image["Id"], list(image.get("RepoTags") or [])
        images = self.client.images(filters={"label": [f"{LABEL_REF}={target.ref}", f"{LABEL_INPUTS}={inputs}"]})
        if not images:
            return None
        self.reuse_hints.put(target.ref, inputs, images[0]["Id"])
        return images[0]["Id"], list(images[0].get("RepoTags") or [])

    def build(self, target: ImageTarget, deps: dict[str, BuiltImage], log: Log,
              force: bool = False) -> BuiltImage:
        """Build (or reuse) the image. Every failure is a BuildFailure saying
        what went wrong, an unreachable Docker Engine included."""
        try:
            return self._build(target, deps, log, force)
        except BuildFailure:
            raise
        except docker.errors.APIError as err:
            raise BuildFailure(f"the Docker Engine refused: {err.explanation or err}") from None
        except (docker.errors.DockerException, OSError) as err:
            raise self._unreachable(err) from None

    def _unreachable(self, err: BaseException) -> BuildFailure:
        return BuildFailure(f"cannot reach the Docker Engine at {self.client.base_url} ({err}); "
                            "is dockerd running? The next change or trigger retries")

    def _engine_reachable(self) -> bool:
        try:
            self.client.ping()
            return True
        except (docker.errors.DockerException, OSError):
            return False

    def _build(self, target: ImageTarget, deps: dict[str, BuiltImage], log: Log, force: bool) -> BuiltImage:
        dockerfile, rewrites = rewritten_dockerfile(target, deps)
        try:
            context = collect_context(target)
        except ContextNotFound as err:
            raise BuildFailure(str(err)) from None
        inputs = inputs_digest(target, context, dockerfile)
        name = ref_name(target.ref)
        if not force:
            found = self.find_reusable(target, inputs)
            if found:
                image_id, tags = found
                local_ref = f"{name}:{tilt_tag(image_id)}"
                if local_ref not in tags:  # usually still tagged from when it was built: no call
                    self.client.tag(image_id, name, tilt_tag(image_id))
                log(f"Reusing image {local_ref}: its inputs are unchanged")
                return BuiltImage(target.ref, image_id, local_ref, local_ref, inputs, reused=True,
                                  context_files=_absolute(context))

        self.ensure_detected()
        if rewrites:
            log("Building Dockerfile (FROM rewritten to the images just built):")
        else:
            log("Building Dockerfile:")
        for line in dockerfile.rstrip("\n").splitlines():
            log(f"  {line}")
        log("")
        started = time.monotonic()
        request = BuildRequest(
            dockerfile=dockerfile_name_in_tar(target, context),
            labels=((LABEL_REF, target.ref), (LABEL_INPUTS, inputs)), build_args=target.build_args,
            target=target.target, network=target.network, platform=target.platform, pull=target.pull,
            cache_from=target.cache_from, secrets=target.secrets, ssh=target.ssh, extra_hosts=target.extra_hosts)
        image_id = ""
        if self.buildkit is not None:
            try:
                image_id, sent = self._build_buildkit(self.buildkit, request, context, dockerfile, log)
            except BuildKitUnavailable as err:
                self.buildkit, self.classic_reason = None, str(err)
                log(f"  BuildKit is unavailable ({err}); building with the classic builder from now on")
        if not image_id:
            if target.secrets or target.ssh:
                raise BuildFailure("docker_build secret= and ssh= need BuildKit, which is unavailable: "
                                   f"{self.classic_reason or 'unknown reason'}")
            image_id, sent = self._build_classic(request, context, dockerfile, log)
        tag = tilt_tag(image_id)
        self.client.tag(image_id, name, tag)
        for extra in target.extra_tags:
            extra_name, _, extra_tag = extra.rpartition(":") if ":" in extra.split("/")[-1] else (extra, "", "latest")
            self.client.tag(image_id, extra_name, extra_tag or "latest")
        local_ref = f"{name}:{tag}"
        self.reuse_hints.put(target.ref, inputs, image_id)
        log(f"Built {local_ref} in {time.monotonic() - started:.1f}s "
            f"(context: {len(context.files)} files, {_size(sent)})")
        return BuiltImage(target.ref, image_id, local_ref, local_ref, inputs, context_files=_absolute(context))

    def _build_buildkit(self, cli: BuildKitCLI, request: BuildRequest, context: BuildContext, dockerfile: str,
                        log: Log) -> tuple[str, int]:
        printer = ProgressPrinter(log)
        with tempfile.TemporaryDirectory(prefix="tiltpy-build-") as tmp:
            iidfile = os.path.join(tmp, "iid")
            try:
                proc = children.popen(build_argv(cli, request, iidfile), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      env={**os.environ, **dict(cli.env)}, cwd=tmp)
            except children.Stopping as err:
                raise BuildFailure(str(err)) from None
            except OSError as err:
                raise BuildKitUnavailable(f"cannot run {cli.describe()}: {err}") from None
            assert proc.stdin is not None and proc.stdout is not None
            sender = _TarSender(context, dockerfile, request.dockerfile, classic=False)
            sender.start(proc.stdin)
            captured: list[str] = []
            with children.tracked(proc):
                try:
                    for raw in proc.stdout:
                        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                        if not printer.saw_step and len(captured) < 20:
                            captured.append(line)
                        printer.line(line)
                except BaseException:
                    proc.kill()
                    raise
                finally:
                    returncode = proc.wait()
                    proc.stdout.close()
                    sender.join()
            if children.stopping():
                raise BuildFailure("stopped: tiltpy is stopping")
            if returncode != 0:
                if not printer.saw_step:
                    reason = " ".join(l.strip() for l in captured if l.strip()) or \
                        f"{cli.describe()} exited with code {returncode}"
                    if not self._engine_reachable():  # the engine is down, not BuildKit broken
                        raise self._unreachable(reason)
                    raise BuildKitUnavailable(reason)
                raise BuildFailure(printer.failure_message(returncode))
            sender.raise_error()
            try:
                with open(iidfile, encoding="utf-8") as f:
                    image_id = f.read().strip()
            except OSError:
                image_id = ""
        if not image_id:
            raise BuildFailure(f"{cli.describe()} finished without reporting an image ID")
        return image_id, sender.sent

    def _build_classic(self, request: BuildRequest, context: BuildContext, dockerfile: str,
                       log: Log) -> tuple[str, int]:
        kwargs: dict[str, Any] = dict(
            custom_context=True, dockerfile=request.dockerfile, rm=True, forcerm=True, decode=True,
            buildargs=dict(request.build_args) or None, labels=dict(request.labels), pull=request.pull)
        if request.target:
            kwargs["target"] = request.target
        if request.network:
            kwargs["network_mode"] = request.network
        if request.cache_from:
            kwargs["cache_from"] = list(request.cache_from)
        if request.platform:
            kwargs["platform"] = request.platform
        if request.extra_hosts:
            kwargs["extra_hosts"] = list(request.extra_hosts)
        sender = _TarSender(context, dockerfile, request.dockerfile, classic=True)
        read_fd, write_fd = os.pipe()
        sender.start(os.fdopen(write_fd, "wb"))
        reader = os.fdopen(read_fd, "rb")
        image_id = ""
        partial = ""
        try:
            for event in self.client.build(fileobj=_chunks(reader), **kwargs):
                if "stream" in event:
                    partial += event["stream"]
                    *lines, partial = partial.split("\n")
                    for line in lines:
                        log(f"    {line}" if line else "")
                elif "error" in event:
                    if partial:
                        log(f"    {partial}")
                    raise BuildFailure(event.get("error", "").strip() or "build failed")
                elif "aux" in event and isinstance(event["aux"], dict) and "ID" in event["aux"]:
                    image_id = event["aux"]["ID"]
        except docker.errors.APIError as err:
            raise BuildFailure(err.explanation or str(err)) from None
        finally:
            reader.close()  # unblocks the sender if the engine stopped reading early
            sender.join()
        sender.raise_error()
        if partial:
            log(f"    {partial}")
        if not image_id:
            raise BuildFailure("the Docker Engine finished the build without reporting an image ID")
        return image_id, sender.sent

    def push(self, built: BuiltImage, registry: str, registry_from_cluster: str, log: Log) -> BuiltImage:
        """Tag the image into the registry, push it, and return it with the
        ref the cluster pulls."""
        escaped = ref_name(built.target_ref).replace("/", "_").replace("@", "_")
        tag = built.local_ref.rsplit(":", 1)[1]
        push_name = f"{registry}/{escaped}"
        self.client.tag(built.image_id, push_name, tag)
        log(f"Pushing {push_name}:{tag}")
        last: dict[str, Any] = {}
        for event in self.client.push(push_name, tag=tag, stream=True, decode=True):
            last = event
            if "error" in event:
                raise BuildFailure(f"push of {push_name}:{tag} failed: {event['error']}")
        del last
        cluster_name = f"{registry_from_cluster or registry}/{escaped}"
        return dataclasses.replace(built, cluster_ref=f"{cluster_name}:{tag}")
