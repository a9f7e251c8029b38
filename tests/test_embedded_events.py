"""The embedded default's CloudTrail and SQS patches (tests/test_embedded.py's style): each
`test_moto_still_*` checks that moto as shipped still has the gap, and fails once moto
closes it (then delete the patch and the test); `test_patched_*` checks the fix over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from reconciler.core.events import rule_patterns
from reconciler.embedded import EmbeddedAws
from reconciler.embedded.events import TRAIL, create_event_queue
from tests.conftest import REGION
from tests.support_embedded import unpatched
from tests.support_events import CLI, as_person, depth


def test_moto_still_has_no_lookup_events() -> None:
    with unpatched(), mock_aws(), pytest.raises((NotImplementedError, ClientError)):
        boto3.client("cloudtrail", region_name=REGION).lookup_events()


def test_moto_still_sends_no_api_call_event_to_eventbridge() -> None:
    with unpatched(), mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        url = sqs.create_queue(QueueName="watch")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_rule(Name="writes", EventPattern=json.dumps(rule_patterns()["api-calls"]))
        events.put_targets(Rule="writes", Targets=[{"Id": "q", "Arn": arn}])
        boto3.client("ecs", region_name=REGION).create_cluster(clusterName="c")
        assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_moto_still_scans_the_queue_for_each_message_it_hands_out() -> None:
    from moto.sqs.models import SQSBackend

    asked: list[Any] = []
    original = SQSBackend.get_queue_attributes
    with unpatched(), mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "x"} for i in range(3)])

        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            asked.append(args)
            return original(self, *args, **kwargs)

        SQSBackend.get_queue_attributes = counted  # type: ignore[method-assign]
        try:
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)
        finally:
            SQSBackend.get_queue_attributes = original  # type: ignore[method-assign]
    assert len(asked) == 3  # every attribute of the queue, once per message


def _lookup(**params: Any) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("cloudtrail", region_name=REGION).lookup_events(
        **params)
    return found


def test_patched_cloudtrail_records_people_serves_lookup_and_feeds_the_rules(
        aws: EmbeddedAws) -> None:
    url = create_event_queue(aws.url, REGION, visibility=1)
    events = boto3.client("events", region_name=REGION)
    # a schedule (no pattern, an ECS target moto cannot deliver to) takes no API-call event
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[{
        "Id": "t", "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/c",
        "RoleArn": "arn:aws:iam::123456789012:role/events",
        "EcsParameters": {"TaskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:"
                                               "task-definition/t:1"}}])
    ecs = as_person("ecs", agent=CLI)
    ecs.create_cluster(clusterName="c1")
    ecs.create_cluster(clusterName="c2")
    ecs.list_clusters()  # a read: no record
    boto3.client("ecs", region_name=REGION, config=Config(user_agent="ecs-reconciler/0.1.0")
                 ).create_cluster(clusterName="ours")  # the reconciler's: no record
    newest = _lookup(LookupAttributes=[{"AttributeKey": "EventName",
                                        "AttributeValue": "CreateCluster"}], MaxResults=1)
    [row] = newest["Events"]
    record = json.loads(row["CloudTrailEvent"])
    assert record["requestParameters"] == {"clusterName": "c2"}
    assert record["userIdentity"]["arn"] == ("arn:aws:sts::123456789012:assumed-role/Admin/"
                                             "alice@example.com")
    assert record["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] == "Admin"
    assert record["userAgent"].startswith("aws-cli/2.15.30") and row["Username"] == \
        "alice@example.com"
    rest = _lookup(LookupAttributes=[{"AttributeKey": "EventName",
                                      "AttributeValue": "CreateCluster"}],
                   MaxResults=1, NextToken=newest["NextToken"])
    assert json.loads(rest["Events"][0]["CloudTrailEvent"])["requestParameters"] == {
        "clusterName": "c1"} and "NextToken" not in rest
    names = {e["EventName"] for e in _lookup()["Events"]}
    assert "ListClusters" not in names and "CreateCluster" in names
    soon = datetime.now(UTC) + timedelta(days=1)
    assert _lookup(StartTime=soon, EndTime=soon + timedelta(hours=1))["Events"] == []
    for bad, code in (({"LookupAttributes": [
            {"AttributeKey": "EventName", "AttributeValue": "x"},
            {"AttributeKey": "Username", "AttributeValue": "y"}]},
            "InvalidLookupAttributesException"),
            ({"StartTime": soon, "EndTime": soon - timedelta(hours=1)},
             "InvalidTimeRangeException")):
        with pytest.raises(ClientError) as err:
            _lookup(**bad)
        assert err.value.response["Error"]["Code"] == code
    # the writes reached the queue through the real rule (the schedule's set-up was a write
    # too); the read and the reconciler's own write did not
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in got["Messages"]]
    assert sorted(b["detail"]["eventName"] for b in bodies) == [
        "CreateCluster", "CreateCluster", "PutRule", "PutTargets"]
    assert sorted(b["detail"]["requestParameters"].get("clusterName", "") for b in bodies) == [
        "", "", "c1", "c2"]
    assert {b["detail-type"] for b in bodies} == {"AWS API Call via CloudTrail"}
    # a disabled rule delivers nothing (moto's own PutEvents would still deliver), nor does
    # an enabled one while no trail logs
    sqs.purge_queue(QueueUrl=url)
    events.disable_rule(Name="ecs-reconciler-events-api-calls")
    ecs.create_cluster(clusterName="c3")
    assert depth(url) == 0
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name=TRAIL)
    events.enable_rule(Name="ecs-reconciler-events-api-calls")
    ecs.create_cluster(clusterName="c4")
    assert depth(url) == 0
