"""Hooks the controller left running: a pass follows a running hook for `Settings.hook_wait`
seconds at most (the loop must keep turning for everything else), then this extension asks
for a targeted pass of the hook and what it gates every `poll` seconds until it has ended.
Nothing is kept here that AWS does not hold: a pass on any replica reads where a hook is.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from reconciler.core.manifest import ResourceKey

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller, PassReport


class HooksExtension:
    name = "hooks"

    def __init__(self, poll: float = 15.0) -> None:
        self.poll = poll
        self.running: set[ResourceKey] = set()
        self._wake = asyncio.Event()

    async def run(self, controller: Controller) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.running:
                await asyncio.sleep(self.poll)
                if self.running and controller.is_leader():
                    controller.request_targeted(set(self.running))

    def after_pass(self, controller: Controller, report: PassReport) -> None:
        result = report.result
        if result is None:
            return
        looked = {c.key for c in result.plan.changes}
        self.running = (self.running - looked) | set(result.running_hooks())
        if self.running:
            self._wake.set()

    def status(self) -> dict[str, Any]:
        return {"running": [str(k) for k in sorted(self.running, key=str)]}


__all__ = ["HooksExtension"]
