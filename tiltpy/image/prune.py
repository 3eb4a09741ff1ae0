"""Removing old images tiltpy built (docker_prune_settings): every build
leaves a `tilt-<id>` image behind, and a day of saves fills a disk.

Only images carrying tiltpy's ref label are candidates; per ref the newest
`keep_recent` stay, and so does anything younger than `max_age_mins` or in
use by a container (the engine refuses to remove those)."""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Callable

import docker
import docker.errors

from tiltpy.image.docker_builder import LABEL_REF
from tiltpy.model.manifest import DockerPruneSettings

Log = Callable[[str], None]


def prune_images(client: docker.APIClient, settings: DockerPruneSettings, log: Log, now: float | None = None,
                 only_ref: str = "") -> int:
    """Blocking. Returns how many images were removed (`only_ref`: just that ref's)."""
    now = time.time() if now is None else now
    by_ref: dict[str, list[dict]] = defaultdict(list)
    for image in client.images(filters={"label": f"{LABEL_REF}={only_ref}" if only_ref else LABEL_REF}):
        ref = (image.get("Labels") or {}).get(LABEL_REF, "")
        by_ref[ref].append(image)
    removed = 0
    for ref, images in by_ref.items():
        images.sort(key=lambda i: i.get("Created", 0), reverse=True)
        for image in images[settings.keep_recent:]:
            if now - image.get("Created", now) < settings.max_age_mins * 60:
                continue
            try:
                client.remove_image(image["Id"], force=False, noprune=False)
                removed += 1
            except docker.errors.APIError:
                pass  # in use by a container, or a parent of a kept image
    if removed:
        log(f"Docker prune: removed {removed} old image(s) built by tiltpy")
    return removed
