"""Reading AWS's events (pure): what each touches, who made it, the reconciler's own writes,
and the memory of who changed what. The fixtures in tests/core/events/ are events as the
queue delivers them, in the shapes AWS documents (CloudTrail record contents, the ECS event
reference)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.events import (
    NOBODY,
    Index,
    Ledger,
    Own,
    Provenance,
    parse,
    rule_patterns,
    via,
)
from reconciler.core.manifest import ResourceKey

FIXTURES = Path(__file__).parent / "events"
ACCT = "111122223333"
SFR = "sfr-73fbd2ce-aa30-494c-8788-1cee4e0a1b2c"

CLUSTER = ResourceKey("Cluster", "accounting-prd")
API = ResourceKey("Service", "accounting-api", "accounting-prd")
WORKER = ResourceKey("Service", "accounting-worker", "accounting-prd")
API_TD = ResourceKey("TaskDefinition", "accounting-api")
BATCH_TD = ResourceKey("TaskDefinition", "accounting-batch")
HEAVY = ResourceKey("ScheduledTask", "accounting-nightly-heavy", "accounting-prd")
LIGHT = ResourceKey("ScheduledTask", "accounting-nightly-light", "accounting-prd")
LEDGER = ResourceKey("ScheduledTask", "accounting-ledger-sync", "accounting-prd")
API_SCALING = ResourceKey("ScalableTarget", "accounting-api", "accounting-prd")
FLEET = ResourceKey("SpotFleet", "accounting-prd-spot")
FLEET_SCALING = ResourceKey("ScalableTarget", "accounting-prd-spot")
REFERENCES = {API_SCALING: [API], FLEET_SCALING: [FLEET], API: [API_TD]}


def estate() -> Index:
    """The example estate: a Spot Fleet is known by the id AWS gave it (the last read)."""
    keys = [CLUSTER, API, WORKER, API_TD, BATCH_TD, HEAVY, LIGHT, LEDGER, API_SCALING, FLEET,
            FLEET_SCALING]
    live: dict[ResourceKey, tuple[str, dict[str, Any]]] = {FLEET: (SFR, {})}
    return Index.build(keys, live, lambda k: REFERENCES.get(k, []))


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return doc


# name -> (the managed resources it touches, who, via); who None: no person (ECS's own event)
CASES: dict[str, tuple[set[ResourceKey], str | None, str]] = {
    "ecs-update-service-console": (
        {API}, "alice@example.com (role AWSReservedSSO_Admin_0123abcd)", "AWS console"),
    "ecs-update-service-cli-arns": ({API}, "bob", "AWS CLI"),
    "ecs-create-service-terraform": (
        {WORKER}, "1700000000000000000 (role terraform-ci)", "Terraform"),
    "ecs-delete-service-default-cluster": (set(), "bob", "AWS CLI"),  # not managed
    "ecs-register-task-definition-cloudformation": (
        {BATCH_TD}, "AWSCloudFormation (role cfn-exec)", "CloudFormation"),
    "ecs-deregister-task-definition": ({BATCH_TD}, "bob", "AWS CLI"),
    "ecs-tag-resource-service": ({API}, "bob", "SDK (Boto3)"),
    "ecs-update-service-autoscaling": (
        {API}, "AutoScaling (role AWSServiceRoleForApplicationAutoScaling_ECSService)",
        "AWS service (application-autoscaling)"),
    "ecs-update-service-reconciler": (
        {API}, "4f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f (role ecs-reconciler-task)", "ecs-reconciler"),
    "events-put-rule-console": (
        {HEAVY}, "alice@example.com (role AWSReservedSSO_Admin_0123abcd)", "AWS console"),
    "events-put-targets": ({HEAVY}, "bob", "AWS CLI"),
    "events-remove-targets": ({LEDGER}, "bob", "AWS CLI"),
    "events-disable-rule": ({LIGHT}, "bob", "AWS CLI"),
    "events-enable-rule-custom-bus": (set(), "bob", "AWS CLI"),  # another bus's rule
    "events-tag-resource": ({LEDGER}, "bob", "SDK (Boto3)"),
    "aas-register-scalable-target": ({API_SCALING}, "bob", "AWS CLI"),
    "aas-put-scaling-policy": (
        {API_SCALING}, "alice@example.com (role AWSReservedSSO_Admin_0123abcd)", "AWS console"),
    "aas-delete-scheduled-action-spot-fleet": ({FLEET_SCALING}, "bob", "AWS CLI"),
    "ec2-modify-spot-fleet-request": ({FLEET}, "bob", "AWS CLI"),
    "ec2-cancel-spot-fleet-requests": ({FLEET}, "bob", "AWS CLI"),
    "ecs-deployment-state-change": ({API}, None, ""),
    "ecs-service-action": ({WORKER}, None, ""),
}


def test_every_fixture_has_a_case() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == {*CASES, "ecs-update-service-failed"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_event_touches_its_resource_and_names_who(name: str) -> None:
    keys, who, how = CASES[name]
    event = parse(json.dumps(fixture(name)))
    assert event is not None and not event.failed
    assert estate().keys(event.touched) == keys
    found = event.provenance
    if who is None:
        assert found is None
        return
    assert found is not None and (found.who, found.via) == (who, how)
    detail = fixture(name)["detail"]
    assert found.event_id == detail["eventID"] and found.event_time == detail["eventTime"]
    assert found.source_ip == detail["sourceIPAddress"]
    assert found.principal == detail["userIdentity"]["arn"]
    assert found.link == ("https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?"
                          f"region=eu-west-1#/events/{detail['eventID']}")


def test_a_refused_call_changed_nothing() -> None:
    event = parse(fixture("ecs-update-service-failed"))
    assert event is not None and event.failed


def test_what_is_no_event_of_ours_is_none() -> None:
    assert parse("not json") is None
    assert parse(json.dumps({"detail-type": "Scheduled Event", "source": "aws.events",
                             "detail": {}})) is None
    assert parse(json.dumps([1, 2])) is None
    assert parse(json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": "x"})) is None


def test_the_reconciler_knows_its_own_writes() -> None:
    ours = fixture("ecs-update-service-reconciler")["detail"]
    alice = fixture("ecs-update-service-console")["detail"]
    assert Own()(ours) and not Own()(alice)  # the user agent alone
    # its role, whatever the session (another replica, a renewed session), paths ignored
    own = Own.of(f"arn:aws:sts::{ACCT}:assumed-role/ecs-reconciler-task/another-task-id")
    quiet = {**ours, "userAgent": "Boto3/1.44.8"}
    assert own(quiet) and not own(alice)
    other = Own.of(f"arn:aws:sts::{ACCT}:assumed-role/ecs-reconciler-task-2/x")
    assert not other(quiet)
    # an IAM user: that very user
    bob = fixture("ecs-update-service-cli-arns")["detail"]
    assert Own.of(f"arn:aws:iam::{ACCT}:user/bob")(bob)
    assert not Own.of(f"arn:aws:iam::{ACCT}:user/bobby")(bob)
    assert not Own.of(None)(bob)


@pytest.mark.parametrize(("agent", "expected"), [
    ("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22", "AWS CLI"),
    ("aws-cli/1.32.0 Python/3.11.8 Linux/6.5.0 botocore/1.34.0", "AWS CLI"),
    ("Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux lang/python#3.11.7 Botocore/1.44.8",
     "SDK (Boto3)"),
    ("Botocore/1.44.8 ua/2.1 os/linux", "SDK (botocore)"),
    ("aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux api/ecs#1.35.6",
     "SDK (Go v2)"),
    ("aws-sdk-js/3.474.0 ua/2.0 os/darwin#23.1.0 lang/js md/nodejs#20.10.0 api/ecs#3.474.0",
     "SDK (JavaScript)"),
    ("aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 app/ecspresso api/ecs#1.35.6", "ecspresso"),
    ("OpenTofu/1.6.0 terraform-provider-aws/5.31.0", "Terraform"),
    ("HashiCorp/1.0 OpenTofu/1.6.0", "OpenTofu"),
    ("console.amazonaws.com", "AWS console"),
    ("signin.amazonaws.com", "AWS console"),
    ("AWS Internal", "AWS console"),
    ("cloudformation.amazonaws.com", "CloudFormation"),
    ("ecs.application-autoscaling.amazonaws.com", "AWS service (ecs.application-autoscaling)"),
    ("curl/8.4.0", "other client (curl/8.4.0)"),
    ("", "unknown"),
])
def test_how_a_call_was_made(agent: str, expected: str) -> None:
    assert via({"userAgent": agent}) == expected


def test_a_console_session_is_the_console_whatever_its_agent() -> None:
    assert via({"userAgent": "Boto3/1.44.8", "sessionCredentialFromConsole": "true"}) == \
        "AWS console"


def test_provenance_for_people_and_machines() -> None:
    event = parse(fixture("ecs-update-service-console"))
    assert event is not None and event.provenance is not None
    who = event.provenance
    assert who.line().startswith("alice@example.com (role AWSReservedSSO_Admin_0123abcd) via "
                                 "AWS console from 203.0.113.5 at 2026-11-29T08:01:31Z "
                                 "(UpdateService): <https://eu-west-1.console.aws.amazon.com/")
    assert who.line(slack=False).endswith(f"; {who.link}")
    doc = who.to_json()
    assert doc["who"] == who.who and doc["via"] == "AWS console"
    assert doc["sourceIPAddress"] == "203.0.113.5" and doc["eventTime"] == "2026-11-29T08:01:31Z"
    assert doc["role"].endswith(":role/aws-reserved/sso.amazonaws.com/eu-west-1/"
                                "AWSReservedSSO_Admin_0123abcd")
    assert NOBODY.line().startswith("unknown") and NOBODY.to_json()["who"] == "unknown"
    assert not NOBODY.known and NOBODY.link == ""


def _who(event_id: str, at: str, name: str = "alice") -> Provenance:
    return Provenance(name, event_id=event_id, event_time=at)


def test_the_ledger_keeps_each_change_once_in_aws_order() -> None:
    ledger = Ledger()
    late, early = _who("b", "2026-11-29T08:00:02Z", "bob"), _who("a", "2026-11-29T08:00:01Z")
    assert ledger.note(API, late, at=10.0)
    assert ledger.note(API, early, at=11.0)  # arrived second, happened first
    assert not ledger.note(API, late, at=12.0)  # a duplicate delivery
    assert ledger.latest(API) == late
    assert [p.who for p in ledger.changes(API)] == ["alice", "bob"]
    assert ledger.latest(WORKER) is None


def test_the_ledger_forgets_once_a_later_pass_finds_the_resource_in_sync() -> None:
    ledger = Ledger()
    ledger.note(API, _who("a", "2026-11-29T08:00:01Z"), at=10.0)
    ledger.note(API, _who("b", "2026-11-29T08:00:05Z"), at=20.0)
    ledger.settle({API}, before=15.0)  # a pass that began at 15 read AWS before "b" came
    assert [p.event_id for p in ledger.changes(API)] == ["b"]
    ledger.settle({API}, before=25.0)
    assert ledger.latest(API) is None and API not in ledger.entries


def test_the_ledger_is_bounded_per_resource() -> None:
    ledger = Ledger(keep=3)
    for i in range(10):
        ledger.note(API, _who(f"e{i}", f"2026-11-29T08:00:{i:02d}Z"), at=float(i))
    assert [p.event_id for p in ledger.changes(API)] == ["e7", "e8", "e9"]


def test_the_rules_match_the_writes_read_here_and_nothing_else() -> None:
    """The EventBridge patterns (deploy and embedded default), evaluated by moto's matcher:
    every write fixture matches one rule, ECS's own events the other; a refused call, a read
    and another service's call match neither."""
    from moto.events.models import EventPattern

    patterns = [EventPattern.load(json.dumps(p)) for p in rule_patterns().values()]

    def matched(event: dict[str, Any]) -> bool:
        return any(p.matches_event(event) for p in patterns)

    for name in CASES:
        assert matched(fixture(name)), name
    assert not matched(fixture("ecs-update-service-failed"))
    read = fixture("ecs-update-service-cli-arns")
    read["detail"]["eventName"] = "DescribeServices"
    assert not matched(read)
    other = fixture("events-tag-resource")
    other["source"], other["detail"]["eventSource"] = "aws.lambda", "lambda.amazonaws.com"
    assert not matched(other)
