"""Service quotas as AWS applies them: EC2 refuses what goes past a quota, and Service Quotas answers for it.

Modelled:

    vpc/L-F678F1CE  VPCs per Region        AWS default 5, per account and region (Amazon VPC User Guide,
                                           "Amazon VPC quotas"). CreateVpc past it: VpcLimitExceeded, "The maximum
                                           number of VPCs has been reached." (the code: EC2 API Reference, "Error
                                           codes for the Amazon EC2 API"; the message as AWS sends it, quoted in
                                           public error reports; AWS does not document it). The default VPC counts:
                                           it is a VPC like any other in DescribeVpcs (Amazon VPC User Guide,
                                           "Default VPCs"); no AWS page says it is exempt.
    vpc/L-29B6F2EB  Interface VPC endpoints per VPC
                                           AWS default 50, per VPC (AWS PrivateLink Guide, "AWS PrivateLink quotas":
                                           "Interface and Gateway Load Balancer endpoints per VPC", a combined quota
                                           for both types). CreateVpcEndpoint of either type past it:
                                           VpcEndpointLimitExceeded, "The maximum number of VPC endpoints has been
                                           reached." (the only endpoint quota code of the EC2 error list, documented
                                           for the Region; which code the per-VPC quota gives is found nowhere; the
                                           message as a public report quotes it). Gateway endpoints do not count.
    ec2/L-1216C47A  Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances
                                           in vCPUs, per account and region; AWS default 5 (what
                                           GetAWSDefaultServiceQuota answers in the AWS CLI's own example for this
                                           quota; 32 and more are values AWS applies to accounts, which --quota
                                           models). RunInstances past it, counting the pending and running On-Demand
                                           instances of those families by VCpuInfo.DefaultVCpus: VcpuLimitExceeded
                                           with AWS's message (quoted in public reports), nothing launched. AWS says
                                           "running"; pending counts too here (no source either way; the stricter).

Service Quotas: GetAWSDefaultServiceQuota gives AWS's default; GetServiceQuota gives the applied value, which an
account has only once a quota was changed for it: without one it answers NoSuchResourceException, as the Terraform
AWS provider's servicequotas data source expects ("A Service Quota will always have a default value, but will only
have a current value if it has been set. If it is not set, GetServiceQuota will return NoSuchResourceException").
`--quota SERVICE/CODE=N` gives every account that applied value (a raised or lowered quota); infra/local/README.md
("Service quotas") and docs/research/workshops-aws-facts.md have the sources.
"""

from __future__ import annotations

import dataclasses
import json
import re

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.instance_types import INSTANCE_TYPES
from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.responses import ServiceQuotasResponse

from .patching import add, once, replace, wrap
from .world import world

# ServiceName as Service Quotas names each service (its answers for vpc and ec2 quotas: moto's copy of the vpc data,
# servicequotas/resources/default_quotas/vpc.py; the AWS CLI's get-aws-default-service-quota example for ec2)
SERVICE_NAMES = {"vpc": "Amazon Virtual Private Cloud (Amazon VPC)", "ec2": "Amazon Elastic Compute Cloud (Amazon EC2)"}


@dataclasses.dataclass(frozen=True)
class Quota:
    service: str
    code: str
    name: str
    default: float
    adjustable: bool = True

    @property
    def key(self) -> str:
        return f"{self.service}/{self.code}"


VPCS_PER_REGION = Quota("vpc", "L-F678F1CE", "VPCs per Region", 5.0)
# AWS PrivateLink Guide, "AWS PrivateLink quotas": "Interface and Gateway Load Balancer endpoints per VPC", 50,
# adjustable, "a combined quota for interface endpoints and Gateway Load Balancer endpoints" (the table links
# L-29B6F2EB); the name is the one Service Quotas answers with (moto's copy of the vpc quota data)
INTERFACE_ENDPOINTS_PER_VPC = Quota("vpc", "L-29B6F2EB", "Interface VPC endpoints per VPC", 50.0)
# In vCPUs. AWS's default as GetAWSDefaultServiceQuota gives it: 5.0 (the AWS CLI's own example for
# get-aws-default-service-quota, this very quota; a Terraform comment measuring a new account: "both are 5").
# Accounts are often given more as an applied value (32 is widely reported for new accounts: scrapoxy/scrapoxy#202,
# bentoml/bentoctl#202; 1152 was the archived EC2 guide's table, which warned "New AWS accounts may start with limits
# that are lower"): that is --quota's to model, not the default.
RUNNING_ON_DEMAND_STANDARD = Quota("ec2", "L-1216C47A",
                                   "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 5.0)
QUOTAS = {q.key: q for q in (VPCS_PER_REGION, INTERFACE_ENDPOINTS_PER_VPC, RUNNING_ON_DEMAND_STANDARD)}


def parse(text: str) -> tuple[str, float]:
    """`vpc/L-F678F1CE=10` -> ("vpc/L-F678F1CE", 10.0); ValueError naming what is wrong."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"expected SERVICE/QUOTA-CODE=VALUE, got {text!r}")
    if key not in QUOTAS:
        raise ValueError(f"{key!r} is not a quota the local AWS models (it models {', '.join(sorted(QUOTAS))})")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{key}: the value must be a number, got {value!r}") from None
    if number < 0 or number != int(number):
        raise ValueError(f"{key}: the value must be a whole number of at least 0, got {value}")
    return key, number


def applied() -> dict[str, float]:
    """The applied values --quota set, by `SERVICE/CODE`."""
    return dict(world().config.quotas)


def limit(quota: Quota) -> float:
    """The quota in force: the applied value if --quota set one, else AWS's default."""
    return applied().get(quota.key, quota.default)


def _quota_json(quota: Quota, value: float, account: str, region: str) -> dict:
    return {"ServiceCode": quota.service, "ServiceName": SERVICE_NAMES[quota.service],
            "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:{quota.service}/{quota.code}",
            "QuotaCode": quota.code, "QuotaName": quota.name, "Value": value, "Unit": "None",
            "Adjustable": quota.adjustable, "GlobalQuota": False}


# ---- Running On-Demand Standard vCPUs (ec2/L-1216C47A) ----------------------------------------------------------
# The bucket is in the quota's name: families A, C, D, H, I, M, R, T and Z (the I family includes im4gn/is4gen). The
# other families have buckets of their own (the archived EC2 User Guide's "On-Demand Instance limits" table: F, G, P,
# X; Service Quotas has DL, Inf, Trn, HPC, High Memory (U) and Mac quotas too), so they do not count here.
STANDARD_FAMILIES = frozenset({"a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"})
# Which states count: AWS says "the total number of vCPUs that are assigned to the running On-Demand instances" (EC2 API
# Reference, "Error codes for the Amazon EC2 API", VcpuLimitExceeded); no AWS page says whether `pending` does. A
# pending instance has its capacity (RunInstances returned it), so it counts here: the stricter choice.
COUNTED_STATES = frozenset({"pending", "running"})
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
# endpoint refused (VpcEndpointLimitExceeded: "The maximum number of VPC endpoints has been reached"); AWS does not
# document it.
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

    def get_service_quota(backend, service_code: str, quota_code: str) -> dict:
        quota = QUOTAS.get(f"{service_code}/{quota_code}")
        values = applied()
        if quota is None or quota.key not in values:
            raise NoSuchResource()
        return _quota_json(quota, values[quota.key], backend.account_id, backend.region_name)

    def get_aws_default_service_quota(backend, service_code: str, quota_code: str) -> dict:
        quota = QUOTAS.get(f"{service_code}/{quota_code}")
        if quota is None:
            raise NoSuchResource()
        return _quota_json(quota, quota.default, backend.account_id, backend.region_name)

    def respond_default(response) -> str:
        params = json.loads(response.body)
        quota = response.backend.get_aws_default_service_quota(str(params.get("ServiceCode")),
                                                               str(params.get("QuotaCode")))
        return json.dumps({"Quota": quota})

    replace(ServiceQuotasBackend, "get_service_quota", get_service_quota)
    add(ServiceQuotasBackend, "get_aws_default_service_quota", get_aws_default_service_quota)
    add(ServiceQuotasResponse, "get_aws_default_service_quota", respond_default)
