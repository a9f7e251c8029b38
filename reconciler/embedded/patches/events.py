"""EventBridge rules that know when their schedule began. AWS counts a rate expression from
the rule's creation ("A rate expression starts when you create the scheduled event rule");
moto keeps no such time, nor fires anything (embedded/scheduler.py does). Each PutRule that
creates a rule, or changes its schedule or state, stamps it with the embedded clock's now.
"""

from __future__ import annotations

from typing import Any

from reconciler.embedded.clock import CLOCK
from reconciler.embedded.patches import replace

STAMP = "reconciler_since"


def patch() -> None:
    from moto.events.models import EventsBackend

    original = EventsBackend.put_rule

    def put_rule(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        bus = self.event_buses.get(self._normalize_event_bus_arn(kwargs.get("event_bus_arn")))
        before = bus.rules.get(name) if bus is not None else None
        rule = original(self, name, *args, **kwargs)
        same = before is not None and (before.scheduled_expression, before.state) == (
            rule.scheduled_expression, rule.state)
        setattr(rule, STAMP, getattr(before, STAMP, None) if same else None)
        if getattr(rule, STAMP) is None:
            setattr(rule, STAMP, CLOCK.now())
        return rule

    replace(EventsBackend, "put_rule", put_rule)


__all__ = ["STAMP"]
