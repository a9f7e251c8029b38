"""moto made to behave like AWS where it measurably does not (shared/MOTO.md), one module
per service. Each patch is undone by `ORIGINALS` in the tests that check the gap is still
there, so a patch is dropped once moto behaves.
"""

from __future__ import annotations

import threading
from typing import Any

_patched = False
_lock = threading.Lock()
# (class, attribute) -> what moto shipped there (None: moto has no such operation)
ORIGINALS: dict[tuple[Any, str], Any] = {}


def replace(cls: Any, name: str, fn: Any) -> None:
    ORIGINALS.setdefault((cls, name), cls.__dict__.get(name))
    setattr(cls, name, fn)


def patch_moto() -> None:
    """Apply every patch, once per process."""
    global _patched
    with _lock:
        if _patched:
            return
        from reconciler.embedded.patches import (
            autoscaling,
            cloudtrail,
            deployments,
            ecs,
            events,
            spot_fleet,
            sqs,
            tagging,
            tasks,
        )

        ecs.patch()
        deployments.patch()  # after ecs: it wraps ecs's CreateService and UpdateService
        events.patch()
        tasks.patch()
        autoscaling.patch()
        spot_fleet.patch()
        tagging.patch()
        cloudtrail.patch()
        sqs.patch()
        _patched = True


__all__ = ["ORIGINALS", "patch_moto", "replace"]
