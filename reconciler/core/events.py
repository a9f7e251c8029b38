"""AWS's own events, read: which managed resource an event touches, and who made the change.

Pure. Two shapes arrive. An "AWS API Call via CloudTrail" event (EventBridge, with a trail
logging management events) carries a CloudTrail record: `eventName`, `requestParameters`
in the API's own member names, `userIdentity`, `sourceIPAddress`, `userAgent`, `eventTime`.
LookupEvents returns the same record as a JSON string. ECS's own "ECS Service Action" and
"ECS Deployment State Change" events name the service in `resources`.

An event names AWS objects ("ecs:service/prd/api", "events:rule/nightly",
"application-autoscaling:ecs/service/prd/api", "ec2:spot-fleet-request/sfr-1"); an `Index`
built from the manifests and what the last pass read says which `ResourceKey` each is.
`Provenance` is who made a change, from where, when, with what; `Ledger` keeps it per
resource until the resource is seen in sync again. `Own` tells the reconciler's own writes
(its user agent, its principal) from everyone else's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.kind import Registry
from reconciler.core.manifest import Manifest, ResourceKey

API_CALL = "AWS API Call via CloudTrail"
ECS_EVENTS = ("ECS Service Action", "ECS Deployment State Change")
AGENT_MARKER = "ecs-reconciler/"  # the head of the reconciler's user agent (aws/client.py)
UNKNOWN = "unknown"

# The write calls that change what the reconciler manages, by event source. The EventBridge
# rule (deploy/cloudformation/bootstrap.json, and the embedded default's) matches these.
WRITES: dict[str, tuple[str, ...]] = {
    "ecs.amazonaws.com": (
        "CreateCluster", "UpdateCluster", "UpdateClusterSettings", "PutClusterCapacityProviders",
        "DeleteCluster", "RegisterTaskDefinition", "DeregisterTaskDefinition",
        "DeleteTaskDefinitions", "CreateService", "UpdateService", "DeleteService",
        "TagResource", "UntagResource"),
    "events.amazonaws.com": (
        "PutRule", "DeleteRule", "EnableRule", "DisableRule", "PutTargets", "RemoveTargets",
        "TagResource", "UntagResource"),
    "application-autoscaling.amazonaws.com": (
        "RegisterScalableTarget", "DeregisterScalableTarget", "PutScalingPolicy",
        "DeleteScalingPolicy", "PutScheduledAction", "DeleteScheduledAction", "TagResource",
        "UntagResource"),
    "ec2.amazonaws.com": (
        "RequestSpotFleet", "ModifySpotFleetRequest", "CancelSpotFleetRequests"),
}
TAG_CALLS = ("TagResource", "UntagResource")
# The calls that can make a resource of each kind drift (for LookupEvents, one name a query:
# the tag calls are asked only when tags drifted).
DRIFT_CALLS: dict[str, tuple[str, ...]] = {
    "Cluster": ("UpdateCluster", "UpdateClusterSettings", "PutClusterCapacityProviders",
                *TAG_CALLS),
    "TaskDefinition": ("RegisterTaskDefinition", "DeregisterTaskDefinition", *TAG_CALLS),
    "Service": ("UpdateService", "CreateService", *TAG_CALLS),
    "ScheduledTask": ("PutRule", "PutTargets", "RemoveTargets", "EnableRule", "DisableRule",
                      *TAG_CALLS),
    "ScalableTarget": ("RegisterScalableTarget", "PutScalingPolicy", "DeleteScalingPolicy",
                       "PutScheduledAction", "DeleteScheduledAction", *TAG_CALLS),
    "SpotFleet": ("ModifySpotFleetRequest",),
}


def rule_patterns() -> dict[str, dict[str, Any]]:
    """The EventBridge rules that feed the queue, by name: the write calls above (a trail
    with management events must be logging for AWS to send them), and ECS's own service and
    deployment events (sent with or without a trail)."""
    sources = sorted(WRITES)
    return {
        "api-calls": {
            "source": [f"aws.{s.split('.')[0]}" for s in sources],
            "detail-type": [API_CALL],
            "detail": {"eventSource": sources,
                       "eventName": sorted({n for names in WRITES.values() for n in names}),
                       "errorCode": [{"exists": False}]},
        },
        "ecs-service-events": {"source": ["aws.ecs"], "detail-type": list(ECS_EVENTS)},
    }


# --- who --------------------------------------------------------------------------------------


def _tool(agent: str) -> str | None:
    """A named tool from a user agent, or None."""
    named = ((AGENT_MARKER, "ecs-reconciler"), ("Terraform/", "Terraform"),
             ("terraform-provider-aws", "Terraform"), ("OpenTofu/", "OpenTofu"),
             ("aws-cdk", "AWS CDK"), ("Pulumi", "Pulumi"), ("copilot", "AWS Copilot"))
    for marker, name in named:
        if marker in agent:
            return name
    app = re.search(r"(?:^| )app/([A-Za-z0-9._-]+)", agent)  # an SDK's user_agent_appid
    return app.group(1) if app else None


SDKS = (("Boto3/", "SDK (Boto3)"), ("Botocore/", "SDK (botocore)"),
        ("aws-sdk-go-v2/", "SDK (Go v2)"), ("aws-sdk-go/", "SDK (Go)"),
        ("aws-sdk-js/", "SDK (JavaScript)"), ("aws-sdk-java/", "SDK (Java)"),
        ("aws-sdk-dotnet", "SDK (.NET)"), ("aws-sdk-ruby", "SDK (Ruby)"),
        ("aws-sdk-php/", "SDK (PHP)"), ("aws-sdk-rust/", "SDK (Rust)"), ("aws-sdk-", "SDK"))


def via(record: Mapping[str, Any]) -> str:
    """How a call was made: the console, the CLI, an SDK, a named tool, an AWS service.
    The user agent is a hint any client may spoof or AWS may shorten; who made the call is
    `userIdentity`, never this."""
    agent = str(record.get("userAgent") or "")
    head = agent.split(" ", 1)[0]  # an SDK sending a service's name appends its own
    identity = record.get("userIdentity") or {}
    invoked = str(identity.get("invokedBy") or "")
    if (str(record.get("sessionCredentialFromConsole", "")).lower() == "true"
            or head in ("console.amazonaws.com", "signin.amazonaws.com")
            or agent == "AWS Internal" or agent.startswith("Mozilla/")):
        return "AWS console"
    if "cloudformation.amazonaws.com" in (head, invoked):
        return "CloudFormation"
    tool = _tool(agent)
    if tool:
        return tool
    if agent.startswith("aws-cli/"):
        return "AWS CLI"
    for marker, name in SDKS:
        if marker in agent:
            return name
    service = head if head.endswith(".amazonaws.com") else invoked
    if service.endswith(".amazonaws.com"):
        return f"AWS service ({service.removesuffix('.amazonaws.com')})"
    return UNKNOWN if not agent else f"other client ({agent[:60]})"


def _who(identity: Mapping[str, Any]) -> str:
    """The principal as people name it: a role session with its role, a user, root."""
    kind = str(identity.get("type") or "")
    arn = str(identity.get("arn") or "")
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    if kind == "AssumedRole" or ":assumed-role/" in arn:
        parts = arn.split(":assumed-role/", 1)[-1].split("/")
        role = str(issuer.get("userName") or parts[0])
        session = parts[-1] if len(parts) > 1 else ""
        return f"{session} (role {role})" if session else f"role {role}"
    if kind == "Root":
        return "root"
    if kind == "AWSService":
        return str(identity.get("invokedBy") or "an AWS service")
    if kind == "FederatedUser" or ":federated-user/" in arn:
        return arn.rsplit("/", 1)[-1] + " (federated)"
    return str(identity.get("userName") or (arn.rsplit("/", 1)[-1] if arn else "")
               or identity.get("principalId") or UNKNOWN)


def console_link(region: str, event_id: str) -> str:
    """The CloudTrail console's page of one event (it may take a few minutes to exist)."""
    if not region or not event_id:
        return ""
    return (f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}"
            f"#/events/{event_id}")


@dataclass(frozen=True)
class Provenance:
    """Who made a change: the principal, how (console, CLI, SDK, a named tool), from where,
    when, with what call, and where CloudTrail shows it."""

    who: str
    principal: str = ""       # the ARN: a role session, a user, root
    identity_type: str = ""   # AssumedRole | IAMUser | Root | AWSService | FederatedUser ...
    role: str = ""            # the session issuer's ARN, for a role session
    via: str = UNKNOWN
    user_agent: str = ""
    source_ip: str = ""
    event_time: str = ""      # ISO 8601, as CloudTrail writes it
    event_name: str = ""
    event_source: str = ""
    event_id: str = ""
    region: str = ""

    @property
    def known(self) -> bool:
        return self.who != UNKNOWN

    @property
    def link(self) -> str:
        return console_link(self.region, self.event_id)

    def summary(self) -> str:
        """Who, how, from where, when, with what call: one line, no link."""
        if not self.known:
            return "unknown (CloudTrail has no event for it yet: it can lag minutes)"
        parts = [f"{self.who} via {self.via}"]
        if self.source_ip:
            parts.append(f"from {self.source_ip}")
        if self.event_time:
            parts.append(f"at {self.event_time}")
        if self.event_name:
            parts.append(f"({self.event_name})")
        return " ".join(parts)

    def line(self, slack: bool = True) -> str:
        """The summary and the CloudTrail link, in Slack's link markup or plain."""
        text = self.summary()
        if not self.link:
            return text
        return f"{text}: <{self.link}|CloudTrail event>" if slack else f"{text}; {self.link}"

    def to_json(self) -> dict[str, Any]:
        return {"who": self.who, "principal": self.principal or None,
                "identityType": self.identity_type or None, "role": self.role or None,
                "via": self.via, "userAgent": self.user_agent or None,
                "sourceIPAddress": self.source_ip or None, "eventTime": self.event_time or None,
                "eventName": self.event_name or None, "eventSource": self.event_source or None,
                "eventId": self.event_id or None, "link": self.link or None}


NOBODY = Provenance(UNKNOWN)


def provenance(record: Mapping[str, Any]) -> Provenance:
    """Who made the call a CloudTrail record describes."""
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return Provenance(
        who=_who(identity), principal=str(identity.get("arn") or ""),
        identity_type=str(identity.get("type") or ""), role=str(issuer.get("arn") or ""),
        via=via(record), user_agent=str(record.get("userAgent") or ""),
        source_ip=str(record.get("sourceIPAddress") or ""),
        event_time=str(record.get("eventTime") or ""),
        event_name=str(record.get("eventName") or ""),
        event_source=str(record.get("eventSource") or ""),
        event_id=str(record.get("eventID") or ""), region=str(record.get("awsRegion") or ""))


def _role_key(arn: str) -> str | None:
    """'account:role-name' of a role ARN or of a role session's ARN (paths dropped)."""
    m = re.match(r"^arn:[^:]+:(?:iam|sts)::(\d+):(?:role|assumed-role)/(.+)$", arn)
    if not m:
        return None
    rest = m.group(2).split("/")
    name = rest[-1] if ":role/" in arn else rest[0]
    return f"{m.group(1)}:{name}"


@dataclass(frozen=True)
class Own:
    """What marks the reconciler's own calls: its user agent, its principal, and (when it
    runs as a role) that role, whatever the session."""

    principals: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()  # 'account:role-name'
    marker: str = AGENT_MARKER

    @classmethod
    def of(cls, caller_arn: str | None) -> Own:
        """From GetCallerIdentity's ARN (None: the user agent alone)."""
        if not caller_arn:
            return cls()
        role = _role_key(caller_arn) if ":assumed-role/" in caller_arn else None
        return cls(frozenset({caller_arn}), frozenset({role}) if role else frozenset())

    def __call__(self, record: Mapping[str, Any]) -> bool:
        if self.marker in str(record.get("userAgent") or ""):
            return True
        identity = record.get("userIdentity") or {}
        if identity.get("arn") in self.principals:
            return True
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        role = _role_key(str(issuer.get("arn") or identity.get("arn") or ""))
        return role is not None and role in self.roles


# --- what -------------------------------------------------------------------------------------


def _get(doc: Any, *names: str) -> Any:
    """A member by name, whatever its case (CloudTrail keeps each API's own spelling)."""
    if not isinstance(doc, Mapping):
        return None
    lowered = {str(k).lower(): v for k, v in doc.items()}
    for n in names:
        if n.lower() in lowered:
            return lowered[n.lower()]
    return None


def _last(value: Any) -> str | None:
    """A name from a name or an ARN ('arn:aws:ecs:r:a:cluster/prd' -> 'prd')."""
    if not isinstance(value, str) or not value:
        return None
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def from_arn(arn: str, cluster: str | None = None) -> str | None:
    """The object an ARN names, in this module's terms."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    kind, _, rest = resource.partition("/")
    if service == "ecs":
        if kind == "cluster":
            return f"ecs:cluster/{rest}"
        if kind == "service":
            if "/" in rest:
                return f"ecs:service/{rest}"
            return f"ecs:service/{cluster or 'default'}/{rest}"  # the old short ARN
        if kind == "task-definition":
            return f"ecs:task-definition/{rest.rsplit(':', 1)[0]}"
    if service == "events" and kind == "rule":
        bus, _, name = rest.rpartition("/")
        return f"events:rule/{name}" if bus in ("", "default") else f"events:rule/{rest}"
    if service == "application-autoscaling" and kind == "scalable-target":
        return f"application-autoscaling:scalable-target/{rest}"
    if service == "ec2" and kind == "spot-fleet-request":
        return f"ec2:spot-fleet-request/{rest}"
    return None


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, Mapping):
        for v in doc.values():
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


_FLEET = re.compile(r"^sfr-[0-9a-f-]+$")


def _ecs(name: str, req: Mapping[str, Any], resp: Mapping[str, Any]) -> set[str]:
    cluster = _last(_get(req, "cluster")) or "default"
    out: set[str] = set()
    if name in ("CreateCluster", "DeleteCluster", "UpdateCluster", "UpdateClusterSettings",
                "PutClusterCapacityProviders"):
        named = _last(_get(req, "clusterName") or _get(req, "cluster"))
        if named:
            out.add(f"ecs:cluster/{named}")
    service = _get(req, "serviceName") if name == "CreateService" else _get(req, "service")
    if isinstance(service, str) and service:
        found = from_arn(service, cluster) if service.startswith("arn:") else None
        out.add(found or f"ecs:service/{cluster}/{service}")
    family = _get(req, "family")
    if isinstance(family, str) and family:
        out.add(f"ecs:task-definition/{family}")
    for td in [_get(req, "taskDefinition"), *(_get(req, "taskDefinitions") or [])]:
        if isinstance(td, str) and td and name != "CreateService" and name != "UpdateService":
            found = from_arn(td) if td.startswith("arn:") else None
            out.add(found or f"ecs:task-definition/{td.rsplit(':', 1)[0]}")
    arn = _get(req, "resourceArn")
    if isinstance(arn, str):
        found = from_arn(arn, cluster)
        if found:
            out.add(found)
    for member, arn_key in (("service", "serviceArn"), ("taskDefinition", "taskDefinitionArn"),
                            ("cluster", "clusterArn")):
        value = _get(_get(resp, member), arn_key)
        if isinstance(value, str):
            found = from_arn(value, cluster)
            if found:
                out.add(found)
    return out


def _events(req: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    bus = _last(_get(req, "eventBusName")) or "default"
    for member in ("name", "rule"):
        rule = _get(req, member)
        if isinstance(rule, str) and rule:
            out.add(f"events:rule/{rule}" if bus == "default" else f"events:rule/{bus}/{rule}")
    arn = _get(req, "resourceARN")
    if isinstance(arn, str):
        found = from_arn(arn)
        if found:
            out.add(found)
    return out


def _autoscaling(req: Mapping[str, Any], resp: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    ns, rid = _get(req, "serviceNamespace"), _get(req, "resourceId")
    if isinstance(ns, str) and isinstance(rid, str):
        out.add(f"application-autoscaling:{ns}/{rid}")
    for arn in (_get(req, "resourceARN"), _get(resp, "scalableTargetARN")):
        if isinstance(arn, str):
            found = from_arn(arn)
            if found:
                out.add(found)
    return out


def touched(record: Mapping[str, Any]) -> frozenset[str]:
    """What AWS objects the call of a CloudTrail record changed."""
    source = str(record.get("eventSource") or "")
    name = str(record.get("eventName") or "")
    req = record.get("requestParameters") or {}
    resp = record.get("responseElements") or {}
    if not isinstance(req, Mapping):
        req = {}
    if not isinstance(resp, Mapping):
        resp = {}
    if source == "ecs.amazonaws.com":
        return frozenset(_ecs(name, req, resp))
    if source == "events.amazonaws.com":
        return frozenset(_events(req))
    if source == "application-autoscaling.amazonaws.com":
        return frozenset(_autoscaling(req, resp))
    if source == "ec2.amazonaws.com":
        return frozenset(f"ec2:spot-fleet-request/{s}"
                         for s in [*_strings(req), *_strings(resp)] if _FLEET.match(s))
    return frozenset()


@dataclass(frozen=True)
class Event:
    """One event from the queue (or one record from LookupEvents), read."""

    id: str
    kind: str                      # the detail-type, or "CloudTrail" for a bare record
    name: str                      # eventName (UpdateService, SERVICE_DEPLOYMENT_COMPLETED)
    time: str
    touched: frozenset[str]
    record: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    failed: bool = False           # the call was refused: nothing changed

    @property
    def provenance(self) -> Provenance | None:
        """Who made the change (API calls only: ECS's own events are AWS's doing)."""
        return provenance(self.record) if self.record else None


def from_record(record: Mapping[str, Any], envelope_id: str = "") -> Event:
    """A CloudTrail record (an EventBridge event's `detail`, or LookupEvents' JSON)."""
    return Event(envelope_id or str(record.get("eventID") or ""), "CloudTrail",
                 str(record.get("eventName") or ""), str(record.get("eventTime") or ""),
                 touched(record), record, failed=bool(record.get("errorCode")))


def parse(body: str | Mapping[str, Any]) -> Event | None:
    """An EventBridge event as the queue delivers it; None for anything else (a test
    message, a shape this module does not know)."""
    if isinstance(body, str):
        try:
            doc = json.loads(body)
        except ValueError:
            return None
    else:
        doc = body
    if not isinstance(doc, Mapping):
        return None
    kind = str(doc.get("detail-type") or "")
    detail = doc.get("detail")
    if not isinstance(detail, Mapping):
        return None
    if kind == API_CALL:
        return from_record(detail, str(doc.get("id") or ""))
    if str(doc.get("source")) == "aws.ecs" and kind in ECS_EVENTS:
        found = {t for arn in doc.get("resources") or [] if isinstance(arn, str)
                 for t in [from_arn(arn)] if t}
        if not found:  # an event naming its service in detail instead
            cluster = _last(detail.get("clusterArn"))
            service = _last(detail.get("serviceName") or detail.get("service"))
            if service:
                found.add(f"ecs:service/{cluster or 'default'}/{service}")
        return Event(str(doc.get("id") or ""), kind, str(detail.get("eventName") or ""),
                     str(doc.get("time") or ""), frozenset(found))
    return None


# --- which resource -----------------------------------------------------------------------------


def identities(key: ResourceKey, arn: str | None = None,
               raw: Mapping[str, Any] | None = None) -> set[str]:
    """The AWS objects a managed resource is, in `touched`'s terms: from its key, and from
    what the last read of it said (a Spot Fleet's id, a scalable target's identity)."""
    raw = raw or {}
    if key.kind == "Cluster":
        return {f"ecs:cluster/{key.name}"}
    if key.kind == "Service":
        return {f"ecs:service/{key.cluster or 'default'}/{key.name}"}
    if key.kind == "TaskDefinition":
        return {f"ecs:task-definition/{key.name}"}
    if key.kind == "ScheduledTask":
        return {f"events:rule/{key.name}"}
    out: set[str] = set()
    if key.kind == "SpotFleet" and arn:
        out.add(f"ec2:spot-fleet-request/{arn.rsplit('/', 1)[-1]}")
    if key.kind == "ScalableTarget":
        if arn and arn.startswith("arn:"):
            found = from_arn(arn)
            if found:
                out.add(found)
        ns, rid = raw.get("ServiceNamespace"), raw.get("ResourceId")
        if isinstance(ns, str) and isinstance(rid, str):
            out.add(f"application-autoscaling:{ns}/{rid}")
    return out


def _scaled(ident: str) -> str | None:
    """The scalable-target identity of the thing a target scales."""
    if ident.startswith("ecs:service/"):
        return f"application-autoscaling:ecs/{ident.removeprefix('ecs:')}"
    if ident.startswith("ec2:spot-fleet-request/"):
        return f"application-autoscaling:ec2/{ident.removeprefix('ec2:')}"
    return None


class Index:
    """Which managed resource each AWS object is."""

    def __init__(self, by_key: Mapping[ResourceKey, Iterable[str]] | None = None) -> None:
        self._keys: dict[str, set[ResourceKey]] = {}
        for key, idents in (by_key or {}).items():
            for ident in idents:
                self._keys.setdefault(ident, set()).add(key)

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self, objects: Iterable[str]) -> set[ResourceKey]:
        return {k for o in objects for k in self._keys.get(o, ())}

    @classmethod
    def build(cls, keys: Iterable[ResourceKey],
              live: Mapping[ResourceKey, tuple[str, Mapping[str, Any]]],
              references: Callable[[ResourceKey], Iterable[ResourceKey]]) -> Index:
        """From the keys in git, what was read of them (key -> (ARN or id, describe)), and
        what each references (a scalable target is also the service it scales)."""
        own: dict[ResourceKey, set[str]] = {}
        for key in keys:
            arn, raw = live.get(key, ("", {}))
            own[key] = identities(key, arn, raw)
        for key in list(own):
            if key.kind != "ScalableTarget":
                continue
            for ref in references(key):
                own[key] |= {s for i in own.get(ref, ()) if (s := _scaled(i))}
        return cls(own)

    @classmethod
    def of(cls, manifests: Iterable[Manifest],
           live: Mapping[ResourceKey, tuple[str, Mapping[str, Any]]], registry: Registry
           ) -> Index:
        """From a tree's manifests and what was read of them (key -> (ARN or id, describe)),
        each kind saying what its manifests reference."""
        by_key = {m.key: m for m in manifests}

        def references(key: ResourceKey) -> list[ResourceKey]:
            m = by_key[key]
            return [r.key for r in registry[m.kind].references(m)]

        return cls.build(by_key, live, references)


# --- memory ------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Who changed each resource since it was last seen in sync: events noted as they come
    (duplicates once, in any order), settled when a pass that began after them finds the
    resource in sync."""

    keep: int = 20  # per resource, the newest
    entries: dict[ResourceKey, dict[str, tuple[Provenance, float]]] = field(default_factory=dict)

    def note(self, key: ResourceKey, who: Provenance, at: float) -> bool:
        """Remember a change made at monotonic time `at`; False when already known."""
        mine = self.entries.setdefault(key, {})
        ident = who.event_id or f"{who.event_time}|{who.principal}|{who.event_name}"
        if ident in mine:
            return False
        mine[ident] = (who, at)
        if len(mine) > self.keep:
            oldest = sorted(mine, key=lambda i: (mine[i][0].event_time, i))
            for i in oldest[: len(mine) - self.keep]:
                del mine[i]
        return True

    def changes(self, key: ResourceKey) -> list[Provenance]:
        """Oldest first, by the time AWS gave each call."""
        mine = self.entries.get(key, {})
        return [p for p, _ in sorted(mine.values(), key=lambda e: (e[0].event_time,
                                                                   e[0].event_id))]

    def latest(self, key: ResourceKey) -> Provenance | None:
        found = self.changes(key)
        return found[-1] if found else None

    def settle(self, keys: Iterable[ResourceKey], before: float) -> None:
        """These resources were found in sync by a pass that began at `before`: what was
        noted before it is over."""
        for key in keys:
            mine = self.entries.get(key)
            if not mine:
                continue
            for ident in [i for i, (_p, at) in mine.items() if at < before]:
                del mine[ident]
            if not mine:
                del self.entries[key]


__all__ = ["API_CALL", "DRIFT_CALLS", "ECS_EVENTS", "NOBODY", "TAG_CALLS", "UNKNOWN", "WRITES",
           "Event", "Index", "Ledger", "Own", "Provenance", "from_arn", "from_record",
           "identities", "parse", "provenance", "rule_patterns", "touched", "via"]
