"""Service quotas as AWS applies them: their values (AWS default, or the applied value --quota sets) and the Service
Quotas API that answers for them. EC2's refusals past them: ec2/quotas.py.

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
                                           GetAWSDefaultServiceQuota answers in an AWS CLI example for this
                                           quota; 32 and more are values AWS applies to accounts, which --quota
                                           models). RunInstances past it, counting the pending and running On-Demand
                                           instances of those families by VCpuInfo.DefaultVCpus: VcpuLimitExceeded
                                           with AWS's message (quoted in public reports), nothing launched. AWS says
                                           "running"; pending counts too here (no source either way; the stricter).

Service Quotas: GetAWSDefaultServiceQuota gives AWS's default; GetServiceQuota gives the applied value, which an
account has only once a quota was changed for it: without one it answers NoSuchResourceException, as the Terraform
AWS provider's servicequotas data source expects ("A Service Quota will always have a default value, but will only
have a current value if it has been set. If it is not set, GetServiceQuota will return NoSuchResourceException").
`--quota SERVICE/CODE=N` gives every account that applied value (a raised or lowered quota); servicequotas/README.md
("Service quotas") and docs/research/workshops-aws-facts.md have the sources.
"""

from __future__ import annotations

import dataclasses
import json

from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.responses import ServiceQuotasResponse

from peerlab_local.core.patching import add, once, replace
from peerlab_local.core.world import world

# ServiceName as Service Quotas names each service (its answers for vpc and ec2 quotas: moto's copy of the vpc data,
# servicequotas/resources/default_quotas/vpc.py; an AWS CLI get-aws-default-service-quota example for ec2)
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
# In vCPUs. AWS's default as GetAWSDefaultServiceQuota gives it: 5.0 (an AWS CLI usage example, in the format of the
# AWS CLI's own examples, of get-aws-default-service-quota for this very quota - the code search did not name its
# repository; a Terraform comment measuring a new account in eu-north-1: "both are 5").
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


@once
def install() -> None:
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
