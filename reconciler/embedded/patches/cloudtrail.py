"""CloudTrail as AWS has it, where moto has none: every write call to ECS, EventBridge,
Application Auto Scaling and EC2 made by anyone but the reconciler (told by its user agent)
is recorded as a CloudTrail record, served to LookupEvents, and sent to the default event
bus as an "AWS API Call via CloudTrail" event, through moto's own rules to their real
targets (an SQS queue). moto records nothing, emits no API-call event and has no
LookupEvents (shared/MOTO.md; tests/test_embedded.py checks both gaps are still there).

The record is built as CloudTrail builds it: `userIdentity` from the request's access key
(an assumed role's session, an IAM user, or moto's default user), the request's user agent
and source address, its parameters (lower camel case, as CloudTrail writes EventBridge's and
Application Auto Scaling's), the answer's elements, and `eventTime` from the embedded clock.
Events go to EventBridge only while a trail logs in the Region, as on AWS (the embedded
default's set-up starts one: `reconciler.embedded.events`), and only to enabled rules with an
event pattern (moto would deliver to a disabled rule, and to a schedule).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.core.events import AGENT_MARKER, API_CALL
from reconciler.embedded.clock import CLOCK
from reconciler.embedded.patches import replace

SOURCES = {"ecs": "ecs.amazonaws.com", "events": "events.amazonaws.com",
           "application-autoscaling": "application-autoscaling.amazonaws.com",
           "ec2": "ec2.amazonaws.com"}
READS = ("Describe", "List", "Get", "BatchGet", "Test")
LOWER_CAMEL = ("events", "application-autoscaling")  # API members in PascalCase
ATTRIBUTES = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
              "EventSource", "AccessKeyId")
_lock = threading.Lock()


def journal(account: str, region: str) -> list[dict[str, Any]]:
    """The CloudTrail records of one account and Region, oldest first (kept on moto's
    CloudTrail backend, so a reset of the server empties it)."""
    from moto.cloudtrail.models import cloudtrail_backends

    backend: Any = cloudtrail_backends[account][region]
    with _lock:
        if not hasattr(backend, "reconciler_journal"):
            backend.reconciler_journal = []
        found: list[dict[str, Any]] = backend.reconciler_journal
    return found


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _camel(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel(v)
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [_camel(v) for v in doc]
    return doc


def identity(access_key: str, account: str, region: str) -> dict[str, Any]:
    """`userIdentity` for the caller of a request signed with `access_key`."""
    from moto.sts.models import sts_backends

    user_id, arn, acct = sts_backends[account]["global"].get_caller_identity(access_key, region)
    if ":assumed-role/" in arn:
        role_name = arn.split(":assumed-role/", 1)[1].split("/")[0]
        role_id = str(user_id).split(":")[0]
        role_arn = f"arn:{arn.split(':')[1]}:iam::{acct}:role/{role_name}"
        return {"type": "AssumedRole", "principalId": user_id, "arn": arn, "accountId": acct,
                "accessKeyId": access_key, "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn,
                                      "accountId": acct, "userName": role_name},
                    "attributes": {"creationDate": _iso(CLOCK.now()),
                                   "mfaAuthenticated": "false"}}}
    if arn.endswith(":root"):
        return {"type": "Root", "principalId": acct, "arn": arn, "accountId": acct,
                "accessKeyId": access_key}
    return {"type": "IAMUser", "principalId": user_id, "arn": arn, "accountId": acct,
            "accessKeyId": access_key, "userName": arn.rsplit("/", 1)[-1]}


def _parameters(response: Any, service: str, action: str) -> dict[str, Any] | None:
    if service == "ec2":
        flat = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
                for k, v in response.querystring.items() if k not in ("Action", "Version")}
        return {f"{action}Request": flat}
    try:
        params = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return None
    out: dict[str, Any] = _camel(params) if service in LOWER_CAMEL else params
    return out


def _elements(body: Any, service: str, action: str) -> dict[str, Any] | None:
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    if service == "ec2":
        fleets = sorted(set(re.findall(r"sfr-[0-9a-f-]+", text)))
        return {f"{action}Response": {"spotFleetRequestIds": fleets}} if fleets else None
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    return _camel(doc) if service in LOWER_CAMEL else doc


def record(response: Any, status: int, body: Any) -> dict[str, Any] | None:
    """The CloudTrail record of one call moto answered, or None when CloudTrail would not
    write one that matters here (a read, another service, the reconciler's own call)."""
    service = str(getattr(response, "service_name", "") or "")
    if service not in SOURCES:
        return None
    action = str(response._get_action() or "")
    agent = str(response.headers.get("User-Agent", ""))
    if not action or action.startswith(READS) or AGENT_MARKER in agent:
        return None
    account, region = response.current_account, response.region
    entry: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": identity(response.access_key, account, region),
        "eventTime": _iso(CLOCK.now()),
        "eventSource": SOURCES[service],
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": str(getattr(response.normalized_request, "remote_addr", "") or ""),
        "userAgent": agent,
        "requestParameters": _parameters(response, service, action),
        "responseElements": _elements(body, service, action) if status < 400 else None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if status >= 400:
        error = _elements(body, "", action) or {}
        entry["errorCode"] = str(error.get("__type", "")).rsplit("#", 1)[-1] or str(status)
        entry["errorMessage"] = str(error.get("message") or error.get("Message") or "")
    return entry


def deliver(entry: Mapping[str, Any], account: str, region: str) -> int:
    """Send a record to the default bus as EventBridge does: to the targets of each enabled
    rule whose pattern matches it (moto's matching and moto's SQS delivery). Returns the
    number of rules that took it."""
    from moto.cloudtrail.models import cloudtrail_backends
    from moto.events.models import events_backends

    trails = cloudtrail_backends[account][region].describe_trails(include_shadow_trails=True)
    bus = events_backends[account][region].event_buses.get("default")
    if bus is None or not any(t.status.is_logging for t in trails):
        return 0
    when = datetime.strptime(str(entry["eventTime"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    message: Any = {"version": "0", "id": str(uuid.uuid4()), "detail-type": API_CALL,
               "source": f"aws.{str(entry['eventSource']).split('.')[0]}", "account": account,
               "time": when.timestamp(), "region": region, "resources": [],
               "detail": dict(entry), "ingestion-time": when.timestamp()}
    taken = 0
    for rule in list(bus.rules.values()):
        if rule.state == "DISABLED" or not rule.event_pattern.get_pattern():
            continue
        if not rule.event_pattern.matches_event(message):
            continue
        try:
            rule.send_to_targets(json.loads(json.dumps(message)))
        except NotImplementedError:  # a target type moto cannot deliver to
            continue
        taken += 1
    return taken


def lookup(entries: list[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """LookupEvents over a journal: one attribute at most, a time window, newest first,
    MaxResults (1-50) a page, NextToken."""
    from moto.core.exceptions import JsonRESTError

    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise JsonRESTError("InvalidLookupAttributesException",
                            "You cannot specify more than one lookup attribute.")
    size = int(params.get("MaxResults") or 50)
    if not 1 <= size <= 50:
        raise JsonRESTError("InvalidMaxResultsException", "MaxResults must be 1 to 50.")
    start, end = params.get("StartTime"), params.get("EndTime")
    if start is not None and end is not None and float(start) > float(end):
        raise JsonRESTError("InvalidTimeRangeException", "StartTime is after EndTime.")
    rows = [_row(e) for e in reversed(entries)]
    if attributes:
        key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
        if key not in ATTRIBUTES:
            raise JsonRESTError("InvalidLookupAttributesException", f"Unknown key {key}.")
        rows = [r for r in rows if _matches(r, str(key), str(value))]
    rows = [r for r in rows if (start is None or r["EventTime"] >= float(start))
            and (end is None or r["EventTime"] <= float(end))]
    at = int(params.get("NextToken") or 0)
    page = rows[at:at + size]
    out: dict[str, Any] = {"Events": page}
    if at + size < len(rows):
        out["NextToken"] = str(at + size)
    return out


def _row(entry: Mapping[str, Any]) -> dict[str, Any]:
    ident = entry.get("userIdentity") or {}
    arn = str(ident.get("arn") or "")
    when = datetime.strptime(str(entry["eventTime"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return {"EventId": entry["eventID"], "EventName": entry["eventName"], "ReadOnly": "false",
            "AccessKeyId": ident.get("accessKeyId", ""), "EventTime": when.timestamp(),
            "EventSource": entry["eventSource"], "Username": arn.rsplit("/", 1)[-1],
            "Resources": [], "CloudTrailEvent": json.dumps(entry)}


def _matches(row: Mapping[str, Any], key: str, value: str) -> bool:
    if key in ("ResourceType", "ResourceName"):
        return any(r.get(key) == value for r in row.get("Resources", []))
    return str(row.get(key, "")) == value


def patch() -> None:
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        result = original(self)
        try:
            status, _headers, body = result
            entry = record(self, int(status), body)
        except Exception:  # the simulation never breaks the call it watches
            return result
        if entry is not None:
            journal(self.current_account, self.region).append(entry)
            if int(status) < 400:
                try:
                    deliver(entry, self.current_account, self.region)
                except Exception:
                    pass
        return result

    def lookup_events(self: Any) -> str:
        params = json.loads(self.body or "{}")
        return json.dumps(lookup(journal(self.current_account, self.region), params))

    replace(BaseResponse, "call_action", call_action)
    replace(CloudTrailResponse, "lookup_events", lookup_events)
