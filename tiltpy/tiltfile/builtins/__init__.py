"""Tiltfile builtins, one module per area. Each module exposes BUILTINS
(name -> function taking the calling FileContext first), and optionally
CONSTANTS and a Starlark PRELUDE that builds namespaces such as `os.path`."""
from __future__ import annotations

from tiltpy.tiltfile.builtins import compose, core, docker, k8s, live_update, local, os_sys

ALL_BUILTIN_MODULES = (core, docker, k8s, live_update, os_sys, local, compose)
