"""Helpers for the tests of AWS's events: a person's AWS client (a session of a role, with the
user agent of the tool they use), the queue's depth, and a controller watching the queue."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.conftest import EXAMPLES, REGION

CONSOLE = "console.amazonaws.com"
CLI = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off"


def small_estate(root: Path) -> Path:
    """A cluster, a task definition and two services on it (the example's worker, and the
    same as `accounting-api`): enough for events, quick to create."""
    shutil.copytree(EXAMPLES / "clusters", root / "clusters")
    shutil.copytree(EXAMPLES / "apps/worker", root / "apps/worker")
    (root / "reconciler.yaml").write_text("controller: events-test\n")
    worker = (root / "apps/worker/service.yaml").read_text()
    (root / "apps/api.yaml").write_text(
        worker.replace("name: accounting-worker", "name: accounting-api"))
    return root


def as_person(service: str, session: str = "alice@example.com", role: str = "Admin",
              agent: str | None = None) -> Any:
    """A client of `service` signed as a session of `role` (as single sign-on gives people),
    sending `agent` as its user agent (the console's, the CLI's...)."""
    sts = boto3.client("sts", region_name=REGION)
    account = sts.get_caller_identity()["Account"]
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                            RoleSessionName=session)["Credentials"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        config=Config(user_agent=agent) if agent else None)


def depth(url: str) -> int:
    """Messages in the queue, visible or in flight."""
    attrs = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"])


def api_call_event(detail: dict[str, Any]) -> str:
    """An "AWS API Call via CloudTrail" event as EventBridge delivers it to the queue."""
    return json.dumps({"version": "0", "id": detail["eventID"],
                       "detail-type": "AWS API Call via CloudTrail",
                       "source": "aws." + detail["eventSource"].split(".")[0],
                       "time": detail["eventTime"], "region": REGION, "resources": [],
                       "detail": detail})


def update_service_record(cluster: str, service: str, n: int, agent: str = CLI,
                          who: str = "bob") -> dict[str, Any]:
    """A CloudTrail record of an UpdateService call by IAM user `who`."""
    return {"eventVersion": "1.11", "eventSource": "ecs.amazonaws.com",
            "eventName": "UpdateService", "awsRegion": REGION,
            "eventTime": f"2026-11-29T08:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "eventID": f"00000000-0000-4000-8000-{n:012d}", "userAgent": agent,
            "sourceIPAddress": "203.0.113.5",
            "userIdentity": {"type": "IAMUser", "userName": who,
                             "arn": f"arn:aws:iam::123456789012:user/{who}"},
            "requestParameters": {"cluster": cluster, "service": service}}


def send(url: str, bodies: list[str]) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:start + 10])])

