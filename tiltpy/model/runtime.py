"""What a resource's runtime monitor (pods, a Compose container, a serve_cmd
process) reports, as plain data the engine and the views read."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RuntimeState:
    status: str = "pending"  # pending | ok | error
    error: str = ""
    pod: str = ""  # the newest current pod
    pod_phase: str = ""
    restarts: int = 0
    containers: list[dict[str, Any]] = field(default_factory=list)
