"""The seam for what the controller does beside keeping AWS equal to git: following a
rollout to its end, watching scheduled runs, reading AWS's own events. Each is one
`Extension`, handed to the `Controller`; none of them is named in the loop.

An extension may run a task for the controller's life (`run`), see every pass (`after_pass`),
add to `/status` (`status`), send alerts through `controller.alert` (only the leader's go out),
ask for a pass of some resources now (`controller.request_targeted`), say who changed a
resource so its drift report names them (`controller.note_change`), and change how often the
full resync runs (`controller.set_resync`). Work that writes or alerts checks
`controller.is_leader()` first. An extension that tells people about a kind's health itself
names that kind in an optional `health_kinds` attribute, and the loop then sends no health
alert of its own for it (one message per thing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller, PassReport


class Extension(Protocol):
    @property
    def name(self) -> str:
        """Its key in `/status`."""
        ...

    async def run(self, controller: Controller) -> None:
        """Runs beside the loop until cancelled (return at once if there is nothing to do)."""
        ...

    def after_pass(self, controller: Controller, report: PassReport) -> None:
        """Sees each pass as it ends (cheap: no AWS calls here; start them from `run`)."""
        ...

    def status(self) -> dict[str, Any]:
        """What `/status` shows of it."""
        ...


__all__ = ["Extension"]
