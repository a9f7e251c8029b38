"""Application Auto Scaling as AWS behaves where moto does not: tagging, and a
DescribeScalableTargets token that ends."""

from __future__ import annotations

from typing import Any

from reconciler.embedded.patches import replace


def patch() -> None:
    """moto's Application Auto Scaling has no tagging (MOTO gap: TagResource,
    UntagResource, ListTagsForResource, Tags on RegisterScalableTarget) and its
    DescribeScalableTargets NextToken repeats the second page forever."""
    import json

    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse, _build_target

    original_register = ApplicationAutoScalingResponse.register_scalable_target
    original_deregister = ApplicationAutoScalingResponse.deregister_scalable_target

    def store(self: Any) -> dict[str, dict[str, str]]:
        backend = self.applicationautoscaling_backend
        if not hasattr(backend, "reconciler_tags"):
            backend.reconciler_tags = {}
        tags: dict[str, dict[str, str]] = backend.reconciler_tags
        return tags

    def register(self: Any) -> str:
        body: str = original_register(self)
        arn = json.loads(body)["ScalableTargetARN"]
        tags = self._get_param("Tags")
        if tags and arn not in store(self):
            store(self)[arn] = dict(tags)
        return body

    def deregister(self: Any) -> str:
        backend = self.applicationautoscaling_backend
        ident = (self._get_param("ServiceNamespace"), self._get_param("ResourceId"),
                 self._get_param("ScalableDimension"))
        for t in backend.describe_scalable_targets(ident[0], [ident[1]], ident[2]):
            store(self).pop(t.arn, None)
        return str(original_deregister(self))

    def tag_resource(self: Any) -> str:
        store(self).setdefault(self._get_param("ResourceARN"), {}).update(
            self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        tags = store(self).setdefault(self._get_param("ResourceARN"), {})
        for k in self._get_param("TagKeys") or []:
            tags.pop(k, None)
        return "{}"

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": store(self).get(self._get_param("ResourceARN"), {})})

    def describe_scalable_targets(self: Any) -> str:
        self._validate_params()
        found = self.applicationautoscaling_backend.describe_scalable_targets(
            self._get_param("ServiceNamespace"), self._get_param("ResourceIds"),
            self._get_param("ScalableDimension"))
        size = self._get_int_param("MaxResults") or 50
        start = int(self._get_param("NextToken") or 0)
        page = found[start : start + size]
        token = str(start + size) if start + size < len(found) else None
        return json.dumps({"ScalableTargets": [_build_target(t) for t in page],
                           "NextToken": token})

    cls = ApplicationAutoScalingResponse
    replace(cls, "register_scalable_target", register)
    replace(cls, "deregister_scalable_target", deregister)
    replace(cls, "tag_resource", tag_resource)
    replace(cls, "untag_resource", untag_resource)
    replace(cls, "list_tags_for_resource", list_tags_for_resource)
    replace(cls, "describe_scalable_targets", describe_scalable_targets)


