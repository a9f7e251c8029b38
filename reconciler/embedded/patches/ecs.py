"""ECS as AWS behaves where moto does not: CreateService keeping what it is given and
filling AWS's defaults, refusing an ACTIVE service twice, the task definition stored as an
ARN, task definitions listed in pages, described by family as the newest ACTIVE revision,
and container defaults filled on register."""

from __future__ import annotations

from typing import Any

from reconciler.embedded.patches import replace

# CreateService parameters moto drops (MOTO.md gap 1); UpdateService keeps them.
_DROPPED_ON_CREATE = (
    "deploymentConfiguration",
    "enableExecuteCommand",
    "capacityProviderStrategy",
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "availabilityZoneRebalancing",
    "placementConstraints",
    "placementStrategy",
    "serviceConnectConfiguration",
    "volumeConfigurations",
)




def _snake(name: str) -> str:
    out = ""
    for ch in name:
        out += f"_{ch.lower()}" if ch.isupper() else ch
    return out


# The documented defaults of the canary and linear steps (CanaryConfiguration,
# LinearConfiguration); that AWS answers them when a request leaves them out is inferred.
_STEP_DEFAULTS = {"CANARY": ("canaryConfiguration", {"canaryPercent": 5.0,
                                                     "canaryBakeTimeInMinutes": 10}),
                  "LINEAR": ("linearConfiguration", {"stepPercent": 10.0,
                                                     "stepBakeTimeInMinutes": 6})}


def deployment_defaults(dc: dict[str, Any], daemon: bool) -> dict[str, Any]:
    """A deployment configuration as AWS answers it: 200/100 (DAEMON 100/0), the circuit
    breaker off, ROLLING with no bake time (seen in a real describe-services), a canary's or a
    linear deployment's steps at their defaults."""
    out = dict(dc)
    out.setdefault("maximumPercent", 100 if daemon else 200)
    out.setdefault("minimumHealthyPercent", 0 if daemon else 100)
    out.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    strategy = out.setdefault("strategy", "ROLLING")
    if strategy == "ROLLING":
        out.setdefault("bakeTimeInMinutes", 0)
    if strategy in _STEP_DEFAULTS:
        key, defaults = _STEP_DEFAULTS[strategy]
        out[key] = {**defaults, **(out.get(key) or {})}
    return out


def _other_steps(sent: dict[str, Any]) -> set[str]:
    """The step configurations a request's strategy leaves behind (a canary turned linear)."""
    if "strategy" not in sent:
        return set()
    return {key for strategy, (key, _d) in _STEP_DEFAULTS.items() if strategy != sent["strategy"]}


def _service_defaults(params: dict[str, Any], cluster: Any) -> dict[str, Any]:
    """What AWS fills into a new service that moto leaves out (NORMALIZATION.md 31-40)."""
    filled: dict[str, Any] = {}
    daemon = params.get("schedulingStrategy") == "DAEMON"
    filled["deploymentConfiguration"] = deployment_defaults(
        params.get("deploymentConfiguration") or {}, daemon)
    filled["enableExecuteCommand"] = bool(params.get("enableExecuteCommand", False))
    filled["enableECSManagedTags"] = bool(params.get("enableECSManagedTags", False))
    filled["healthCheckGracePeriodSeconds"] = int(params.get("healthCheckGracePeriodSeconds", 0))
    filled["availabilityZoneRebalancing"] = params.get("availabilityZoneRebalancing", "ENABLED")
    strategy = params.get("capacityProviderStrategy")
    if not strategy and not params.get("launchType"):
        strategy = list(getattr(cluster, "default_capacity_provider_strategy", None) or [])
    if strategy:
        filled["capacityProviderStrategy"] = [
            {"base": 0, **s} for s in strategy
        ]
        filled["launchType"] = None
    launch = params.get("launchType")
    uses_fargate = launch == "FARGATE" or any(
        str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategy or []
    )
    if uses_fargate:
        filled["platformVersion"] = params.get("platformVersion") or "LATEST"
    nc = params.get("networkConfiguration")
    if isinstance(nc, dict) and isinstance(nc.get("awsvpcConfiguration"), dict):
        vpc = {"assignPublicIp": "DISABLED", **nc["awsvpcConfiguration"]}
        filled["networkConfiguration"] = {**nc, "awsvpcConfiguration": vpc}
    for k in ("placementConstraints", "placementStrategy", "serviceConnectConfiguration",
              "volumeConfigurations"):
        if k in params:
            filled[k] = params[k]
    return filled


def _fill_container_defaults(td: Any) -> None:
    """What AWS fills into container definitions on register that moto leaves out."""
    mode = td.network_mode or "bridge"
    for c in td.container_definitions:
        for p in c.get("portMappings") or []:
            p.setdefault("protocol", "tcp")
            if "containerPort" in p and "containerPortRange" not in p:
                p.setdefault("hostPort", p["containerPort"] if mode in ("awsvpc", "host") else 0)
        hc = c.get("healthCheck")
        if isinstance(hc, dict):
            hc.setdefault("interval", 30)
            hc.setdefault("retries", 3)
            hc.setdefault("timeout", 5)


def patch() -> None:
    """Make moto's ECS behave like AWS where it measurably does not."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original_create = EC2ContainerServiceResponse.create_service
    original_register = EC2ContainerServiceResponse.register_task_definition
    original_update = EC2ContainerServiceResponse.update_service
    original_describe = EC2ContainerServiceResponse.describe_task_definition

    def create_service(self: Any) -> Any:
        cluster_name = str(self._get_param("cluster", "default")).split("/")[-1]
        name = self._get_param("serviceName")
        backend = self.ecs_backend
        existing = backend.services.get(f"{cluster_name}:{name}")
        if existing is not None and existing.status == "ACTIVE":
            # AWS refuses to create an ACTIVE service twice (MOTO.md gap 3).
            from moto.ecs.exceptions import InvalidParameterException

            raise InvalidParameterException("Creation of service was not idempotent.")
        result = original_create(self)
        service = backend.services[f"{cluster_name}:{name}"]
        params = {k: self._get_param(k) for k in
                  (*_DROPPED_ON_CREATE, "launchType", "schedulingStrategy",
                   "platformVersion", "networkConfiguration")}
        params = {k: v for k, v in params.items() if v is not None}
        cluster = backend.clusters.get(cluster_name)
        for key, value in _service_defaults(params, cluster).items():
            setattr(service, _snake(key), value)
        for d in service.deployments:
            d["launchType"] = service.launch_type
            d["platformVersion"] = service.platform_version
        return result

    def update_service(self: Any) -> Any:
        cluster_name = str(self._get_param("cluster", "default")).split("/")[-1]
        name = str(self._get_param("service")).split("/")[-1]
        service = self.ecs_backend.services.get(f"{cluster_name}:{name}")
        before = dict(getattr(service, "deployment_configuration", None) or {})
        result = original_update(self)
        td = self._get_param("taskDefinition")
        sent = self._get_param("deploymentConfiguration")
        if service is not None and isinstance(sent, dict):
            # AWS keeps what an update leaves out and fills its defaults; moto stores the
            # request as sent (issue13 §3)
            kept = {k: v for k, v in before.items() if k not in _other_steps(sent)}
            service.deployment_configuration = deployment_defaults(
                {**kept, **sent}, service.scheduling_strategy == "DAEMON")
        if service is not None and td:
            # AWS stores the full ARN whatever form was sent (MOTO.md gap 2).
            service.task_definition = self.ecs_backend.describe_task_definition(td).arn
        return result

    def list_task_definitions(self: Any) -> Any:
        """AWS pages by 100 (MOTO gap: moto returns every ARN at once)."""
        from moto.core.responses import ActionResult

        arns = self.ecs_backend.list_task_definitions(
            self._get_param("familyPrefix"), self._get_param("status", "ACTIVE"))
        if self._get_param("sort") == "DESC":
            arns = list(reversed(arns))
        size = min(int(self._get_param("maxResults") or 100), 100)
        start = int(self._get_param("nextToken") or 0)
        page = {"taskDefinitionArns": arns[start : start + size]}
        if start + size < len(arns):
            page["nextToken"] = str(start + size)
        return ActionResult(page)

    def describe_task_definition(self: Any) -> Any:
        """By family, AWS answers the newest ACTIVE revision (MOTO gap: moto answers the
        newest revision even when it was deregistered)."""
        from moto.core.responses import ActionResult
        from moto.ecs.exceptions import TaskDefinitionNotFoundException

        family = str(self._get_param("taskDefinition")).split("/")[-1]
        if ":" in family:
            return original_describe(self)
        revisions = self.ecs_backend.task_definitions.get(family) or {}
        active = [r for r, td in revisions.items() if td.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        td = revisions[max(active)]
        resp: dict[str, Any] = {"taskDefinition": td, "failures": []}
        if "TAGS" in self._get_param("include", []):
            resp["tags"] = self.ecs_backend.list_tags_for_resource(td.arn)
        return ActionResult(resp)

    def register_task_definition(self: Any) -> Any:
        result = original_register(self)
        family = self._get_param("family")
        revisions = self.ecs_backend.task_definitions.get(family) or {}
        if revisions:
            _fill_container_defaults(revisions[max(revisions)])
        return result

    replace(EC2ContainerServiceResponse, "create_service", create_service)
    replace(EC2ContainerServiceResponse, "update_service", update_service)
    replace(EC2ContainerServiceResponse, "register_task_definition", register_task_definition)
    replace(EC2ContainerServiceResponse, "list_task_definitions", list_task_definitions)
    replace(EC2ContainerServiceResponse, "describe_task_definition", describe_task_definition)


