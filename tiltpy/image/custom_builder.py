"""custom_build(): run the user's command to build an image, as Tilt's
CustomBuilder does.

Blocking, with the contract of DockerBuilder.build: build(target, deps, log)
returns a BuiltImage. The command runs in custom_build.workdir with the
process environment, the target's env, and:

  EXPECTED_REF       the ref the command must build (name:tag; with a default
                     registry: registry/escaped-name:tag)
  EXPECTED_IMAGE     its path without registry (docker.io names get library/)
  EXPECTED_TAG       its tag: tilt-build-<unix seconds>, or custom_build(tag=)
  EXPECTED_REGISTRY  (and REGISTRY_HOST) the default registry, when one is set
  TILT_IMAGE_i / TILT_IMAGE_MAP_i   for image_deps[i]: the dependency's local
                     ref, and its ImageTarget ref

Modes: with tag=, EXPECTED_REF is <name>:<tag> without the registry; with
outputs_image_ref_to, no EXPECTED_* ref is given and the command writes the
ref it built to that file (used as is, not retagged). Otherwise the image is
looked up in the local Docker and tagged <name>:tilt-<16 hex of its id> (with
the registry when one is set). skips_local_docker: the image never touches the
local Docker, so nothing is inspected or tagged."""
from __future__ import annotations

import os
import subprocess
import time
from typing import Callable

import docker.errors

from tiltpy import children
from tiltpy.image.docker_builder import BuildFailure, tilt_tag
from tiltpy.model.images import BuiltImage
from tiltpy.image.dockerfile import ref_name
from tiltpy.image.ignore import PatternMatcher, read_dockerignore, walk_context
from tiltpy.model.manifest import ImageTarget

Log = Callable[[str], None]

_NOT_IN_DOCKER = ("Could not find image in Docker\n"
                  "Did your custom_build script properly tag the image?\n"
                  "If your custom_build doesn't use Docker, you might need to use skips_local_docker=True, "
                  "see https://docs.tilt.dev/custom_build.html\n")


def escaped_name(ref: str) -> str:
    return ref_name(ref).replace("/", "_").replace("@", "_")


def _split_domain(name: str) -> tuple[str, str]:
    """docker's splitDockerDomain: (domain, path)."""
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost" and first == first.lower()):
        domain, path = "docker.io", name
    else:
        domain, path = first, rest
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    return domain, path


def expected_image(ref: str) -> str:
    """reference.Path(): the repository path without the registry."""
    return _split_domain(ref_name(ref))[1]


def _split_tag(ref: str) -> tuple[str, str]:
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" in last:
        return ref[: ref.rfind(":")], ref[ref.rfind(":") + 1:]
    return ref, ""


class CustomBuilder:
    def __init__(self, client: "docker.APIClient | None", registry: str = "", registry_from_cluster: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        """`client` is docker-py's low-level APIClient (None is fine when every
        target skips the local Docker). `registry` is the default registry
        (TiltfileResult.default_registry, or the cluster's local registry)."""
        self.client = client
        self.registry = registry
        self.registry_from_cluster = registry_from_cluster
        self.clock = clock

    # The names an image of `ref` gets: locally (what the command builds and
    # pushes) and in the cluster.
    def local_name(self, ref: str) -> str:
        return f"{self.registry}/{escaped_name(ref)}" if self.registry else ref_name(ref)

    def cluster_name(self, ref: str) -> str:
        if not self.registry:
            return ref_name(ref)
        return f"{self.registry_from_cluster or self.registry}/{escaped_name(ref)}"

    def build(self, target: ImageTarget, deps: dict[str, BuiltImage], log: Log, force: bool = False) -> BuiltImage:
        spec = target.custom_build
        if spec is None:
            raise ValueError(f"{target.ref} is not a custom_build target")
        if spec.outputs_image_ref_to:
            try:
                os.remove(spec.outputs_image_ref_to)
            except OSError:
                pass
            expected = ""
        elif spec.tag:
            expected = f"{ref_name(target.ref)}:{spec.tag}"
        else:
            expected = f"{self.local_name(target.ref)}:tilt-build-{int(self.clock())}"

        injected: list[tuple[str, str]] = []
        if expected:
            name, tag = _split_tag(expected)
            injected += [("EXPECTED_REF", expected), ("EXPECTED_IMAGE", expected_image(expected)),
                         ("EXPECTED_TAG", tag)]
        if self.registry:
            injected += [("REGISTRY_HOST", self.registry), ("EXPECTED_REGISTRY", self.registry)]
        for i, dep_ref in enumerate(target.image_deps):
            dep = deps.get(dep_ref)
            if dep is None:
                raise BuildFailure(f"custom_build {target.ref}: image dependency {dep_ref} was not built")
            injected += [(f"TILT_IMAGE_MAP_{i}", dep_ref), (f"TILT_IMAGE_{i}", dep.local_ref)]
        if injected:
            log("Custom Build: Injecting Environment Variables")
            for key, value in injected:
                log(f"  {key}={value}")
        else:
            log("Custom Build:")
        env = {**os.environ, **dict(spec.env), **dict(injected)}

        started = time.monotonic()
        self._run(target, env, log)

        if spec.outputs_image_ref_to:
            local_ref, cluster_ref = self._read_ref_file(spec.outputs_image_ref_to)
        else:
            local_ref = expected
            cluster_ref = expected.replace(self.registry, self.registry_from_cluster, 1) \
                if self.registry and self.registry_from_cluster and expected.startswith(self.registry + "/") \
                else expected
        files = _dep_files(target)
        if spec.skips_local_docker:
            log(f"Built {local_ref} in {time.monotonic() - started:.1f}s (not in the local Docker)")
            return BuiltImage(target.ref, "", local_ref, cluster_ref, "", context_files=files)
        if self.client is None:
            raise BuildFailure("custom_build needs the Docker Engine to find the image it built")
        try:
            image_id = self.client.inspect_image(local_ref)["Id"]
        except docker.errors.ImageNotFound as err:
            raise BuildFailure(f"{_NOT_IN_DOCKER}: {err.explanation or err}") from None
        except docker.errors.APIError as err:
            raise BuildFailure(f"{_NOT_IN_DOCKER}: {err.explanation or err}") from None
        if spec.outputs_image_ref_to:
            log(f"Built {local_ref} in {time.monotonic() - started:.1f}s")
            return BuiltImage(target.ref, image_id, local_ref, cluster_ref, "", context_files=files)
        tag = tilt_tag(image_id)
        name = self.local_name(target.ref)
        self.client.tag(image_id, name, tag)
        log(f"Built {name}:{tag} in {time.monotonic() - started:.1f}s")
        return BuiltImage(target.ref, image_id, f"{name}:{tag}", f"{self.cluster_name(target.ref)}:{tag}", "",
                          context_files=files)

    def _run(self, target: ImageTarget, env: dict[str, str], log: Log) -> None:
        spec = target.custom_build
        assert spec is not None
        shown = spec.command[2] if spec.command[:2] == ("sh", "-c") else " ".join(spec.command)
        log(f"Running custom build: {shown}")
        try:
            proc = children.popen(list(spec.command), cwd=spec.workdir or None, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        except (OSError, children.Stopping) as err:
            raise BuildFailure(f'Custom build "{shown}" failed: {err}') from None
        assert proc.stdout is not None
        with children.tracked(proc):
            for line in proc.stdout:
                log(f"    {line.rstrip()}")
            code = proc.wait()
        if code != 0:
            raise BuildFailure(f'Custom build "{shown}" failed: exit status {code}')

    def _read_ref_file(self, path: str) -> tuple[str, str]:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read().strip()
        except OSError as err:
            raise BuildFailure(f"Could not find image ref in output. Your custom_build script should have written "
                               f"to {path}: {err}") from None
        name, tag = _split_tag(text)
        if not text or not tag or any(c.isspace() for c in text):
            raise BuildFailure(f"Output image ref in file {path} was invalid: {text!r} is not a tagged image "
                               "reference (name:tag)")
        cluster = text
        if self.registry and self.registry_from_cluster:
            cluster = f"{name.replace(self.registry, self.registry_from_cluster, 1)}:{tag}"
        return text, cluster


def _dep_files(target: ImageTarget) -> frozenset[str]:
    """The files under the deps (after ignore= and each dep's .dockerignore)."""
    spec = target.custom_build
    assert spec is not None
    out: set[str] = set()
    for dep in spec.deps:
        if os.path.isfile(dep):
            out.add(dep)
        elif os.path.isdir(dep):
            matcher = PatternMatcher.union([PatternMatcher(target.ignore),
                                            PatternMatcher(read_dockerignore(os.path.join(dep, ".dockerignore"))),
                                            PatternMatcher([".git"])])
            out.update(os.path.join(dep, rel) for rel in walk_context(dep, matcher))
    return frozenset(out)
