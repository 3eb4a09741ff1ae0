"""docker_prune_settings against the real Docker Engine (busybox exists locally)."""
from __future__ import annotations

import io
import tarfile
import time

import docker
import pytest

from tiltpy.image.docker_builder import LABEL_REF
from tiltpy.image.prune import prune_images
from tiltpy.model.manifest import DockerPruneSettings

REF = f"tiltpy-prune-test-{time.time_ns()}"


def _build(client: docker.APIClient, n: int) -> str:
    dockerfile = f"FROM busybox\nRUN echo {n} > /n\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    image_id = ""
    for event in client.build(fileobj=buf.getvalue(), custom_context=True, decode=True, rm=True,
                              labels={LABEL_REF: REF}):
        if "aux" in event and "ID" in event["aux"]:
            image_id = event["aux"]["ID"]
    assert image_id
    client.tag(image_id, REF, f"tilt-{n}")
    time.sleep(1.1)  # distinct creation times
    return image_id


@pytest.fixture
def client() -> docker.APIClient:
    try:
        api = docker.from_env().api
        api.ping()
    except docker.errors.DockerException as err:
        pytest.fail(f"Docker Engine not reachable (run ../shared/testbed/up): {err}")
    return api


def test_prune_keeps_recent_and_young_images(client: docker.APIClient) -> None:
    ids = [_build(client, n) for n in range(4)]
    try:
        # Young images are kept whatever their number.
        assert prune_images(client, DockerPruneSettings(max_age_mins=60, keep_recent=1), lambda _: None,
                            only_ref=REF) == 0
        removed = prune_images(client, DockerPruneSettings(max_age_mins=0, keep_recent=2), lambda _: None,
                               only_ref=REF)
        assert removed == 2
        left = {i["Id"] for i in client.images(filters={"label": f"{LABEL_REF}={REF}"})}
        assert left == set(ids[2:])
    finally:
        for image_id in ids:
            try:
                client.remove_image(image_id, force=True)
            except docker.errors.APIError:
                pass
