"""The network the manifests name, created in moto under those exact IDs (moto cannot create
subnets or security groups with chosen IDs, so they are re-keyed in its in-process backend).
Only for the embedded default and tests: on AWS the network exists already."""

from __future__ import annotations

from typing import Any

DEFAULT_ACCOUNT = "123456789012"


def seed_network(url: str, region: str, subnets: list[str], security_groups: list[str]) -> None:
    """Create the subnets and security groups that manifests name, under those exact IDs.

    moto checks that a service's subnets and security groups exist but cannot create them with
    chosen IDs, so they are created and then re-keyed in moto's in-process EC2 backend. Only
    for the embedded default and tests: on AWS the network exists already.
    """
    import boto3
    from moto.ec2.models import ec2_backends

    ec2 = boto3.client("ec2", endpoint_url=url, region_name=region, **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
    backend = ec2_backends[DEFAULT_ACCOUNT][region]
    known_subnets = {s.id for az in backend.subnets.values() for s in az.values()}
    known_groups = {g.id for groups in backend.groups.values() for g in groups.values()}
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    # as a default VPC has them, and as tasks with awsvpc networking need them in moto
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    for i, wanted in enumerate(s for s in subnets if s not in known_subnets):
        sn = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24")["Subnet"]
        zone = backend.subnets[sn["AvailabilityZone"]]
        subnet = zone.pop(sn["SubnetId"])
        subnet.id = wanted
        zone[wanted] = subnet
    for wanted in (g for g in security_groups if g not in known_groups):
        gid = ec2.create_security_group(GroupName=wanted, Description="seeded", VpcId=vpc)["GroupId"]
        group = backend.groups[vpc].pop(gid)
        group.id = wanted
        backend.groups[vpc][wanted] = group


def network_ids(value: Any) -> tuple[list[str], list[str]]:
    """Every subnet-* and sg-* string anywhere in a manifest tree, for `seed_network`."""
    subnets: set[str] = set()
    groups: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            if v.startswith("subnet-"):
                subnets.add(v)
            elif v.startswith("sg-"):
                groups.add(v)

    walk(value)
    return sorted(subnets), sorted(groups)


