"""Kubernetes JSONPath templates as used by k8s_kind(image_json_path=...):
`{.spec.image}`, `{.spec.containers[*].image}`, `{.spec.template.spec.containers[0].image}`,
`{.spec['image']}`, `{..image}`, `{.spec.containers[?(@.name=="app")].image}`.

Pure functions on plain dicts/lists: the Tiltfile layer uses them to find the
images a custom resource names, the deployer to inject built refs."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from tiltpy.model.manifest import ImageLocator


class JSONPathError(ValueError):
    pass


@dataclass(frozen=True)
class _Step:
    kind: str  # field | index | wildcard | recurse | filter | slice
    name: str = ""
    index: int = 0
    end: int | None = None
    filter_key: tuple[str, ...] = ()
    filter_op: str = ""
    filter_value: Any = None


_NAME = re.compile(r"[A-Za-z0-9_$\-/]+")


def parse(path: str) -> list[_Step]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("..", i):
            i += 2
            match = _NAME.match(text, i)
            if match:
                steps.append(_Step("recurse", name=match.group(0)))
                i = match.end()
            elif i < len(text) and text[i] == "*":
                steps.append(_Step("recurse", name="*"))
                i += 1
            else:
                raise JSONPathError(f"invalid JSONPath {path!r}: '..' must be followed by a field name")
        elif ch == ".":
            i += 1
            if i < len(text) and text[i] == "*":
                steps.append(_Step("wildcard"))
                i += 1
                continue
            match = _NAME.match(text, i)
            if not match:
                if i >= len(text):
                    break
                raise JSONPathError(f"invalid JSONPath {path!r}: expected a field name at position {i}")
            steps.append(_Step("field", name=match.group(0)))
            i = match.end()
        elif ch == "[":
            close = _closing_bracket(text, i, path)
            inner = text[i + 1:close].strip()
            steps.append(_bracket(inner, path))
            i = close + 1
        elif ch.isspace():
            i += 1
        else:
            match = _NAME.match(text, i)
            if match and not steps:
                steps.append(_Step("field", name=match.group(0)))
                i = match.end()
            else:
                raise JSONPathError(f"invalid JSONPath {path!r}: unexpected {ch!r} at position {i}")
    return steps


def _closing_bracket(text: str, start: int, path: str) -> int:
    quote = ""
    depth = 0
    for j in range(start, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError(f"invalid JSONPath {path!r}: unterminated '['")


_FILTER = re.compile(r"^\?\(\s*@((?:\.[A-Za-z0-9_\-]+)+)\s*(?:(==|!=)\s*(.+?))?\s*\)$")


def _bracket(inner: str, path: str) -> _Step:
    if inner == "*":
        return _Step("wildcard")
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Step("field", name=inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return _Step("index", index=int(inner))
    slice_match = re.fullmatch(r"(-?\d*):(-?\d*)", inner)
    if slice_match:
        start = int(slice_match.group(1)) if slice_match.group(1) else 0
        end = int(slice_match.group(2)) if slice_match.group(2) else None
        return _Step("slice", index=start, end=end)
    filter_match = _FILTER.match(inner)
    if filter_match:
        keys = tuple(filter_match.group(1).strip(".").split("."))
        value: Any = None
        if filter_match.group(3) is not None:
            raw = filter_match.group(3).strip()
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
                value = raw[1:-1]
            elif re.fullmatch(r"-?\d+", raw):
                value = int(raw)
            elif raw in ("true", "false"):
                value = raw == "true"
            else:
                value = raw
        return _Step("filter", filter_key=keys, filter_op=filter_match.group(2) or "exists", filter_value=value)
    raise JSONPathError(f"invalid JSONPath {path!r}: unsupported subscript [{inner}]")


Location = tuple[Any, Any]  # (container, key): container[key] is the matched value


def _children(node: Any) -> Iterator[Location]:
    if isinstance(node, dict):
        for key in node:
            yield node, key
    elif isinstance(node, list):
        for i in range(len(node)):
            yield node, i


def _descendants(node: Any) -> Iterator[Location]:
    for container, key in _children(node):
        yield container, key
        yield from _descendants(container[key])


def _filter_ok(item: Any, step: _Step) -> bool:
    value = item
    for key in step.filter_key:
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    if step.filter_op == "exists":
        return True
    if step.filter_op == "==":
        return value == step.filter_value
    return value != step.filter_value


def locate(obj: Any, path: str) -> list[Location]:
    """Where the path matches in obj; missing keys match nothing."""
    steps = parse(path)
    current: list[Location] = [({"$": obj}, "$")]
    for step in steps:
        nxt: list[Location] = []
        for container, key in current:
            node = container[key]
            if step.kind == "field":
                if isinstance(node, dict) and step.name in node:
                    nxt.append((node, step.name))
            elif step.kind == "index":
                if isinstance(node, list) and -len(node) <= step.index < len(node):
                    nxt.append((node, step.index % len(node)))
            elif step.kind == "slice":
                if isinstance(node, list):
                    nxt.extend((node, i) for i in range(len(node))[step.index:step.end])
            elif step.kind == "wildcard":
                nxt.extend(_children(node))
            elif step.kind == "filter":
                if isinstance(node, list):
                    nxt.extend((node, i) for i, item in enumerate(node) if _filter_ok(item, step))
            elif step.kind == "recurse":
                for c, k in _descendants(node):
                    if step.name == "*" or (isinstance(c, dict) and k == step.name):
                        nxt.append((c, k))
        current = nxt
    return current


def values(obj: Any, path: str) -> list[Any]:
    return [container[key] for container, key in locate(obj, path)]


# --- image locators (k8s_kind) -------------------------------------------------

def locator_applies(locator: ImageLocator, obj: dict[str, Any]) -> bool:
    """Tilt's partial-match selector: case-insensitive regexps, unanchored."""
    try:
        return bool(re.search(locator.kind, str(obj.get("kind", "")), re.I)) and \
            bool(re.search(locator.api_version, str(obj.get("apiVersion", "")), re.I))
    except re.error:
        return False


def object_image(node: Any, locator: ImageLocator) -> str | None:
    """image_object: repo and tag fields of a map as one ref."""
    if not isinstance(node, dict):
        return None
    repo = node.get(locator.repo_field)
    image = repo if isinstance(repo, str) else ""
    tag = node.get(locator.tag_field)
    if isinstance(tag, str) and tag:
        image = f"{image}:{tag}"
    return image or None


def find_images(obj: dict[str, Any], locators: tuple[ImageLocator, ...] | list[ImageLocator]) -> list[str]:
    """Every image the locators find in obj (strings at image_json_path,
    repo[:tag] at image_object)."""
    found: list[str] = []
    for locator in locators:
        if not locator_applies(locator, obj):
            continue
        try:
            matches = values(obj, locator.json_path)
        except JSONPathError:
            continue
        for value in matches:
            if locator.repo_field:
                image = object_image(value, locator)
                if image:
                    found.append(image)
            elif isinstance(value, str):
                found.append(value)
    return found


def inject_images(obj: dict[str, Any], locators: tuple[ImageLocator, ...] | list[ImageLocator],
                  matches: Callable[[str], bool], new_ref: str) -> bool:
    """Replace, in place, every image the locators find in obj that `matches`
    with new_ref (for image_object: name into repo_field, tag into
    tag_field). An `imagePullPolicy` next to a string image becomes
    IfNotPresent. True when something was replaced."""
    name, tag = split_ref(new_ref)
    changed = False
    for locator in locators:
        if not locator_applies(locator, obj):
            continue
        try:
            found = locate(obj, locator.json_path)
        except JSONPathError:
            continue
        for container, key in found:
            value = container[key]
            if locator.repo_field:
                image = object_image(value, locator)
                if image and matches(image):
                    value[locator.repo_field] = name
                    if tag:
                        value[locator.tag_field] = tag
                    changed = True
            elif isinstance(value, str) and matches(value):
                container[key] = new_ref
                if isinstance(container, dict) and "imagePullPolicy" in container:
                    container["imagePullPolicy"] = "IfNotPresent"
                changed = True
    return changed


def split_ref(ref: str) -> tuple[str, str]:
    """'host:5000/a/b:tag' -> ('host:5000/a/b', 'tag'); digests stay in the name."""
    if "@" in ref:
        return ref, ""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        return ref[: ref.rfind(":")], ref[ref.rfind(":") + 1:]
    return ref, ""
