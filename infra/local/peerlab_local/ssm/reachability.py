"""Whether an instance's SSM Agent can reach SSM now: credentials from its instance profile, then a network path to
the `ssm` and `ssmmessages` endpoints (interface endpoints with private DNS, or a route to the internet). The agent
(agent.py) asks this at each health ping; managed.py and Run Command read the agent's outcome."""

from __future__ import annotations

import json

from moto.ec2.models.instances import Instance
from moto.iam.models import iam_backends

from peerlab_local.ec2 import network

SSM_POLICY = "AmazonSSMManagedInstanceCore"


def _profile_problem(instance: Instance) -> str | None:
    profile = instance.iam_instance_profile
    if not profile:
        return "it has no instance profile"
    ref = profile.get("Arn") or profile.get("Name") if isinstance(profile, dict) else str(profile)
    name = str(ref).rsplit("/", 1)[-1]
    iam = iam_backends[instance.ec2_backend.account_id]["global"]
    found = next((p for p in iam.instance_profiles.values() if p.name == name), None)
    if found is None:
        return f"its instance profile {name} does not exist"
    if not found.roles:
        return f"instance profile {name} has no role"
    for role in found.roles:
        attached = [str(arn) for arn in getattr(role, "managed_policies", {}).keys()]
        inline = json.dumps(getattr(role, "policies", {}))
        if any(arn.endswith("/" + SSM_POLICY) for arn in attached) or "ssm:UpdateInstanceInformation" in inline \
                or '"ssm:*"' in inline:
            return None
    return f"the role of instance profile {name} lacks {SSM_POLICY}"


def _endpoint_for(backend, vpc_id: str, service: str):
    for endpoint in backend.vpc_end_points.values():
        if endpoint.vpc_id == vpc_id and endpoint.service_name == service:
            yield endpoint


def _network_problem(instance: Instance) -> str | None:
    backend = instance.ec2_backend
    source = network.find_endpoint_by_instance(instance)
    vpc = source.vpc
    region = backend.region_name
    problems = []
    for short in ("ssm", "ssmmessages"):
        service = f"com.amazonaws.{region}.{short}"
        candidates = list(_endpoint_for(backend, vpc.id, service))
        if not candidates:
            problems.append(f"no interface endpoint for {service} in {vpc.id}")
            continue
        reason = None
        for endpoint in candidates:
            reason = _endpoint_problem(backend, source, vpc, endpoint)
            if reason is None:
                break
        if reason is not None:
            problems.append(reason)
    if not problems:
        return None
    if _has_internet_path(backend, source, instance):
        return None
    return "; ".join(problems)


def _endpoint_problem(backend, source, vpc, endpoint) -> str | None:
    if endpoint.state != "available":
        return f"endpoint {endpoint.id} is {endpoint.state}"
    if (endpoint.vpc_endpoint_type or "").lower() != "interface":
        return f"endpoint {endpoint.id} is not an interface endpoint"
    if not endpoint.private_dns_enabled:
        return f"endpoint {endpoint.id} has private DNS off"
    if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        return f"{vpc.id} needs DNS support and DNS hostnames on for the endpoints' private DNS"
    why = None
    for eni_id in endpoint.network_interface_ids:
        eni = backend.enis.get(eni_id)
        if eni is None:
            continue
        groups = [backend.get_security_group_from_id(g) for g in endpoint.security_group_ids]
        groups = [g for g in groups if g is not None] or list(eni._group_set)
        target = network.Endpoint(backend, backend.region_name, eni.private_ip_address, eni.subnet, vpc, groups)
        verdict = network.reach(source, target, network.TCP, 443)
        if verdict.reachable:
            return None
        why = f"HTTPS to endpoint {endpoint.id} is blocked: {verdict.reason}"
    return why or f"endpoint {endpoint.id} has no network interface"


def _has_internet_path(backend, source, instance) -> bool:
    table = network.route_table_for(backend, source.subnet)
    if table is None:
        return False
    for route in table.routes:
        if route.destination_cidr_block != "0.0.0.0/0":
            continue
        if route.nat_gateway is not None:
            return True
        gateway = route.gateway
        if gateway is not None and str(gateway.id).startswith("igw-") and instance.public_ip:
            return True
    return False


def ping_problem(instance: Instance) -> str | None:
    """Why the SSM Agent's health ping (UpdateInstanceInformation) would fail now, or None: credentials from the
    instance profile, then a way to reach SSM."""
    for check in (_profile_problem, _network_problem):
        problem = check(instance)
        if problem:
            return problem
    return None
