"""Kubernetes objects as plain dicts: parsing YAML, identifying objects,
finding pod templates and containers, and injecting built images.

Pure functions only: the Tiltfile layer and the deployer both use them."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# PyYAML is imported where it is used: a Tiltfile load whose YAML the Tiltfile
# layer's cache answers never needs it (~25 ms of import).

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "tiltpy"
RESOURCE_LABEL = "tiltpy.dev/resource"
RESOURCE_ANNOTATION = "tiltpy.dev/resource-name"  # the exact name, which a label value may not hold
TEMPLATE_HASH_LABEL = "tiltpy.dev/pod-template-hash"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Kinds whose pods are described by a template; CronJob nests one deeper.
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod",
                  "ReplicationController"}


class YamlError(Exception):
    pass


@dataclass(frozen=True)
class ObjectID:
    """What identifies a Kubernetes object: kind, name, namespace and API group."""

    kind: str
    name: str
    namespace: str
    api_group: str

    def display(self) -> str:
        ns = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind} {self.name}{ns}"


def object_id(obj: dict[str, Any]) -> ObjectID:
    meta = obj.get("metadata") or {}
    api_version = obj.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    return ObjectID(obj.get("kind", ""), meta.get("name", ""), meta.get("namespace", ""), group)


_STR_TAG, _MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG, _BOOL_TAG, _NULL_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}  # YAML 1.1, as PyYAML
_FAST_DEPTH = 64


class _SlowPath(Exception):
    """A node the fast constructor leaves to PyYAML's (merge keys, custom tags, deep or recursive)."""


def _fast_construct(loader: Any, node: Any, depth: int = 0) -> Any:
    """PyYAML's safe construction for the shapes Kubernetes YAML has (plain
    mappings, sequences, scalars), without its generator per collection:
    several times faster, which matters for hundreds of objects. Anything
    else (merge keys, explicit tags, an alias cycle, an unhashable key) is
    _SlowPath, and the document is constructed by PyYAML as before. Aliases
    become copies rather than shared objects."""
    if depth > _FAST_DEPTH:
        raise _SlowPath
    tag = node.tag
    if node.id == "scalar":
        if tag == _STR_TAG:
            return node.value
        value = node.value
        if tag == _INT_TAG and value.isascii() and value.isdigit() and (value[0] != "0" or value == "0"):
            return int(value)  # plain decimal; signs, 0x, octal, _ and 1:30 go to PyYAML
        if tag == _BOOL_TAG and value.lower() in _BOOLS:
            return _BOOLS[value.lower()]
        if tag == _NULL_TAG:
            return None
        return loader.construct_object(node, deep=True)
    if node.id == "mapping" and tag == _MAP_TAG:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise _SlowPath
            key = _fast_construct(loader, key_node, depth + 1)
            try:
                out[key] = _fast_construct(loader, value_node, depth + 1)
            except TypeError:  # an unhashable key: PyYAML's error message
                raise _SlowPath from None
        return out
    if node.id == "sequence" and tag == _SEQ_TAG:
        return [_fast_construct(loader, item, depth + 1) for item in node.value]
    raise _SlowPath


def load_yaml_documents(text: str) -> list[Any]:
    """Every document of a YAML text, as yaml.load_all with the safe loader;
    YamlError when it is not YAML."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            try:
                docs.append(_fast_construct(loader, node))
                loader.constructed_objects.clear()
            except _SlowPath:
                loader.constructed_objects.clear()
                docs.append(loader.construct_document(node))
    except yaml.YAMLError as err:
        raise YamlError(f"invalid YAML: {err}") from None
    finally:
        loader.dispose()
    return docs


def parse_yaml_stream(text: str, load: Callable[[str], list[Any]] = load_yaml_documents) -> list[dict[str, Any]]:
    """Every object in a multi-document YAML text; `kind: List` is flattened.
    `load`: how the text becomes documents (the Tiltfile layer's remembers them)."""
    docs = load(text)
    out: list[dict[str, Any]] = []
    pending = list(docs)
    while pending:
        doc = pending.pop(0)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise YamlError(f"expected a Kubernetes object (a mapping), got {_yaml_type(doc)}")
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            pending[:0] = [item for item in doc["items"] if item]
            continue
        if not doc.get("kind") or not doc.get("apiVersion"):
            raise YamlError("every object needs apiVersion and kind; got one without: "
                            + json.dumps(doc, default=str)[:200])
        for key in ("apiVersion", "kind"):
            if not isinstance(doc[key], str):
                raise YamlError(f"{key} must be a string, got {_yaml_type(doc[key])} ({doc[key]!r})")
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            raise YamlError(f"{doc['kind']} object has no metadata.name")
        for key in ("name", "namespace"):
            if key in meta and meta[key] is not None and not isinstance(meta[key], str):
                raise YamlError(f"{doc['kind']} object: metadata.{key} must be a string, got "
                                f"{_yaml_type(meta[key])} ({meta[key]!r}); quote it in the YAML")
        for key in ("labels", "annotations"):
            values = meta.get(key)
            if values is not None and not (isinstance(values, dict)
                                           and all(isinstance(v, str) for v in values.values())):
                raise YamlError(f"{doc['kind']} {meta['name']}: metadata.{key} must map strings to strings")
        out.append(doc)
    return out


def _yaml_type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def dump_yaml_stream(objects: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.dump_all(objects, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def _mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, else {}: YAML of the wrong shape (the API
    server rejects it at apply) must not break reading it."""
    return value if isinstance(value, dict) else {}


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (metadata + spec) of a workload, or None."""
    kind = obj.get("kind", "")
    spec = _mapping(obj.get("spec"))
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        template = _mapping(_mapping(spec.get("jobTemplate")).get("spec")).get("template")
    else:
        template = spec.get("template")
    return template if isinstance(template, dict) and "spec" in template else None


def pod_template_labels(obj: dict[str, Any]) -> dict[str, str]:
    template = pod_template(obj)
    if template is None:
        return {}
    return dict(_mapping(_mapping(template.get("metadata")).get("labels")))


def iter_pod_specs(node: Any) -> Iterator[dict[str, Any]]:
    """Every pod spec (a dict with a `containers` list) anywhere in an object,
    so CRDs that embed pod specs are covered too."""
    if isinstance(node, dict):
        if isinstance(node.get("containers"), list):
            yield node
        for value in node.values():
            yield from iter_pod_specs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_pod_specs(value)


def iter_containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for spec in iter_pod_specs(obj):
        for key in ("initContainers", "containers", "ephemeralContainers"):
            containers = spec.get(key)
            for container in containers if isinstance(containers, list) else []:
                if isinstance(container, dict):
                    yield container


def container_images(obj: dict[str, Any]) -> list[str]:
    return [c["image"] for c in iter_containers(obj) if isinstance(c.get("image"), str)]


def selector_of(obj: dict[str, Any]) -> dict[str, str] | None:
    """The label selector by which a non-workload object points at pods."""
    spec = _mapping(obj.get("spec"))
    if obj.get("kind") == "Service":
        selector = spec.get("selector")
        return dict(selector) if isinstance(selector, dict) and selector else None
    for key in ("selector", "podSelector"):
        selector = spec.get(key)
        if isinstance(selector, dict) and isinstance(selector.get("matchLabels"), dict) and selector["matchLabels"]:
            return dict(selector["matchLabels"])
    return None


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@dataclass(frozen=True)
class ImageInjection:
    """How one built image replaces refs in the YAML."""

    matches: Callable[[str], bool]  # does a ref in the YAML name this image?
    cluster_ref: str  # what the cluster pulls
    match_in_env_vars: bool = False
    command: tuple[str, ...] = ()  # entrypoint override
    args: tuple[str, ...] | None = None  # container_args override


def inject(objects: list[dict[str, Any]], injections: list[ImageInjection], resource: str) -> list[dict[str, Any]]:
    """Return deep copies of `objects` ready to apply: built refs in container
    images (and env values when asked), IfNotPresent pull policy for them,
    entrypoint overrides, tiltpy labels, and a pod-template hash label that
    identifies pods of this exact rollout."""
    out = []
    for original in objects:
        obj = copy.deepcopy(original)
        _label(obj.setdefault("metadata", {}), {MANAGED_BY_LABEL: MANAGED_BY_VALUE})
        for container in iter_containers(obj):
            image = container.get("image")
            for injection in injections:
                if isinstance(image, str) and injection.matches(image):
                    container["image"] = injection.cluster_ref
                    container["imagePullPolicy"] = "IfNotPresent"
                    if injection.command:
                        container["command"] = list(injection.command)
                        container.pop("args", None)
                    if injection.args is not None:
                        container["args"] = list(injection.args)
                    break
            for env in container.get("env") or []:
                value = env.get("value") if isinstance(env, dict) else None
                for injection in injections:
                    if injection.match_in_env_vars and isinstance(value, str) and injection.matches(value):
                        env["value"] = injection.cluster_ref
                        break
        template = pod_template(obj)
        if template is not None and template is not obj:
            labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, RESOURCE_LABEL: resource_label(resource)}
            _label(template.setdefault("metadata", {}), labels)
            _annotate(template["metadata"], {RESOURCE_ANNOTATION: resource})
            import hashlib  # OpenSSL's loading: not on a dry load's path

            digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]
            _label(template["metadata"], {TEMPLATE_HASH_LABEL: digest})
        elif template is obj:
            _label(obj["metadata"], {RESOURCE_LABEL: resource_label(resource)})
            _annotate(obj["metadata"], {RESOURCE_ANNOTATION: resource})
        out.append(obj)
    return out


def resource_label(name: str) -> str:
    """The RESOURCE_LABEL value for a resource: the name itself when it is a
    valid label value (at most 63 characters of [-A-Za-z0-9_.], alphanumeric at
    both ends), else a readable part of it plus a hash of the whole
    (`web:statefulset` → `web-statefulset-<16 hex>`)."""
    if len(name) <= 63 and _LABEL_VALUE.match(name):
        return name
    readable = re.sub(r"[^-A-Za-z0-9_.]+", "-", name)[:46].strip("-_.")
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{readable}-{digest}" if readable else digest


def _label(meta: dict[str, Any], labels: dict[str, str]) -> None:
    meta["labels"] = {**(meta.get("labels") or {}), **labels}


def _annotate(meta: dict[str, Any], annotations: dict[str, str]) -> None:
    meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}


def with_default_protocols(obj: dict[str, Any]) -> dict[str, Any]:
    """Spell out `protocol: TCP` where the API would default it.

    Server-side apply on Kubernetes before 1.21 rejects a port list entry
    that omits a key field of the list ("element 0 ... omits key field
    protocol"), which most hand-written YAML does. The value we fill in is
    the API's own default, so the applied object is unchanged."""
    out = copy.deepcopy(obj)
    port_lists = [c.get("ports") for c in iter_containers(out)]
    if out.get("kind") == "Service":
        port_lists.append((out.get("spec") or {}).get("ports"))
    for ports in port_lists:
        for port in ports or []:
            if isinstance(port, dict) and "protocol" not in port:
                port["protocol"] = "TCP"
    return out
