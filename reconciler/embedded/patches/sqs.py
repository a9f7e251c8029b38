"""SQS at the speed AWS answers. moto's queue scans every message on each send and receive
(its message counts), reading the clock through two datetime conversions per message, and
checks each message it hands out against the retention period by computing every attribute
of the queue: a 500-event burst took 17 s to send and 85 s to drain. Here a message's
visibility and delay read the clock directly, and the retention check reads the one
attribute it needs; what SQS answers does not change."""

from __future__ import annotations

import time
from typing import Any

from reconciler.embedded.patches import replace


def _now_ms() -> float:
    return time.time() * 1000


def patch() -> None:
    from moto.sqs.models import Message, SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str,
                                                   message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period * 1000 + message.sent_timestamp > _now_ms())

    replace(SQSBackend, "is_message_valid_based_on_retention_period",
            is_message_valid_based_on_retention_period)
    replace(Message, "visible", property(lambda self: _now_ms() > self.visible_at))
    replace(Message, "delayed", property(lambda self: _now_ms() < self.delayed_until))
