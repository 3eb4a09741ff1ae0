"""YAML parsing and injection of built refs into Kubernetes objects."""
from __future__ import annotations

import functools
import re

import pytest

from tiltpy.image.dockerfile import ref_matches
from tiltpy.engine.k8s_deploy import apply_order
from tiltpy.k8s.objects import (
    MANAGED_BY_LABEL,
    RESOURCE_ANNOTATION,
    RESOURCE_LABEL,
    TEMPLATE_HASH_LABEL,
    ImageInjection,
    YamlError,
    inject,
    parse_yaml_stream,
    resource_label,
)

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    metadata: {labels: {app: app}}
    spec:
      initContainers: [{name: init, image: "app-image:v1"}]
      containers:
        - name: main
          image: app-image
          command: [old]
          args: [old]
          env: [{name: HELPER, value: helper-image}, {name: OTHER, value: x}]
        - name: sidecar
          image: redis
"""
CRONJOB = """
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, image: app-image}]
"""


def injection(selector: str, ref: str, **kw) -> ImageInjection:
    return ImageInjection(matches=functools.partial(ref_matches, selector), cluster_ref=ref, **kw)


def test_parse_stream_skips_empty_docs_and_flattens_lists() -> None:
    text = "---\n" + DEPLOY + "---\n# comment only\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
    objs = parse_yaml_stream(text)
    assert [o["kind"] for o in objs] == ["Deployment", "ConfigMap"]


@pytest.mark.parametrize("text, message", [
    ("a: [1,\n", "invalid YAML"),
    ("- 1\n- 2\n", "mapping"),
    ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion and kind"),
    ("apiVersion: v1\nkind: ConfigMap\n", "no metadata.name"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(YamlError, match=message):
        parse_yaml_stream(text)


def test_inject_replaces_matching_images_only() -> None:
    [obj] = parse_yaml_stream(DEPLOY)
    [out] = inject([obj], [injection("app-image", "app-image:tilt-0123456789abcdef",
                                     command=("sh", "-c", "node server.js"))], "app")
    spec = out["spec"]["template"]["spec"]
    init, main, sidecar = spec["initContainers"][0], spec["containers"][0], spec["containers"][1]
    assert main["image"] == init["image"] == "app-image:tilt-0123456789abcdef"
    assert main["imagePullPolicy"] == "IfNotPresent"
    assert main["command"] == ["sh", "-c", "node server.js"] and "args" not in main
    assert sidecar == {"name": "sidecar", "image": "redis"}
    assert main["env"][0]["value"] == "helper-image"  # not asked to match env vars
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "app-image"  # input untouched


def test_tagged_selector_matches_only_that_tag() -> None:
    [obj] = parse_yaml_stream(DEPLOY)
    [out] = inject([obj], [injection("app-image:v1", "app-image:tilt-1")], "app")
    spec = out["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "app-image:tilt-1"
    assert spec["containers"][0]["image"] == "app-image"


def test_env_var_injection_and_container_args() -> None:
    [obj] = parse_yaml_stream(DEPLOY)
    [out] = inject([obj], [injection("helper-image", "helper-image:tilt-2", match_in_env_vars=True),
                           injection("app-image", "app-image:tilt-3", args=("--fast",))], "app")
    main = out["spec"]["template"]["spec"]["containers"][0]
    assert main["env"] == [{"name": "HELPER", "value": "helper-image:tilt-2"}, {"name": "OTHER", "value": "x"}]
    assert main["args"] == ["--fast"] and main["command"] == ["old"]


def test_labels_and_template_hash_change_with_image() -> None:
    [obj] = parse_yaml_stream(DEPLOY)
    [a] = inject([obj], [injection("app-image", "app-image:tilt-a")], "app")
    [b] = inject([obj], [injection("app-image", "app-image:tilt-b")], "app")
    assert a["metadata"]["labels"][MANAGED_BY_LABEL] == "tiltpy"
    labels = a["spec"]["template"]["metadata"]["labels"]
    assert labels[RESOURCE_LABEL] == "app" and labels["app"] == "app"
    assert labels[TEMPLATE_HASH_LABEL] != b["spec"]["template"]["metadata"]["labels"][TEMPLATE_HASH_LABEL]


@pytest.mark.parametrize("name", ["web:statefulset", "a" * 80, "x--", "-lead", "sp ace", "ünï", ":"])
def test_resource_labels_are_always_valid_and_the_name_is_annotated(name: str) -> None:
    [obj] = parse_yaml_stream(DEPLOY)
    [out] = inject([obj], [injection("app-image", "app-image:tilt-a")], name)
    meta = out["spec"]["template"]["metadata"]
    value = meta["labels"][RESOURCE_LABEL]
    assert value == resource_label(name) and len(value) <= 63
    assert re.fullmatch(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", value), value
    assert meta["annotations"][RESOURCE_ANNOTATION] == name
    assert resource_label(name) != resource_label(name + "x")


def test_valid_resource_names_are_their_own_label() -> None:
    assert resource_label("web-frontend_1.2") == "web-frontend_1.2"
    assert resource_label("web:statefulset").startswith("web-statefulset-")


def test_cronjob_template_is_injected() -> None:
    [obj] = parse_yaml_stream(CRONJOB)
    [out] = inject([obj], [injection("app-image", "app-image:tilt-c")], "nightly")
    template = out["spec"]["jobTemplate"]["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "app-image:tilt-c"
    assert template["metadata"]["labels"][RESOURCE_LABEL] == "nightly"


def test_apply_order_puts_namespaces_and_crds_first() -> None:
    objs = [{"kind": k, "metadata": {"name": k}} for k in
            ("Deployment", "Service", "Namespace", "CustomResourceDefinition", "ConfigMap")]
    assert [o["kind"] for o in apply_order(objs)] == [
        "Namespace", "CustomResourceDefinition", "ConfigMap", "Deployment", "Service"]
