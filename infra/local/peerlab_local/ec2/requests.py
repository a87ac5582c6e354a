"""EC2 requests refused (or answered) as EC2 does, where moto takes them: the rules EC2's service model cannot express,
registered with core/validation.py (which checks the model's own constraints for every call), and two refusals
that depend on the state. Sources beside each; the table is core/VALIDATION.md.

- DescribeInstances: `MaxResults` below 5 is `InvalidParameterValue` ("Value ( 1 ) for parameter maxResults is
  invalid. Expecting a value greater than 5.", EC2's answer quoted in aws/aws-sdk-ruby#2575; the model gives this
  member no range), and `MaxResults` with `InstanceIds` is `InvalidParameterCombination` ("The parameter
  instancesSet cannot be used with the parameter maxResults": EC2's answer quoted in getmoto/moto#6282 and
  yuuki/grabeni#7; DescribeInstances API reference, MaxResults: "You cannot specify this parameter and the
  instance IDs parameter in the same request").
- RevokeSecurityGroupIngress/Egress with several rules: all or nothing. "For a non-default VPC, if the values you
  specify do not match the existing rule's values, an InvalidPermission.NotFound client error is returned, and no
  rules are revoked" (RevokeSecurityGroupIngress API reference, also in the EC2 service model's documentation).
  moto revokes the rules before the missing one, then answers the error.
- CreateVpcEndpoint, an interface endpoint with private DNS (the default) in a VPC where an endpoint of the same
  service with private DNS is still there - `pending`, `available` or `deleting` - is `InvalidParameter`:
  "private-dns-enabled cannot be set because there is already a conflicting DNS domain for ssm.us-east-1.amazonaws.com
  in the VPC vpc-..." (EC2's answer quoted in hashicorp/terraform-provider-aws#17535, #17269). `deleting` too: its
  private DNS domain stays associated with the VPC until the deletion completes (the conflict met by a create run
  in parallel with the old endpoint's destruction: ministryofjustice/modernisation-platform#13573). moto creates a
  second endpoint.
"""

from __future__ import annotations

import re

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.responses.security_groups import SecurityGroups

from peerlab_local.core.patching import once, wrap
from peerlab_local.core.validation import Violation, rule

# Endpoint states that no longer hold the service's private DNS domain in the VPC
GONE = ("deleted", "failed", "rejected", "expired")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


@rule("ec2", "DescribeInstances")
def _describe_instances(params: dict) -> list[Violation]:
    limit = params.get("MaxResults")
    if limit is None:
        return []
    if params.get("InstanceIds"):
        return [Violation("maxResults", limit, "", "InvalidParameterCombination",
                          "The parameter instancesSet cannot be used with the parameter maxResults")]
    if isinstance(limit, int) and limit < 5:
        return [Violation("maxResults", limit, "have value greater than or equal to 5")]
    return []


def _all_or_nothing(direction: str):
    def revoke(original, response):
        params = response._get_params()
        group = response.ec2_backend.get_security_group_by_name_or_id(
            params.get("GroupId") or params.get("GroupName") or "")
        if group is None:
            return original(response)
        before = list(getattr(group, direction))
        try:
            return original(response)
        except EC2ClientError:
            getattr(group, direction)[:] = before  # none of the request's rules is revoked (moto made a new list)
            raise

    return revoke


def _domain(service_name: str) -> str:
    """com.amazonaws.us-east-1.ssm -> ssm.us-east-1.amazonaws.com (the service's private DNS name)."""
    parts = service_name.split(".")
    if len(parts) >= 4 and parts[:2] == ["com", "amazonaws"] and REGION.fullmatch(parts[2]):
        return f"{'.'.join(parts[3:])}.{parts[2]}.amazonaws.com"
    return service_name  # an endpoint service's own (com.amazonaws.vpce.REGION.vpce-svc-...): named as it is


def _create_endpoint(original, backend, *args, **kwargs):
    vpc_id = kwargs.get("vpc_id", args[0] if args else None)
    service_name = kwargs.get("service_name", args[1] if len(args) > 1 else None)
    endpoint_type = kwargs.get("endpoint_type", args[2] if len(args) > 2 else None)
    private_dns = kwargs.get("private_dns_enabled")
    if (endpoint_type or "").lower() == "interface" and private_dns is not False:
        for endpoint in backend.vpc_end_points.values():
            if (endpoint.vpc_id == vpc_id and endpoint.service_name == service_name
                    and endpoint.private_dns_enabled and endpoint.state not in GONE):
                raise EC2ClientError(
                    "InvalidParameter", "private-dns-enabled cannot be set because there is already a conflicting "
                    f"DNS domain for {_domain(service_name or '')} in the VPC {vpc_id}")
    return original(backend, *args, **kwargs)


@once
def install() -> None:
    wrap(SecurityGroups, "revoke_security_group_ingress")(_all_or_nothing("ingress_rules"))
    wrap(SecurityGroups, "revoke_security_group_egress")(_all_or_nothing("egress_rules"))
    # before patches.py's: a create repeating a live endpoint's ClientToken returns that endpoint, no conflict
    wrap(EC2Backend, "create_vpc_endpoint")(_create_endpoint)
