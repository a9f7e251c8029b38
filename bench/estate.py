"""What people do to the bench estate behind the reconciler's back, with plain boto3: strip
the reconciler's tags (an estate it did not create: its first contact), and the hand edits
the two read paths must agree on (a revision registered by hand, a tag edited by hand, a
deregistered newest revision, a service's desiredCount changed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3

from reconciler.core.ownership import DESIRED_HASH_TAG

PREFIX = "reconciler:"
# What `register_task_definition` takes back from what `describe_task_definition` answers.
REGISTER_FIELDS = ("containerDefinitions", "cpu", "memory", "networkMode",
                   "requiresCompatibilities", "executionRoleArn", "taskRoleArn", "volumes",
                   "placementConstraints", "runtimePlatform")


@dataclass(frozen=True)
class Clients:
    ecs: Any
    events: Any
    scaling: Any

    @classmethod
    def to(cls, endpoint: str | None, region: str, key: str | None = None) -> Clients:
        """Plain boto3 clients, as a person or another tool would use them; `endpoint` None
        means the standard AWS environment; `key`, a dummy access key for a stand-in."""
        def make(service: str) -> Any:
            return boto3.client(service, region_name=region, endpoint_url=endpoint,
                                aws_access_key_id=key, aws_secret_access_key=key)
        return cls(make("ecs"), make("events"), make("application-autoscaling"))


def _pages(fn: Callable[..., Any], key: str, token: str = "nextToken",
           **params: Any) -> Iterator[Any]:
    while True:
        page = fn(**params)
        yield from page.get(key, [])
        if not page.get(token):
            return
        params[token] = page[token]


def _ecs_arns(c: Clients) -> list[str]:
    arns: list[str] = []
    for cluster in _pages(c.ecs.list_clusters, "clusterArns"):
        arns.append(cluster)
        arns.extend(_pages(c.ecs.list_services, "serviceArns", cluster=cluster))
    arns.extend(_pages(c.ecs.list_task_definitions, "taskDefinitionArns", status="ACTIVE"))
    return arns


def strip_tags(c: Clients) -> int:
    """Remove every `reconciler:` tag from the clusters, services, ACTIVE task definition
    revisions, EventBridge rules and scalable targets; returns how many resources had one."""
    def ecs(arn: str) -> bool:
        keys = [t["key"] for t in c.ecs.list_tags_for_resource(resourceArn=arn)["tags"]
                if t["key"].startswith(PREFIX)]
        if keys:
            c.ecs.untag_resource(resourceArn=arn, tagKeys=keys)
        return bool(keys)

    def rule(arn: str) -> bool:
        keys = [t["Key"] for t in c.events.list_tags_for_resource(ResourceARN=arn)["Tags"]
                if t["Key"].startswith(PREFIX)]
        if keys:
            c.events.untag_resource(ResourceARN=arn, TagKeys=keys)
        return bool(keys)

    def target(arn: str) -> bool:
        keys = [k for k in c.scaling.list_tags_for_resource(ResourceARN=arn)["Tags"]
                if k.startswith(PREFIX)]
        if keys:
            c.scaling.untag_resource(ResourceARN=arn, TagKeys=keys)
        return bool(keys)

    work: list[tuple[Callable[[str], bool], str]] = [(ecs, a) for a in _ecs_arns(c)]
    work += [(rule, r["Arn"]) for r in _pages(c.events.list_rules, "Rules", "NextToken")]
    work += [(target, t["ScalableTargetARN"]) for t in _pages(
        c.scaling.describe_scalable_targets, "ScalableTargets", "NextToken",
        ServiceNamespace="ecs")]
    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(lambda w: w[0](w[1]), work))


def _register_by_hand(c: Clients, family: str, image: str | None = None,
                      tags: list[dict[str, str]] | None = None,
                      like: dict[str, Any] | None = None) -> str:
    """A new revision of `family` as a person registers it: the content of `like` (a
    described revision; by default the newest ACTIVE one), its image replaced when given,
    with `tags` (none by default)."""
    td = like or c.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    request = {k: td[k] for k in REGISTER_FIELDS if td.get(k)}
    if image is not None:
        request["containerDefinitions"] = [dict(d, image=image)
                                           for d in request["containerDefinitions"]]
    if tags:
        request["tags"] = tags
    out = c.ecs.register_task_definition(family=family, **request)
    return str(out["taskDefinition"]["taskDefinitionArn"])


def hand_edits(c: Clients, families: list[str],
               service: tuple[str, str] | None = None) -> list[str]:
    """Edits by hand the new read path (which trusts the `reconciler:desired-hash` tag of a
    revision this controller registered) must see exactly as `--verify` (which describes
    everything) does. `families`: three task definition families the reconciler
    registered; `service`: (cluster, name) of a service whose desiredCount git owns (no
    scalable target). Returns one line per edit."""
    done: list[str] = []
    if len(families) > 0:
        arn = _register_by_hand(c, families[0], image="registry.example/by-hand:1")
        done.append(f"{families[0]}: a revision registered by hand, another image, no tags "
                    f"({arn.rsplit('/', 1)[-1]})")
    if len(families) > 1:
        td = c.ecs.describe_task_definition(taskDefinition=families[1], include=["TAGS"])
        arn = td["taskDefinition"]["taskDefinitionArn"]
        c.ecs.tag_resource(resourceArn=arn, tags=[
            {"key": DESIRED_HASH_TAG, "value": "0" * 32}, {"key": "owner", "value": "by-hand"}])
        done.append(f"{families[1]}: its revision's {DESIRED_HASH_TAG} tag edited by hand and "
                    "an `owner` tag added")
    if len(families) > 2:
        family = families[2]
        mine = c.ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
        by_hand = _register_by_hand(c, family, image="registry.example/by-hand:2")
        # the reconciler's content and tags registered again (as an apply would), then that
        # newest revision deregistered: the tagging index still lists it, hash and all
        again = _register_by_hand(c, family, tags=mine.get("tags"), like=mine["taskDefinition"])
        c.ecs.deregister_task_definition(taskDefinition=again)
        done.append(f"{family}: its newest revision ({again.rsplit('/', 1)[-1]}, the "
                    "reconciler's content and tags) deregistered, leaving one registered by "
                    f"hand ({by_hand.rsplit('/', 1)[-1]}) the newest ACTIVE")
    if service is not None:
        cluster, name = service
        c.ecs.update_service(cluster=cluster, service=name, desiredCount=3)
        done.append(f"{cluster}/{name}: desiredCount set to 3 by hand")
    return done


__all__ = ["Clients", "hand_edits", "strip_tags"]
