"""Builds image targets with the Docker Engine API and tags the result
`<ref>:tilt-<first 16 hex of the image id>`, as Tilt does.

Blocking (docker-py); the engine runs it in a worker thread and passes a
thread-safe log function."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import docker
import docker.errors

from tiltpy.image.context import (
    DOCKERFILE_IN_TAR,
    BuildContext,
    ContextNotFound,
    collect_context,
    context_tar,
    inputs_digest,
)
from tiltpy.image.dockerfile import ref_matches, ref_name, rewrite_image_refs
from tiltpy.model.manifest import ImageTarget

LABEL_REF = "dev.tiltpy.ref"
LABEL_INPUTS = "dev.tiltpy.inputs"

Log = Callable[[str], None]


class BuildFailure(Exception):
    """The user's build failed (a RUN step, a bad Dockerfile): their fault, shown as is."""


class DockerUnavailable(Exception):
    """No Docker Engine to talk to: tell the user where we looked."""


@dataclass(frozen=True)
class BuiltImage:
    target_ref: str  # the docker_build ref (selector)
    image_id: str  # sha256:...
    local_ref: str  # name:tilt-<16 hex>, tagged in the local engine
    cluster_ref: str  # the ref the cluster pulls (registry-qualified after a push)
    inputs: str  # digest of everything that went into the build
    reused: bool = False
    context_files: frozenset[str] = frozenset()  # absolute paths of the files the image was built from


def _absolute(context: BuildContext) -> frozenset[str]:
    return frozenset(os.path.join(context.directory, rel) for rel in context.files)


def tilt_tag(image_id: str) -> str:
    return "tilt-" + image_id.split(":", 1)[-1][:16]


def connect() -> docker.APIClient:
    try:
        client = docker.from_env(timeout=600).api
        client.ping()
        return client
    except docker.errors.DockerException as err:
        raise DockerUnavailable(
            f"Cannot connect to the Docker Engine ({err}). Is dockerd running, and is DOCKER_HOST right?"
        ) from None


def rewritten_dockerfile(target: ImageTarget, deps: dict[str, BuiltImage]) -> tuple[str, int]:
    """Point FROM / COPY --from at the exact images just built for the bases."""

    def replacement(found: str) -> str | None:
        for dep_ref, built in deps.items():
            if ref_matches(dep_ref, found):
                return built.local_ref
        return None

    return rewrite_image_refs(target.dockerfile_contents, replacement, dict(target.build_args))


class DockerBuilder:
    def __init__(self, client: docker.APIClient) -> None:
        self.client = client

    def find_reusable(self, target: ImageTarget, inputs: str) -> str | None:
        images = self.client.images(filters={"label": [f"{LABEL_REF}={target.ref}", f"{LABEL_INPUTS}={inputs}"]})
        return images[0]["Id"] if images else None

    def build(self, target: ImageTarget, deps: dict[str, BuiltImage], log: Log,
              force: bool = False) -> BuiltImage:
        dockerfile, rewrites = rewritten_dockerfile(target, deps)
        try:
            context = collect_context(target)
        except ContextNotFound as err:
            raise BuildFailure(str(err)) from None
        inputs = inputs_digest(target, context, dockerfile)
        name = ref_name(target.ref)
        if not force:
            image_id = self.find_reusable(target, inputs)
            if image_id:
                local_ref = f"{name}:{tilt_tag(image_id)}"
                self.client.tag(image_id, name, tilt_tag(image_id))
                log(f"Reusing image {local_ref}: its inputs are unchanged")
                return BuiltImage(target.ref, image_id, local_ref, local_ref, inputs, reused=True,
                                  context_files=_absolute(context))

        if rewrites:
            log("Building Dockerfile (FROM rewritten to the images just built):")
        else:
            log("Building Dockerfile:")
        for line in dockerfile.rstrip("\n").splitlines():
            log(f"  {line}")
        log("")
        started = time.monotonic()
        tar = context_tar(context, dockerfile)
        log(f"  Sending context ({len(context.files)} files, {len(tar) / 1024:.0f} KiB) to the Docker Engine")
        image_id = self._run_build(target, tar, inputs, log)
        tag = tilt_tag(image_id)
        self.client.tag(image_id, name, tag)
        for extra in target.extra_tags:
            extra_name, _, extra_tag = extra.rpartition(":") if ":" in extra.split("/")[-1] else (extra, "", "latest")
            self.client.tag(image_id, extra_name, extra_tag or "latest")
        local_ref = f"{name}:{tag}"
        log(f"Built {local_ref} in {time.monotonic() - started:.1f}s")
        return BuiltImage(target.ref, image_id, local_ref, local_ref, inputs, context_files=_absolute(context))

    def _run_build(self, target: ImageTarget, tar: bytes, inputs: str, log: Log) -> str:
        kwargs: dict[str, Any] = dict(
            fileobj=tar, custom_context=True, dockerfile=DOCKERFILE_IN_TAR, rm=True, forcerm=True,
            decode=True, buildargs=dict(target.build_args) or None,
            labels={LABEL_REF: target.ref, LABEL_INPUTS: inputs}, pull=target.pull,
        )
        if target.target:
            kwargs["target"] = target.target
        if target.network:
            kwargs["network_mode"] = target.network
        if target.cache_from:
            kwargs["cache_from"] = list(target.cache_from)
        if target.platform:
            kwargs["platform"] = target.platform
        image_id = ""
        partial = ""
        try:
            for event in self.client.build(**kwargs):
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
        if partial:
            log(f"    {partial}")
        if not image_id:
            raise BuildFailure("the Docker Engine finished the build without reporting an image ID")
        return image_id

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
