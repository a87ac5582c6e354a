"""EC2 refuses what goes past a service quota, as AWS does: CreateVpc past VPCs per Region (VpcLimitExceeded),
RunInstances past the running On-Demand standard vCPUs (VcpuLimitExceeded), CreateVpcEndpoint past the interface
endpoints per VPC (VpcEndpointLimitExceeded). The quotas, their values and their sources: servicequotas/quotas.py."""

from __future__ import annotations

import re

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.instance_types import INSTANCE_TYPES

from peerlab_local.core.patching import once, wrap
from peerlab_local.servicequotas.quotas import (
    INTERFACE_ENDPOINTS_PER_VPC,
    RUNNING_ON_DEMAND_STANDARD,
    VPCS_PER_REGION,
    limit,
)

# ---- Running On-Demand Standard vCPUs (ec2/L-1216C47A) ----------------------------------------------------------
# The bucket is in the quota's name: families A, C, D, H, I, M, R, T and Z (the I family includes im4gn/is4gen). The
# other families have buckets of their own (the archived EC2 User Guide's "On-Demand Instance limits" table: F, G, P,
# X; Service Quotas has DL, Inf, Trn, HPC, High Memory (U) and Mac quotas too), so they do not count here.
STANDARD_FAMILIES = frozenset({"a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"})
# Which states count: AWS says "the total number of vCPUs that are assigned to the running On-Demand instances" (EC2 API
# Reference, "Error codes for the Amazon EC2 API", VcpuLimitExceeded); no AWS page says whether `pending` does. A
# pending instance has its capacity (RunInstances returned it), so it counts here: the stricter choice.
COUNTED_STATES = frozenset({"pending", "running"})
# AWS's message, as StreisandEffect/streisand#1715, scrapoxy/scrapoxy#202 and openshift/installer#2736 quote it
VCPU_MESSAGE = ("You have requested more vCPU capacity than your current vCPU limit of {limit} allows for the instance "
                "bucket that the specified instance type belongs to. Please visit "
                "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.")


def is_standard(instance_type: str) -> bool:
    match = re.match(r"[a-z]+", instance_type)
    return match is not None and match.group() in STANDARD_FAMILIES


def vcpus(instance_type: str) -> int:
    """`VCpuInfo.DefaultVCpus` as moto serves it for DescribeInstanceTypes (0 for a type it does not know)."""
    return int(INSTANCE_TYPES.get(instance_type, {}).get("VCpuInfo", {}).get("DefaultVCpus", 0))


def standard_vcpus_in_use(backend: EC2Backend) -> int:
    """The account-region's On-Demand standard vCPUs: its pending and running instances of families A..Z."""
    return sum(vcpus(i.instance_type) for i in backend.all_instances()
               if i._state.name in COUNTED_STATES and is_standard(i.instance_type) and i.lifecycle != "spot")


def _requested_type(backend: EC2Backend, kwargs: dict) -> str:
    if kwargs.get("launch_template") and kwargs.get("is_instance_type_default"):
        template = backend._get_template_from_args(kwargs["launch_template"]).data
        return str(template.get("InstanceType") or kwargs.get("instance_type") or "m1.small")
    return str(kwargs.get("instance_type") or "m1.small")  # RunInstances' documented default: m1.small


def _same_token_reservation(backend: EC2Backend, token: str | None) -> bool:
    """A retry with a ClientToken already used returns the original reservation and launches nothing (ec2_patches)."""
    return bool(token) and token != "ABCDE" and any(
        r.instances and getattr(r.instances[0], "client_token", None) == token for r in backend.reservations.values())


# ---- Interface endpoints per VPC (vpc/L-29B6F2EB) ---------------------------------------------------------------
# "a combined quota for interface endpoints and Gateway Load Balancer endpoints" (AWS PrivateLink Guide, "AWS
# PrivateLink quotas"); gateway endpoints have a per-Region quota of their own (L-1B52E74A), not this one. An endpoint
# counts until it is deleted (the sources are silent on `deleting`: counting it is the stricter choice).
COUNTED_ENDPOINT_TYPES = frozenset({"interface", "gatewayloadbalancer"})
# EC2 API Reference, "Error codes for the Amazon EC2 API": VpcEndpointLimitExceeded, "You've reached the limit on the
# number of VPC endpoints that you can create in the AWS Region" - the only endpoint quota code it lists; it does not
# say which code the per-VPC quota gives (not found). The message is the one a public report quotes for an interface
# endpoint refused (VpcEndpointLimitExceeded: "The maximum number of VPC endpoints has been reached"; a code-search
# hit that did not name its repository); AWS does not document it.
ENDPOINT_MESSAGE = "The maximum number of VPC endpoints has been reached."


def interface_endpoints(backend: EC2Backend, vpc_id: str) -> int:
    return sum(1 for e in backend.vpc_end_points.values()
               if e.vpc_id == vpc_id and e.state != "deleted"
               and str(e.vpc_endpoint_type or "").lower() in COUNTED_ENDPOINT_TYPES)


@once
def install() -> None:
    @wrap(EC2Backend, "create_vpc")
    def create_vpc(original, backend, *args, **kwargs):
        if len(backend.vpcs) >= limit(VPCS_PER_REGION):  # the default VPC is one of them
            raise EC2ClientError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        return original(backend, *args, **kwargs)

    @wrap(EC2Backend, "run_instances")
    def run_instances(original, backend, image_id, count, user_data, security_group_names, **kwargs):
        instance_type = _requested_type(backend, kwargs)
        spot = bool(kwargs.get("instance_market_options"))  # moto's test for a Spot launch; Spot has its own quotas
        if is_standard(instance_type) and not spot and not _same_token_reservation(backend, kwargs.get("client_token")):
            quota = limit(RUNNING_ON_DEMAND_STANDARD)
            if standard_vcpus_in_use(backend) + int(count) * vcpus(instance_type) > quota:
                # refused whole: nothing launched (AWS launches none when it cannot launch MinCount)
                raise EC2ClientError("VcpuLimitExceeded", VCPU_MESSAGE.format(limit=int(quota)))
        return original(backend, image_id, count, user_data, security_group_names, **kwargs)

    @wrap(EC2Backend, "create_vpc_endpoint")
    def create_vpc_endpoint(original, backend, *args, **kwargs):
        # moto's response passes every argument by name; the wrappers inside (zones, ec2_patches) read them so
        vpc_id = kwargs.get("vpc_id", args[0] if args else None)
        endpoint_type = kwargs.get("endpoint_type", args[2] if len(args) > 2 else None)
        token = kwargs.get("client_token")
        retry = bool(token) and any(e.client_token == token and e.state not in ("deleted", "deleting")
                                    for e in backend.vpc_end_points.values())
        if (str(endpoint_type or "").lower() in COUNTED_ENDPOINT_TYPES and not retry and vpc_id
                and interface_endpoints(backend, vpc_id) >= limit(INTERFACE_ENDPOINTS_PER_VPC)):
            raise EC2ClientError("VpcEndpointLimitExceeded", ENDPOINT_MESSAGE)
        return original(backend, *args, **kwargs)
