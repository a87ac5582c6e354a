"""What AWS refuses, or changes on its own, around VPC peering — and moto does not:

- Routes whose target is a peering that is deleted, rejected, failed or expired are `blackhole` in
  DescribeRouteTables (moto: always `active`). EC2 API reference, Route.State: "The blackhole state indicates that
  the route's target isn't available" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html).
- A request between VPCs with overlapping IPv4 CIDRs is accepted by CreateVpcPeeringConnection and then ends
  `failed` (moto: pending-acceptance). CreateVpcPeeringConnection API reference: "If you create a VPC peering
  connection request between VPCs with overlapping CIDR blocks, the VPC peering connection has a status of failed."
  The status message is EC2's "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range" (as the
  Terraform AWS provider's waiter reports it: "unexpected state 'failed', wanted target 'active,
  pending-acceptance'. last error: Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range").
- A request left `initiating-request`/`pending-acceptance` expires after 7 days (`expired`). Same API reference:
  "The VPC peering connection request expires after 7 days, after which it cannot be accepted or rejected."
- A security-group rule (AuthorizeSecurityGroupIngress/Egress) naming a group of another VPC of the same account is
  refused unless an *active* peering connects the two VPCs: `InvalidGroup.NotFound`, "You have specified two
  resources that belong to different networks." (the words EC2 answers: ansible/ansible#28876 for a group of a
  non-peered VPC, hashicorp/terraform#2857, hashicorp/terraform-provider-aws#13784). VPC Peering Guide, "Update
  your security groups to reference peer security groups": "To reference a security group in a peer VPC, the VPC
  peering connection must be in the active state." A group of the same VPC is fine (moto already accepts it).
"""

from __future__ import annotations

import functools
import inspect
import ipaddress

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.route_tables import Route

from peerlab_local.core.patching import once, replace, wrap
from peerlab_local.core.world import world
from peerlab_local.ec2.models import vpc_cidrs

OVERLAP_MESSAGE = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"
DIFFERENT_NETWORKS = "You have specified two resources that belong to different networks."


# --- blackhole routes -----------------------------------------------------------------------------------------


def route_state(route) -> str:
    """A route through a peering is a blackhole unless the peering is active: over, and also before it is
    accepted. AWS VPC Peering Guide, "Update your route tables for a VPC peering connection": "You can add a route
    for a VPC peering connection that's in the pending-acceptance state. However, the route has a state of
    blackhole, and has no effect until the VPC peering connection is in the active state." """
    pcx = getattr(route, "vpc_pcx", None)
    if pcx is not None and pcx._status.code != "active":
        return "blackhole"
    return "active"



# --- peering requests: overlapping CIDRs fail, unaccepted ones expire ------------------------------------------------


def _cidrs(vpc) -> list:
    return [ipaddress.ip_network(c, strict=False) for c in vpc_cidrs(vpc)]


def overlapping(pcx) -> bool:
    return any(a.overlaps(b) for a in _cidrs(pcx.vpc) for b in _cidrs(pcx.peer_vpc))


def fail_overlapping(pcx) -> None:
    """After initiating-request (the profile's `peering_initiating`), the request ends failed with EC2's message."""
    w = world()
    if w.config.delay("peering_initiating") > 0:
        pcx._status.initiating()

    def fail():
        if pcx._status.code in ("initiating-request", "pending-acceptance"):
            pcx._status.code, pcx._status.message = "failed", OVERLAP_MESSAGE

    w.after("peering_initiating", fail)


def expire_unaccepted(pcx) -> None:
    """7 days (scaled by --time-scale) after the request, an unaccepted peering is `expired`. The `instant` profile
    has no expiry: a zero delay would expire every request at once."""
    w = world()
    if w.config.profile == "instant":
        return

    def expire():
        if pcx._status.code in ("initiating-request", "pending-acceptance"):
            # AWS documents the code, not the message text; "Expired" mirrors moto's "Active"/"Inactive" style
            pcx._status.code, pcx._status.message = "expired", "Expired"

    w.after("peering_expiry", expire)


# --- security-group rules that name a group of another VPC ------------------------------------------------------


def peered(backend, vpc_a: str, vpc_b: str) -> bool:
    return any(pcx._status.code == "active" and {pcx.vpc.id, pcx.peer_vpc.id} == {vpc_a, vpc_b}
               for pcx in backend.vpc_pcxs.values())


def check_source_groups(backend, group, source_groups) -> None:
    """Refuse a rule naming a group (of this account) in another VPC that no active peering connects."""
    if group is None or not group.vpc_id:
        return
    for item in source_groups or []:
        owner = item.get("UserId")
        if owner and owner != backend.account_id:
            continue  # another account's group: ec2_patches._add_source_group decides
        source_id = item.get("GroupId")
        source = backend.get_security_group_from_id(source_id) if source_id else None
        if source is None or not source.vpc_id or source.vpc_id == group.vpc_id:
            continue  # unknown (moto says InvalidGroup.NotFound itself) or the same VPC: fine
        if not peered(backend, group.vpc_id, source.vpc_id):
            raise EC2ClientError("InvalidGroup.NotFound", DIFFERENT_NETWORKS)


_signature = functools.cache(inspect.signature)


def _guarded(original, backend, *args, **kwargs):
    """Authorize*: the rule's source groups are checked first (check_source_groups)."""
    arguments = _signature(original).bind(backend, *args, **kwargs).arguments
    group = backend.get_security_group_by_name_or_id(arguments.get("group_name_or_id"), arguments.get("vpc_id"))
    check_source_groups(backend, group, arguments.get("source_groups"))
    return original(backend, *args, **kwargs)


@once
def install() -> None:
    """Blackhole routes, and rules naming groups of other VPCs (ec2_patches.install calls this)."""
    replace(Route, "state", property(route_state))
    for name in ("authorize_security_group_ingress", "authorize_security_group_egress"):
        wrap(EC2Backend, name)(_guarded)
