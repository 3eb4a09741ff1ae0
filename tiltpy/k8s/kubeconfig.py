"""Reading kubeconfig files the way kubectl does: the `KUBECONFIG` list (or
~/.kube/config), merged with client-go's rule, and one context resolved to its
cluster and user entries. Pure data; nothing here contacts a cluster."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


class KubeconfigError(Exception):
    """The kubeconfig can't be read or names something it lacks; str() is for humans."""


@dataclass(frozen=True)
class Entry:
    """A cluster, user or context entry and the directory of the file that
    defined it: relative paths in it are relative to that file."""
    data: dict[str, Any]
    base: str


@dataclass
class Kubeconfig:
    """The merged kubeconfig files."""

    paths: list[str]
    current_context: str = ""
    contexts: dict[str, Entry] = field(default_factory=dict)
    clusters: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedContext:
    """A context with its cluster and user entries looked up."""

    name: str
    cluster_name: str
    cluster: Entry
    user_name: str
    user: Entry
    namespace: str


def kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    paths = [p for p in (env or "").split(os.pathsep) if p]
    if not paths:
        return [os.path.expanduser("~/.kube/config")]
    return list(dict.fromkeys(paths))  # a file listed twice counts once


def merge(documents: list[tuple[dict[str, Any], str]], paths: list[str] | None = None) -> Kubeconfig:
    """client-go's merge: for every named cluster, user and context, and for
    current-context, the first file that sets it wins. `documents` are
    (parsed file, its directory) in KUBECONFIG order."""
    merged = Kubeconfig(paths=list(paths or []))
    for data, base in documents:
        merged.current_context = merged.current_context or str(data.get("current-context") or "")
        for kind, key in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            table: dict[str, Entry] = getattr(merged, kind)
            for item in data.get(kind) or []:
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str) and name not in table:
                    table[name] = Entry(item.get(key) or {}, base)
    return merged


def load(paths: list[str] | None = None) -> Kubeconfig:
    """Read and merge the files; files that don't exist are skipped, as by kubectl."""
    import yaml  # imported here: cluster.current_context answers most commands without reading

    paths = paths if paths is not None else kubeconfig_paths()
    documents: list[tuple[dict[str, Any], str]] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
            raise KubeconfigError(f"cannot read kubeconfig {path}: {e}") from e
        if not isinstance(data, dict):
            raise KubeconfigError(f"cannot read kubeconfig {path}: not a mapping")
        documents.append((data, os.path.dirname(os.path.abspath(path))))
    if not documents:
        raise KubeconfigError(f"cannot read kubeconfig: none of {', '.join(paths)} exists")
    return merge(documents, paths)


def resolve(config: Kubeconfig, context: str = "") -> ResolvedContext:
    """The cluster and user that `context` (default: current-context) names."""
    name = context or config.current_context
    if not name:
        raise KubeconfigError(f"no current context in kubeconfig {os.pathsep.join(config.paths)}; "
                              "set one with `kubectl config use-context`")
    if name not in config.contexts:
        raise KubeconfigError(f"context {name!r} not found in kubeconfig")
    ctx = config.contexts[name].data
    cluster_name = str(ctx.get("cluster") or "")
    if cluster_name not in config.clusters:
        raise KubeconfigError(f"cluster {cluster_name!r} of context {name!r} not found in kubeconfig")
    user_name = str(ctx.get("user") or "")
    # A missing user means no credentials (kubectl sends none), not an error.
    user = config.users.get(user_name, Entry({}, ""))
    return ResolvedContext(name=name, cluster_name=cluster_name, cluster=config.clusters[cluster_name],
                           user_name=user_name, user=user, namespace=str(ctx.get("namespace") or "default"))


def resolve_path(path: str, base: str) -> str:
    """A path from an entry, relative to the file that defined the entry."""
    return os.path.join(base, os.path.expanduser(path))
