"""Turns what the builtins recorded into manifests, as Tilt's assembly does:
the image dependency graph, the split of YAML into resources, and the
k8s_resource() adjustments."""
from __future__ import annotations

import collections
import collections.abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tiltpy.image.dockerfile import RefIndex, parse_image_refs, ref_matches, ref_name
from tiltpy.image.graph import CycleError, topo_sort
from tiltpy.k8s.cluster import is_dev_context
from tiltpy.k8s.objects import (
    iter_containers,
    object_id,
    pod_template,
    pod_template_labels,
    selector_matches,
    selector_of,
)
from tiltpy.model.manifest import (
    UNCATEGORIZED,
    DockerComposeTarget,
    ImageTarget,
    K8sTarget,
    Link,
    Manifest,
    PortForward,
    RestartContainer,
    TiltfileResult,
)
from tiltpy.tiltfile.builtins._assembly import (
    custom_deploy_image_refs,
    explicit_image_deps,
    extra,
    finish_result,
    is_kind_workload,
    kind_readiness,
    locator_images,
    locators_for,
    resolved_custom_deploy,
    resource_names,
    suppressed_image_warning,
)
from tiltpy.tiltfile.builtins._common import go_quote
from tiltpy.tiltfile.builtins.live_update import check_all_steps_used
from tiltpy.tiltfile.errors import TiltfileError
from tiltpy.tiltfile.state import DcResourceCall, K8sResourceCall, TiltfileState


@dataclass
class _Draft:
    """A resource while k8s_resource() calls are still being applied."""

    name: str
    objects: list[dict[str, Any]]
    original_name: str = ""
    port_forwards: list[PortForward] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    resource_deps: list[str] = field(default_factory=list)
    trigger_mode: int | None = None
    auto_init: bool = True
    pod_readiness: str = ""
    extra_pod_selectors: list[dict[str, str]] = field(default_factory=list)
    custom_deploy: Any = None  # k8s_extra.CustomDeployCall for k8s_custom_deploy() resources
    discovery_strategy: str = ""


def resolve_image_deps(targets: list[ImageTarget]) -> list[ImageTarget]:
    """Fill in image_deps from each Dockerfile's FROM / COPY --from refs and
    return the targets topologically sorted (bases first)."""
    index = RefIndex(t.ref for t in targets)
    resolved = []
    for target in targets:
        deps: list[str] = []
        for image_ref in parse_image_refs(target.dockerfile_contents, dict(target.build_args)):
            for other in index.matches(image_ref.ref):
                if other != target.ref and other not in deps:
                    deps.append(other)
        deps += [d for d in explicit_image_deps(target, targets) if d not in deps]  # custom_build(image_deps=)
        resolved.append(dataclasses.replace(target, image_deps=tuple(deps)))
    by_ref = {t.ref: t for t in resolved}
    try:
        order = topo_sort([t.ref for t in resolved], lambda ref: by_ref[ref].image_deps)
    except CycleError as err:
        raise TiltfileError(f"image dependency cycle: {' -> '.join(err.cycle)} "
                            "(each image's Dockerfile builds FROM the next)") from None
    return [by_ref[ref] for ref in order]


class _ImageUse:
    """Which image targets an object consumes. As Tilt's build index: each
    image the object names goes to the first docker_build (in Tiltfile order)
    that matches it; docker_builds of one name with different tags match
    exactly. Indexed once per assembly, so each object costs a lookup per image."""

    def __init__(self, targets: list[ImageTarget], state: TiltfileState | None = None) -> None:
        order = {t.ref: i for i, t in enumerate(state.image_targets)} if state is not None else {}
        by_declaration = sorted(targets, key=lambda t: order.get(t.ref, len(order)))
        name_counts = collections.Counter(ref_name(t.ref) for t in by_declaration)
        exact = {n for n, count in name_counts.items() if count > 1}
        is_exact = lambda selector: ref_name(selector) in exact  # noqa: E731
        self._all = RefIndex((t.ref for t in by_declaration), is_exact)
        self._in_env = RefIndex((t.ref for t in by_declaration if t.match_in_env_vars), is_exact)
        self._position = {t.ref: i for i, t in enumerate(targets)}
        self._state = state
        self._memo: dict[int, tuple[dict[str, Any], list[str]]] = {}

    def __call__(self, obj: dict[str, Any]) -> list[str]:
        memo = self._memo.get(id(obj))
        if memo is None or memo[0] is not obj:
            memo = self._memo[id(obj)] = (obj, self._compute(obj))
        return list(memo[1])

    def _compute(self, obj: dict[str, Any]) -> list[str]:
        containers = list(iter_containers(obj))
        images = [c["image"] for c in containers if isinstance(c.get("image"), str)]
        images += locator_images(self._state, obj) if self._state is not None else []
        env_values = [env.get("value") for c in containers for env in (c.get("env") or [])
                      if isinstance(env, dict) and isinstance(env.get("value"), str)]
        used: list[str] = []
        for image, index in [(i, self._all) for i in images] + [(v, self._in_env) for v in env_values]:
            ref = index.first(image)
            if ref is not None and ref not in used:
                used.append(ref)
        return sorted(used, key=self._position.__getitem__)


def _unique_names(objects: list[dict[str, Any]]) -> list[str]:
    """Workload names: metadata.name, made unique by appending kind, then
    namespace, then API group, as Tilt does."""
    ids = [object_id(o) for o in objects]
    for depth in range(1, 5):
        names = []
        for oid in ids:
            parts = [oid.name, oid.kind.lower(), oid.namespace or "default", oid.api_group or "core"][:depth]
            names.append(":".join(parts))
        if len(set(names)) == len(names):
            return names
    return names


def _split_workloads(state: TiltfileState, images_used: _ImageUse) -> tuple[list[_Draft], list[dict[str, Any]]]:
    workloads = [o for o in state.k8s_objects
                 if images_used(o) or pod_template(o) is not None or is_kind_workload(state, o)]
    names = resource_names(state, workloads, _unique_names)  # workload_to_resource_function, else Tilt's names
    drafts = [_Draft(name=n, objects=[w], original_name=n) for n, w in zip(names, workloads)]
    rest = []
    workload_ids = {id(w) for w in workloads}
    # Drafts by each of their pod labels: a selector's first label narrows the
    # candidates (usually to one), so attaching Services stays linear.
    labels_of = [pod_template_labels(d.objects[0]) for d in drafts]
    by_label: dict[tuple[str, Any], list[int]] = collections.defaultdict(list)
    for i, labels in enumerate(labels_of):
        for item in labels.items():
            if isinstance(item[1], collections.abc.Hashable):
                by_label[item].append(i)
    for obj in state.k8s_objects:
        if id(obj) in workload_ids:
            continue
        selector = selector_of(obj)
        owner = None
        if selector:
            first = next(iter(selector.items()))
            candidates = by_label.get(first, []) if isinstance(first[1], collections.abc.Hashable) \
                else range(len(drafts))  # YAML of a strange shape: look at every draft
            owner = next((drafts[i] for i in candidates if selector_matches(selector, labels_of[i])), None)
        if owner is not None:
            owner.objects.append(obj)
        else:
            rest.append(obj)
    return drafts, rest


def _split_selector(text: str) -> list[str]:
    """Tilt's UnescapeAndSplit: ':' separates, '\\' escapes ':' and '\\'."""
    parts, current, escaped = [], "", False
    for i, ch in enumerate(text):
        if escaped:
            if ch not in ":\\":
                raise TiltfileError(f"Error making selector from string {go_quote(text)}: invalid escape sequence "
                                    f"'\\{ch}' in '{text[max(0, i - 3):i + 3]}'")
            current += ch
            escaped = False
        elif ch == ":":
            parts.append(current)
            current = ""
        elif ch == "\\":
            escaped = True
        else:
            current += ch
    parts.append(current)
    if not text:
        raise TiltfileError('Error making selector from string "": selector can\'t be empty')
    if len(parts) > 3:
        raise TiltfileError(f"Error making selector from string {go_quote(text)}: Too many parts in selector. "
                            "Selectors must contain between 1 and 3 parts (colon separated), "
                            f"found {len(parts)} parts in {text}")
    return parts


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace(":", "\\:")


def _components(obj: dict[str, Any]) -> list[str]:
    oid = object_id(obj)
    return [oid.name, oid.kind, oid.namespace or "default", oid.api_group or "core"]


def _full_name(obj: dict[str, Any]) -> str:
    """Tilt's fullNameFromK8sEntity: name:Kind:namespace, escaped."""
    return ":".join(_escape(p) for p in _components(obj)[:3])


def _fragments(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Tilt's FragmentsToEntities: name, name:kind, name:kind:ns, name:kind:ns:group (lowercase)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        parts = [_escape(p) for p in _components(obj)]
        for i in range(1, len(parts) + 1):
            out.setdefault(":".join(parts[:i]).lower(), []).append(obj)
    return out


def _selector_matches(parts: list[str], obj: dict[str, Any]) -> bool:
    """A full-match, case-insensitive selector: name[:kind[:namespace]]."""
    return all(p.lower() == c.lower() for p, c in zip(parts, _components(obj)) if p)


def _add_objects(call: K8sResourceCall, draft: _Draft, rest: list[dict[str, Any]],
                 fragments: dict[str, list[dict[str, Any]]], full_names: list[str]) -> None:
    """k8s_resource(objects=): each fragment must name exactly one object, still unclaimed."""
    selectors = [_split_selector(text) for text in call.objects or []]
    for text, parts in zip(call.objects or [], selectors):
        matches = fragments.get(text.lower(), [])
        if not matches:
            raise TiltfileError(f"No object identified by the fragment {go_quote(text)} could be found. "
                                f"Possible objects are: {', '.join(go_quote(n) for n in full_names)}")
        if len(matches) > 1:
            raise TiltfileError(f"{go_quote(text)} is not a unique fragment. Objects that match {go_quote(text)} are "
                                f"{', '.join(go_quote(_full_name(o)) for o in matches)}")
        found = [o for o in rest if _selector_matches(parts, o)]
        if not found:
            raise TiltfileError(f"No object identified by the fragment {go_quote(text)} could be found in remaining "
                                f"YAML. Valid remaining fragments are: {', '.join(go_quote(_full_name(o)) for o in rest)}")
        draft.objects.append(found[0])
        rest.remove(found[0])


def _apply_resource_call(call: K8sResourceCall, drafts: list[_Draft], rest: list[dict[str, Any]],
                         fragments: dict[str, list[dict[str, Any]]], full_names: list[str]) -> None:
    if call.workload:
        draft = next((d for d in drafts if call.workload in (d.name, d.original_name)), None)
        if draft is None:
            known = ", ".join(d.name for d in drafts) or "none"
            raise TiltfileError(f'k8s_resource: specified unknown resource "{call.workload}" '
                                f"(in {call.where}). Known Kubernetes resources: {known}")
    else:
        if any(d.name == call.new_name for d in drafts):
            raise TiltfileError(f'k8s_resource named "{call.new_name}" already exists')
        draft = _Draft(name=call.new_name, objects=[], original_name=call.new_name)
        drafts.append(draft)
    _add_objects(call, draft, rest, fragments, full_names)
    if call.new_name and call.workload:
        if any(d.name == call.new_name and d is not draft for d in drafts):
            raise TiltfileError(f'k8s_resource: cannot rename "{call.workload}" to "{call.new_name}": name taken')
        draft.name = call.new_name
    # As in Tilt, repeated k8s_resource() calls add port forwards, links, labels,
    # resource_deps and pod selectors; the rest is replaced when given.
    draft.port_forwards += call.port_forwards or []
    draft.links += call.links or []
    draft.labels += [label for label in call.labels or [] if label not in draft.labels]
    draft.resource_deps += [dep for dep in call.resource_deps or [] if dep not in draft.resource_deps]
    draft.extra_pod_selectors += call.extra_pod_selectors or []
    if call.trigger_mode is not None:
        draft.trigger_mode = call.trigger_mode
    if call.auto_init is not None:
        draft.auto_init = call.auto_init
    if call.pod_readiness:
        draft.pod_readiness = call.pod_readiness
    if call.discovery_strategy:
        draft.discovery_strategy = call.discovery_strategy


class _Bases:
    """The image targets a resource builds: the ones it uses plus their bases,
    in build order. Indexed once, so each resource costs what it uses."""

    def __init__(self, ordered: list[ImageTarget]) -> None:
        self._by_ref = {t.ref: t for t in ordered}
        self._position = {t.ref: i for i, t in enumerate(ordered)}

    def __call__(self, used: list[str]) -> tuple[ImageTarget, ...]:
        needed: set[str] = set()
        stack = list(used)
        while stack:
            ref = stack.pop()
            if ref not in needed:
                needed.add(ref)
                stack.extend(self._by_ref[ref].image_deps)
        return tuple(self._by_ref[ref] for ref in sorted(needed, key=self._position.__getitem__))


def _add_local_manifests(state: TiltfileState, manifests: list[Manifest]) -> None:
    for call in state.local_resources:
        manifests.append(Manifest(
            name=call.name, local=call.target, resource_deps=tuple(call.resource_deps), labels=tuple(call.labels),
            links=tuple(call.links), auto_init=call.auto_init, source_order=len(manifests),
            trigger_mode=state.default_trigger_mode if call.trigger_mode is None else call.trigger_mode,
        ))


def _merged_dc_resource_calls(state: TiltfileState) -> dict[str, DcResourceCall]:
    """dc_resource() calls per service, as Tilt accumulates them: links,
    labels and resource_deps add up; the rest is replaced when given."""
    merged: dict[str, DcResourceCall] = {}
    for call in state.dc_resource_calls:
        before = merged.get(call.name)
        if before is None:
            merged[call.name] = dataclasses.replace(call)
            continue
        merged[call.name] = dataclasses.replace(
            before,
            trigger_mode=call.trigger_mode if call.trigger_mode is not None else before.trigger_mode,
            resource_deps=(before.resource_deps or []) + [d for d in call.resource_deps or []
                                                          if d not in (before.resource_deps or [])]
            if (before.resource_deps is not None or call.resource_deps is not None) else None,
            links=(before.links or []) + (call.links or []) if (before.links is not None or call.links is not None)
            else None,
            labels=(before.labels or []) + [lb for lb in call.labels or [] if lb not in (before.labels or [])]
            if (before.labels is not None or call.labels is not None) else None,
            auto_init=call.auto_init if call.auto_init is not None else before.auto_init,
            project_name=call.project_name or before.project_name,
            new_name=call.new_name or before.new_name,
            infer_links=call.infer_links if call.infer_links is not None else before.infer_links,
            image=call.image or before.image,
        )
    return merged


def _add_compose_manifests(state: TiltfileState, targets: list[ImageTarget], manifests: list[Manifest]) -> set[str]:
    consumed: set[str] = set()
    with_bases = _Bases(targets)
    calls = _merged_dc_resource_calls(state)
    known = {(call.project.name, svc) for call in state.compose_calls for svc in call.project.services}
    for dc in state.dc_resource_calls:
        if not any(svc == dc.name and (not dc.project_name or proj == dc.project_name) for proj, svc in known):
            services = ", ".join(sorted(svc for _, svc in known)) or "none"
            raise TiltfileError(f'dc_resource: no Docker Compose service named "{dc.name}" (services: {services})')
    if state.compose_calls:
        from tiltpy.compose.config import dependency_order  # only Compose projects need it
    for call in state.compose_calls:
        project = call.project
        renamed = {c.name: c.new_name for c in state.dc_resource_calls
                   if c.new_name and (not c.project_name or c.project_name == project.name)}
        for service in dependency_order(list(project.services.values())):
            dc = calls.get(service.name)
            wanted = (dc.image if dc is not None and dc.image else "") or service.image
            used = [t.ref for t in targets if wanted and ref_matches(t.ref, wanted)]
            images = with_bases(used)
            consumed.update(t.ref for t in images)
            dc = calls.get(service.name)
            if dc is not None and dc.project_name and dc.project_name != project.name:
                dc = None
            infer = True if dc is None or dc.infer_links is None else dc.infer_links
            links = [Link(f"http://localhost:{port}/") for port in service.published_ports] if infer else []
            if dc is not None and dc.links is not None:
                links = list(dc.links) + links
            manifests.append(Manifest(
                name=(dc.new_name if dc and dc.new_name else service.name),
                image_targets=images,
                compose=DockerComposeTarget(
                    service=service.name, project_name=project.name, config_paths=tuple(project.config_paths),
                    project_dir=project.project_dir, env_file=call.env_file, profiles=tuple(call.profiles),
                    wait=call.wait, image=service.image, image_refs=tuple(dict.fromkeys(used)),
                    has_build=service.has_build and not used, published_ports=service.published_ports,
                    bind_mounts=service.bind_mounts),
                # Tilt adds each service's depends_on to what dc_resource(resource_deps=) gives.
                resource_deps=tuple(dict.fromkeys([*((dc.resource_deps or ()) if dc else ()),
                                                   *(renamed.get(d, d) for d in service.depends_on
                                                     if d in project.services)])),
                labels=tuple(dc.labels or ()) if dc else (),
                links=tuple(links),
                trigger_mode=(dc.trigger_mode if dc and dc.trigger_mode is not None else state.default_trigger_mode),
                auto_init=dc.auto_init if dc and dc.auto_init is not None else True,
                source_order=len(manifests),
            ))
    return consumed


def _checked_resource_deps(manifests: list[Manifest], result: TiltfileResult) -> list[Manifest]:
    """Tilt's sanitizeDependencies: an unknown resource is a warning (and the
    dependency is dropped), a resource depending on itself or a cycle an error."""
    names = {m.name for m in manifests}
    checked = []
    for manifest in manifests:
        deps = []
        for dep in manifest.resource_deps:
            if dep == manifest.name:
                raise TiltfileError(f"resource {manifest.name} specified a dependency on itself")
            if dep not in names:
                result.warnings.append(f"resource {manifest.name} specified a dependency on unknown resource {dep} - "
                                       "dependency ignored")
                continue
            deps.append(dep)
        checked.append(dataclasses.replace(manifest, resource_deps=tuple(deps)))
    deps_of = {m.name: m.resource_deps for m in checked}
    try:
        topo_sort([m.name for m in checked], lambda name: deps_of[name])
    except CycleError as err:
        edges = "\n".join(f"\t{a} -> {b}" for a, b in zip(err.cycle, err.cycle[1:]))
        raise TiltfileError(f"cycle detected in resource dependency graph:\n{edges}") from None
    return checked


def assemble(state: TiltfileState, result: TiltfileResult) -> None:
    check_all_steps_used(state)
    targets = resolve_image_deps(state.image_targets)
    images_used = _ImageUse(targets, state)
    drafts, rest = _split_workloads(state, images_used)
    drafts = [_Draft(name=c.name, objects=[], original_name=c.name, custom_deploy=c)
              for c in extra(state).custom_deploys] + drafts  # k8s_custom_deploy() resources come first, as in Tilt
    every_object = [o for d in drafts for o in d.objects] + rest
    fragments, full_names = _fragments(every_object), [_full_name(o) for o in every_object]
    for call in state.k8s_resource_calls:
        _apply_resource_call(call, drafts, rest, fragments, full_names)

    manifests: list[Manifest] = []
    consumed: set[str] = set()
    with_bases = _Bases(targets)
    for order, draft in enumerate(drafts):
        used = [ref for obj in draft.objects for ref in images_used(obj)]
        deploy_refs = custom_deploy_image_refs(state, draft.custom_deploy, targets) if draft.custom_deploy else []
        images = with_bases(used + deploy_refs)
        consumed.update(t.ref for t in images)
        has_pods = any(pod_template(o) is not None for o in draft.objects) or draft.custom_deploy is not None
        readiness = draft.pod_readiness or kind_readiness(state, draft.objects) or ("wait" if has_pods else "ignore")
        for image in images:
            if any(isinstance(step, RestartContainer) for step in image.live_update):
                raise TiltfileError(
                    f"docker_build({image.ref!r}): restart_container() is not supported for Kubernetes "
                    "resources; load('ext://restart_process', 'docker_build_with_restart') instead")
        manifests.append(Manifest(
            name=draft.name,
            image_targets=images,
            k8s=K8sTarget(
                objects=tuple(draft.objects),
                image_refs=tuple(dict.fromkeys(used)),
                port_forwards=tuple(draft.port_forwards),
                pod_readiness=readiness,
                extra_pod_selectors=tuple(tuple(sorted(s.items())) for s in draft.extra_pod_selectors),
                image_locators=locators_for(state, draft.objects),
                custom_deploy=resolved_custom_deploy(draft.custom_deploy, deploy_refs) if draft.custom_deploy else None,
                discovery_strategy=draft.discovery_strategy,
            ),
            resource_deps=tuple(draft.resource_deps),
            labels=tuple(draft.labels),
            links=tuple(draft.links),
            trigger_mode=state.default_trigger_mode if draft.trigger_mode is None else draft.trigger_mode,
            auto_init=draft.auto_init,
            source_order=order,
        ))

    consumed |= _add_compose_manifests(state, targets, manifests)
    _add_local_manifests(state, manifests)
    if rest:  # Tilt's order: Kubernetes, Compose, local, then the uncategorized objects
        manifests.append(Manifest(name=UNCATEGORIZED, k8s=K8sTarget(objects=tuple(rest), pod_readiness="ignore"),
                                  trigger_mode=state.default_trigger_mode, source_order=-1))
    name_counts = collections.Counter(m.name for m in manifests)
    duplicates = sorted(name for name, count in name_counts.items() if count > 1)
    if duplicates:
        raise TiltfileError(f"resource names must be unique; used more than once: {', '.join(duplicates)}")

    manifests = _checked_resource_deps(manifests, result)
    for target in targets:
        if target.ref not in consumed and not suppressed_image_warning(state, target.ref):
            result.warnings.append(
                f"Image not used in any Kubernetes config: {target.ref}. Check that a container's image: "
                "field names it exactly (tags must match if docker_build's ref has one)")

    context = state.options.k8s_context
    if any(m.k8s for m in manifests) and context and not is_dev_context(context) \
            and context not in state.allowed_k8s_contexts:
        raise TiltfileError(
            f"Stop! {context} might be production.\nIf you're sure you want to deploy there, add:\n"
            f"\tallow_k8s_contexts('{context}')\nto your Tiltfile. Otherwise, switch k8s contexts and restart tiltpy.")

    result.manifests = manifests
    result.allowed_k8s_contexts = list(state.allowed_k8s_contexts)
    result.default_registry = state.default_registry
    result.default_registry_from_cluster = state.default_registry_from_cluster
    result.default_registry_single_name = state.default_registry_single_name
    result.watch_ignores = list(state.watch_ignores)
    result.max_parallel_updates = state.max_parallel_updates
    result.k8s_upsert_timeout_secs = state.k8s_upsert_timeout_secs
    finish_result(state, result)  # settings, config (enabled resources), secrets
