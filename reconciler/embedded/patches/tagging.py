"""The Resource Groups Tagging API as AWS answers it where moto does not: GetResources lists
EventBridge rules, Application Auto Scaling targets (whose tags the autoscaling patch keeps)
and Spot Fleet requests, and pages by ResourcesPerPage alone when TagsPerPage is not sent
(moto applies a default of 100 tags a page)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.embedded.patches import replace

NO_TAG_LIMIT = 10**9


def _extra(account: str, region: str) -> Iterator[Any]:
    """What moto's aggregator leaves out, as its own TaggedResource rows."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends
    from moto.core.resource_tagging import TaggedResource
    from moto.ec2.models import ec2_backends
    from moto.events.models import events_backends

    events = events_backends[account][region]
    for bus in events.event_buses.values():
        for rule in bus.rules.values():
            yield TaggedResource(rule.arn, events.tagger.get_tag_dict_for_resource(rule.arn),
                                 "events:rule")
    scaling = applicationautoscaling_backends[account][region]
    kept: dict[str, dict[str, str]] = getattr(scaling, "reconciler_tags", {})
    for by_id in scaling.targets.values():
        for target in by_id.values():
            yield TaggedResource(target.arn, dict(kept.get(target.arn, {})),
                                 "application-autoscaling:scalable-target")
    ec2 = ec2_backends[account][region]
    for fleet_id, fleet in ec2.spot_fleet_requests.items():
        tags = {t["key"]: t["value"] for t in fleet.get_tags()}
        tags.update(getattr(fleet, "tags", {}).get("spot-fleet-request", {}))
        yield TaggedResource(f"arn:aws:ec2:{region}:{account}:spot-fleet-request/{fleet_id}",
                             tags, "ec2:spot-fleet-request")


def patch() -> None:
    from moto.core.resource_tagging import make_tag_matcher, match_resource_type
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    original_generator = ResourceGroupsTaggingAPIBackend._get_resources_generator

    def generator(self: Any, tag_filters: Any = None, resource_type_filters: Any = None,
                  resource_arn_list: Any = None) -> Iterator[Any]:
        yield from original_generator(self, tag_filters, resource_type_filters,
                                      resource_arn_list)
        matcher = make_tag_matcher(tag_filters)
        for r in _extra(self.account_id, self.region_name):
            if (r.tags and match_resource_type(r.resource_type, resource_type_filters)
                    and matcher(r.tags)
                    and (not resource_arn_list or r.arn in resource_arn_list)):
                yield r

    def get_resources(self: Any) -> Any:
        """moto's handler, but TagsPerPage limits a page only when the caller sends it."""
        from moto.core.responses import ActionResult
        from moto.resourcegroupstaggingapi.exceptions import ResourceGroupsTaggingAPIError

        tags_per_page = self._get_int_param("TagsPerPage")
        per_page = self._get_int_param("ResourcesPerPage", 50)
        if tags_per_page is not None and tags_per_page not in range(100, 501):
            raise ResourceGroupsTaggingAPIError("InvalidParameterException",
                                                "TagsPerPage must be between 100 and 500")
        if per_page not in range(1, 101):
            raise ResourceGroupsTaggingAPIError("InvalidParameterException",
                                                "ResourcesPerPage must be between 1 and 100")
        token, found = self.backend.get_resources(
            pagination_token=self._get_param("PaginationToken"),
            tag_filters=self._get_param("TagFilters", []),
            resources_per_page=per_page,
            tags_per_page=tags_per_page if tags_per_page is not None else NO_TAG_LIMIT,
            resource_type_filters=self._get_param("ResourceTypeFilters", []),
            resource_arn_list=self._get_param("ResourceARNList", []))
        return ActionResult({
            "ResourceTagMappingList": [
                {"ResourceARN": r.arn, "Tags": [{"Key": k, "Value": v} for k, v in r.tags.items()]}
                for r in found],
            "PaginationToken": token})

    replace(ResourceGroupsTaggingAPIBackend, "_get_resources_generator", generator)
    replace(ResourceGroupsTaggingAPIResponse, "get_resources", get_resources)
