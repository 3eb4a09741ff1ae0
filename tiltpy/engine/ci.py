"""`tiltpy ci`'s exit rules: success once every resource that starts on its
own is ready; failure as soon as one fails (a failing pod only after
ci_settings' k8s_grace_period), a resource never becomes ready within the
readiness timeout, or the whole run exceeds its timeout."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from tiltpy.engine.errors import EngineFailure

if TYPE_CHECKING:
    from tiltpy.engine.engine import Engine


async def wait_until_ready(engine: Engine) -> None:
    loop = asyncio.get_running_loop()
    result = engine.result
    deadline = loop.time() + result.ci_timeout_secs
    readiness_timeout = result.readiness_timeout_secs
    failing_since: dict[str, float] = {}
    while True:
        active = [r for r in engine.resources.values() if r.manifest.auto_init]
        for res in active:
            if res.update_status == "error":
                raise EngineFailure(f'resource "{res.name}": {res.update_error}')
            if res.update_status == "ok" and res.runtime_status == "error":
                first_seen = failing_since.setdefault(res.name, loop.time())
                if loop.time() - first_seen < result.k8s_grace_period_secs:
                    continue
                # Let the crashed container's log stream deliver its last words first.
                await asyncio.sleep(1.5)
                raise EngineFailure(f'resource "{res.name}": {res.monitor.state.error if res.monitor else ""}')
            failing_since.pop(res.name, None)
        if all(r.is_ready() for r in active):
            return
        now, wall = loop.time(), time.time()
        if now > deadline:
            raise EngineFailure(f"timeout after {result.ci_timeout_secs:.0f}s waiting for: "
                                + ", ".join(r.name for r in active if not r.is_ready()))
        # Tilt's readiness timeout: counted from each resource's last deploy.
        unready = [(r, r.builds[-1].finished) for r in active
                   if r.update_status == "ok" and not r.is_ready() and r.builds and r.builds[-1].finished]
        late = [r.name for r, finished in unready if wall - finished > readiness_timeout]
        if late:
            raise EngineFailure(f"readiness timeout ({readiness_timeout:.0f}s): never became ready: " + ", ".join(late))
        wake_at = deadline - now
        for since in failing_since.values():
            wake_at = min(wake_at, since + result.k8s_grace_period_secs - now)
        for _, finished in unready:
            wake_at = min(wake_at, finished + readiness_timeout - wall)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(engine.next_change(), timeout=max(wake_at, 0) + 0.05)
