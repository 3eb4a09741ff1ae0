"""Tiltfile builtins, one module per area. Each module exposes BUILTINS
(name -> function taking the calling FileContext first), and optionally
CONSTANTS and a Starlark PRELUDE that builds namespaces such as `os.path`."""
from __future__ import annotations

from tiltpy.tiltfile.builtins import (
    compose,
    config,
    core,
    custom_build,
    data,
    dialect,
    docker,
    extensions,
    k8s,
    k8s_extra,
    live_update,
    local,
    os_sys,
    settings,
    v1alpha1,
)

ALL_BUILTIN_MODULES = (dialect, core, docker, k8s, live_update, os_sys, local, compose, data, config, settings, k8s_extra,
                       custom_build, extensions, v1alpha1)
