"""Pacing under the documented API quotas, on a fake clock: nothing here waits for real."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from reconciler.aws.client import Aws
from reconciler.aws.quotas import DOCUMENTED, Pacer, pacer_from_env, scale_from
from tests.conftest import REGION


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _pacer(t: FakeTime, scale: float = 1.0) -> Pacer:
    """At exactly the documented numbers (no headroom), so the figures read as in the docs."""
    return Pacer(scale=scale, headroom=(1.0, 1.0), clock=t.clock, sleep=t.sleep)


def test_burst_then_the_sustained_rate() -> None:
    t = FakeTime()
    p = _pacer(t)
    delays = [p.delay("ecs", "describe_task_definition") for _ in range(60)]
    assert delays[:50] == [0.0] * 50  # the documented burst: 50
    assert delays[50:] == pytest.approx([(i + 1) / 20 for i in range(10)])  # then 20 a second
    t.now = 10.0  # the debt is paid and the bucket full again, never more than the burst
    assert [p.delay("ecs", "list_task_definitions") for _ in range(51)][-2:] == [
        0.0, pytest.approx(1 / 20)]


def test_by_default_a_margin_below_the_documented_numbers() -> None:
    t = FakeTime()
    p = Pacer(clock=t.clock, sleep=t.sleep)
    delays = [p.delay("ecs", "describe_task_definition") for _ in range(46)]
    assert delays[44] == 0.0 and delays[45] == pytest.approx(1 / 19)  # 45 of 50, 19 of 20


def test_a_throttled_answer_empties_the_bucket() -> None:
    t = FakeTime()
    p = _pacer(t)
    assert p.delay("ecs", "describe_services") == 0.0
    p.throttled("ecs", "describe_services")  # someone else in the account took the tokens
    assert p.delay("ecs", "describe_services") == pytest.approx(1 / 20)
    assert p.delay("ecs", "describe_services") == pytest.approx(2 / 20)
    t.now = 100.0  # refilled to the burst, at the documented rate again
    assert [p.delay("ecs", "describe_services") for _ in range(101)][-2:] == [
        0.0, pytest.approx(1 / 20)]
    p.throttled("events", "put_events")  # no documented quota: nothing to empty


def test_calls_held_back_by_slots_and_let_go_together_are_spaced_again() -> None:
    t = FakeTime()
    p = _pacer(t)
    ahead = [p.delay("ecs", "describe_task_definition") for _ in range(60)]
    assert max(ahead) == pytest.approx(0.5)
    t.now = 2.0  # the slots were busy: all 60 leave only now, AWS's bucket holds 50
    sending = [p.delay("ecs", "describe_task_definition", "sending") for _ in range(60)]
    assert sending[:50] == [0.0] * 50
    assert sending[50:] == pytest.approx([(i + 1) / 20 for i in range(10)])


def test_operations_share_their_category_and_only_it() -> None:
    p = _pacer(FakeTime())
    for _ in range(50):
        p.delay("ecs", "list_task_definitions")
    assert p.delay("ecs", "describe_task_definition") > 0  # same "task definition read" bucket
    assert p.delay("ecs", "describe_services") == 0.0  # "service read" is its own
    assert p.delay("ecs", "register_task_definition") == 0.0


def test_each_eventbridge_api_has_its_own_bucket_and_undocumented_ones_none() -> None:
    p = _pacer(FakeTime())
    assert [p.delay("events", "list_targets_by_rule") for _ in range(51)][-1] > 0
    assert p.delay("events", "list_tags_for_resource") == 0.0
    assert p.quota("events", "put_events") is None
    assert all(p.delay("application-autoscaling", "list_tags_for_resource") == 0.0
               for _ in range(1000))


def test_writes_are_paced_to_their_much_lower_rates() -> None:
    p = _pacer(FakeTime())
    delays = [p.delay("ecs", "register_task_definition") for _ in range(23)]
    assert delays[19] == 0.0 and delays[20:] == pytest.approx([1.0, 2.0, 3.0])


def test_scale_multiplies_burst_and_rate() -> None:
    p = _pacer(FakeTime(), scale=2.0)
    delays = [p.delay("ecs", "describe_task_definition") for _ in range(101)]
    assert delays[99] == 0.0 and delays[100] == pytest.approx(1 / 40)


@pytest.mark.parametrize(("value", "scale"), [
    (None, 1.0), ("documented", 1.0), ("off", None), ("0", None), ("2", 2.0), ("0.5", 0.5)])
def test_environment_setting(value: str | None, scale: float | None) -> None:
    assert scale_from(value) == scale


def test_a_bad_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_API_QUOTAS", "-1")
    with pytest.raises(ValueError, match="RECONCILER_API_QUOTAS"):
        pacer_from_env()


def test_every_documented_quota_names_real_operations() -> None:
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    for q in DOCUMENTED:
        model = session.get_service_model(q.service)
        names = {xform_name(op) for op in model.operation_names}
        assert q.operations <= names, (q.name, q.operations - names)


async def test_the_adapter_waits_its_turn_without_failing(aws: Any) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx", "memory": 128}])
    t = FakeTime()
    client = Aws(pacer=_pacer(t))
    for _ in range(55):
        await client.call("ecs", "describe_task_definition", taskDefinition="web")
    assert t.slept == pytest.approx([1 / 20] * 5)  # one at a time: each waits one token
    assert client.pacer is not None and client.pacer.waited == pytest.approx(sum(t.slept))
    assert client.pacer.longest == pytest.approx(1 / 20)
    assert client.errors == {}


def test_metrics_count_the_seconds_spent_waiting() -> None:
    from reconciler.controller.metrics import Metrics

    t = FakeTime()
    client = Aws(pacer=_pacer(t))
    assert client.pacer is not None
    client.pacer.waited = 1.5
    metrics = Metrics()
    metrics.observe_calls(client)
    client.pacer.waited = 2.0
    client.retries["ecs:describe_services"] = 3
    metrics.observe_calls(client)
    assert metrics.registry.get_sample_value("reconciler_aws_paced_seconds_total") == 2.0
    assert metrics.registry.get_sample_value(
        "reconciler_aws_api_retries_total", {"operation": "ecs:describe_services"}) == 3
