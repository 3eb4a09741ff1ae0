"""Deleting what a Tiltfile declared: every object is tried, namespaces and
down-policy=keep objects are kept, and the failures are reported together."""
from __future__ import annotations

import asyncio

import pytest

from tiltpy.engine.k8s_deploy import delete_objects
from tiltpy.k8s.client import ClusterError


class Cluster:
    """What delete_objects asks of the API: delete and get (pure bookkeeping)."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.deleted: list[str] = []

    async def delete(self, obj: dict) -> bool:
        name = obj["metadata"]["name"]
        if name in self.refuse:
            raise ClusterError(f"DELETE {name}: 403 forbidden")
        self.deleted.append(name)
        return True

    async def get(self, obj: dict) -> dict | None:
        return None


def _obj(kind: str, name: str, **annotations: str) -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "annotations": annotations}}


def test_down_tries_every_object_and_reports_all_failures() -> None:
    cluster = Cluster(refuse={"a", "c"})
    objects = [_obj("ConfigMap", "a"), _obj("ConfigMap", "b"), _obj("Secret", "c"), _obj("Service", "d"),
               _obj("Namespace", "ns"), _obj("ConfigMap", "kept", **{"tilt.dev/down-policy": "keep"})]
    lines: list[str] = []
    with pytest.raises(ClusterError) as failure:
        asyncio.run(delete_objects(cluster, objects, lines.append, wait_secs=1))  # type: ignore[arg-type]
    assert sorted(cluster.deleted) == ["b", "d"]
    assert "2 object(s) could not be deleted" in str(failure.value)
    assert "configmap/a" in str(failure.value) and "secret/c" in str(failure.value)
    assert any("keeping namespace/ns" in line for line in lines)
    assert any("keeping configmap/kept" in line for line in lines)
