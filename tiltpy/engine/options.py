"""How `up` / `ci` run the engine (kept apart from engine.py, so the command
line can build them before the engine and its libraries are imported)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EngineOptions:
    mode: str = "up"  # up | ci
    host: str = "localhost"
    context_override: str = ""
    update_mode: str = "auto"  # auto | docker | exec
    watch: bool = True
