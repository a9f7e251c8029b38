"""The event source on the embedded default, set up as deploy/cloudformation/bootstrap.json
sets it up on AWS: an SQS queue with a dead-letter queue, and the EventBridge rules that fill
it (AWS's API-call events, which `patches/cloudtrail.py` sends, and ECS's own service and
deployment events); and, as an account that wants API-call events has, a trail logging
management events. Real moto queues, rules and trail: only the events are simulated.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.events import AGENT_MARKER, rule_patterns

QUEUE = "ecs-reconciler-events"
TRAIL = "management-events"
MAX_RECEIVES = 5  # then the dead-letter queue: an event that keeps failing is kept, not looped


def _client(service: str, endpoint: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    # Set up by the reconciler: its user agent, so the set-up is no event to itself.
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        config=Config(user_agent=f"{AGENT_MARKER}embedded-setup"))


def create_trail(endpoint: str, region: str) -> None:
    """A multi-Region trail logging management events, into its own bucket."""
    s3 = _client("s3", endpoint, region)
    cloudtrail = _client("cloudtrail", endpoint, region)
    bucket = f"{TRAIL}-{region}"
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket,
                         CreateBucketConfiguration={"LocationConstraint": region})
    if not cloudtrail.describe_trails(trailNameList=[TRAIL])["trailList"]:
        cloudtrail.create_trail(Name=TRAIL, S3BucketName=bucket, IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name=TRAIL)


def create_event_queue(endpoint: str, region: str, name: str = QUEUE,
                       visibility: int = 120, trail: bool = True) -> str:
    """The queue, its dead-letter queue, its policy and the rules (and a trail, unless told
    not to); returns the queue's URL. Idempotent: run twice, it finds what the first made."""
    if trail:
        create_trail(endpoint, region)
    sqs = _client("sqs", endpoint, region)
    events = _client("events", endpoint, region)
    dlq = sqs.create_queue(QueueName=f"{name}-dlq",
                           Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url: str = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility), "MessageRetentionPeriod": "345600",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": MAX_RECEIVES})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    rules = []
    for suffix, pattern in rule_patterns().items():
        rule = f"{name}-{suffix}"
        rules.append(events.put_rule(Name=rule, EventPattern=json.dumps(pattern),
                                     State="ENABLED")["RuleArn"])
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": arn,
                       "Condition": {"ArnEquals": {"aws:SourceArn": rules}}}]})})
    return url


__all__ = ["QUEUE", "TRAIL", "create_event_queue", "create_trail"]
