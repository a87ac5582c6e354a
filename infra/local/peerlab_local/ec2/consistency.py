"""Eventual consistency of the EC2 API, for every kind the workflow creates or names by id.

AWS (EC2 Developer Guide, "Eventual consistency in the Amazon EC2 API"): "if you run a command to modify or describe
the resource that you just created, its ID might not have propagated throughout the system, and you will get an error
responding that the resource does not exist". So, for its consistency window (drawn per resource: born(),
Config.delay("consistency_window", key=id); kept per account and region in backend.Ec2Extras), a new VPC, subnet,
security group, route table, network ACL, interface endpoint, instance or peering connection:
- named by id in any EC2 call (a describe by id, a modify, a tag, a delete, a route or rule naming it, a create that
  names its VPC/subnet/group) answers its Invalid...ID.NotFound code: the request is refused before moto sees it;
- is left out of describe responses that list resources (by filter, or everything): removed from moto's XML.
What AWS creates with a VPC (its main route table, default security group, default network ACL) is born with it.

Requests from the local AWS's own internals are not affected: the inventory and the SSM/ping simulation read the
models directly, and moto's Step Functions engine signs with access key "ak" (identities._boto_client_for).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

from moto.ec2.models import EC2Backend

from peerlab_local.core.patching import once, wrap
from peerlab_local.core.world import world
from peerlab_local.ec2.backend import all_extras, extras_of

# The Invalid...ID.NotFound code of each kind, by id prefix, with AWS's message. Codes: "Error codes for the Amazon
# EC2 API" (EC2 API Reference, client error codes for specific actions); messages as AWS words them ("The vpc ID
# 'vpc-...' does not exist", as the AWS CLI prints them).
NOT_FOUND = {
    "vpc-": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    "subnet-": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "sg-": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "rtb-": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist"),
    "acl-": ("InvalidNetworkAclID.NotFound", "The networkAcl ID '{}' does not exist"),
    "vpce-": ("InvalidVpcEndpointId.NotFound", "The vpcEndpoint ID '{}' does not exist"),
    "i-": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "pcx-": ("InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '{}' does not exist"),
}
ALL = tuple(NOT_FOUND)

# Query parameters that name a resource by id (list members numbered: ".N"), and the kinds (id prefixes) each can
# name. One table for every action: CreateSubnet's VpcId, RunInstances' SubnetId/SecurityGroupId.N,
# CreateVpcEndpoint's VpcId/SubnetId.N/SecurityGroupId.N/RouteTableId.N, AuthorizeSecurityGroupIngress's GroupId and
# IpPermissions.N.Groups.M.GroupId, ModifyInstanceAttribute's InstanceId/GroupId.N, CreateRoute's RouteTableId/
# VpcPeeringConnectionId/InstanceId, CreateVpcPeeringConnection's VpcId/PeerVpcId, Describe*'s ids, Delete*,
# CreateTags' ResourceId.N, ...
PARAMS: dict[str, tuple[str, ...]] = {
    "VpcId": ("vpc-",), "VpcId.N": ("vpc-",), "PeerVpcId": ("vpc-",),
    "SubnetId": ("subnet-",), "SubnetId.N": ("subnet-",), "NetworkInterface.N.SubnetId": ("subnet-",),
    "GroupId": ("sg-",), "GroupId.N": ("sg-",), "SecurityGroupId.N": ("sg-",),
    "IpPermissions.N.Groups.N.GroupId": ("sg-",), "NetworkInterface.N.SecurityGroupId.N": ("sg-",),
    "RouteTableId": ("rtb-",), "RouteTableId.N": ("rtb-",),
    "NetworkAclId": ("acl-",), "NetworkAclId.N": ("acl-",),
    "VpcEndpointId": ("vpce-",), "VpcEndpointId.N": ("vpce-",),
    "InstanceId": ("i-",), "InstanceId.N": ("i-",),
    "VpcPeeringConnectionId": ("pcx-",), "VpcPeeringConnectionId.N": ("pcx-",),
    "ResourceId.N": ALL,
}
_NUMBER = re.compile(r"\.\d+(?=\.|$)")

# Describe calls whose listing leaves out resources too new to be seen: the response's set element, the path to
# each item below it, and the item's id element (local names of moto's XML, which are AWS's).
LISTINGS = {
    "DescribeVpcs": ("vpcSet", "vpcId"),
    "DescribeSubnets": ("subnetSet", "subnetId"),
    "DescribeSecurityGroups": ("securityGroupInfo", "groupId"),
    "DescribeRouteTables": ("routeTableSet", "routeTableId"),
    "DescribeNetworkAcls": ("networkAclSet", "networkAclId"),
    "DescribeVpcEndpoints": ("vpcEndpointSet", "vpcEndpointId"),
    "DescribeVpcPeeringConnections": ("vpcPeeringConnectionSet", "vpcPeeringConnectionId"),
    "DescribeInstanceStatus": ("instanceStatusSet", "instanceId"),
    "DescribeInstances": ("reservationSet", "instanceId"),  # items are reservations; see _drop_instances
}

INTERNAL_ACCESS_KEYS = {"ak"}  # moto's Step Functions engine (identities._boto_client_for)


def born(backend: EC2Backend, resource_id: str, like: str | None = None) -> None:
    """A resource was just created in `backend`'s account and region: it stays invisible to clients for its own
    consistency window (drawn for its id), or exactly as long as resource `like` (what AWS creates with a VPC is born
    with the VPC). A resource already known keeps its window (a ClientToken retry returns the original)."""
    visible_at = extras_of(backend).visible_at
    if resource_id in visible_at:
        return
    if like is not None:
        if like in visible_at:
            visible_at[resource_id] = visible_at[like]
        return
    w = world()
    visible_at[resource_id] = w.now() + w.config.delay("consistency_window", key=resource_id)


def too_new(resource_id: str) -> bool:
    """True while a just-created resource is still invisible to other API calls. By id, whoever asks: ids are unique,
    and an accepter naming a requester's new peering meets the same window."""
    now = world().now()
    return any(now < extras.visible_at.get(resource_id, now) for extras in all_extras())


def internal(access_key: str | None) -> bool:
    return access_key in INTERNAL_ACCESS_KEYS


def kind_of(value: str, allowed: tuple[str, ...] = ALL) -> str | None:
    for prefix in allowed:
        if value.startswith(prefix):
            return prefix
    return None


def named_ids(params: dict[str, list[str]]):
    """(parameter, id, kind) for every resource id the request names."""
    for name, values in params.items():
        allowed = PARAMS.get(_NUMBER.sub(".N", name))
        if not allowed:
            continue
        for value in values:
            kind = kind_of(value, allowed)
            if kind:
                yield name, value, kind


def not_found(resource_id: str) -> tuple[str, str]:
    kind = kind_of(resource_id)
    assert kind is not None, resource_id  # only ids of a kind in NOT_FOUND are too new (born())
    code, message = NOT_FOUND[kind]
    return code, message.format(resource_id)


def refusal(action: str, params: dict[str, list[str]]) -> tuple[str, str] | None:
    """(code, message) when the request names a resource that has not propagated yet; None otherwise."""
    if action == "DeleteVpcEndpoints":  # a bulk delete reports each id apart (see split_endpoint_deletion)
        return None
    for _, value, _ in named_ids(params):
        if too_new(value):
            return not_found(value)
    return None


# ---- DeleteVpcEndpoints: a bulk request answers per id ----------------------------------------------------------


def split_endpoint_deletion(params: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[str]]:
    """AWS answers DeleteVpcEndpoints with an `unsuccessful` item per id it cannot delete (EC2 API Reference,
    InvalidVpcEndpointId.NotFound: "If you are performing a bulk request that is partially successful or
    unsuccessful, the response includes a list of the unsuccessful items"). Returns the request without the ids
    too new to be seen (renumbered), and those ids."""
    kept: list[str] = []
    refused: list[str] = []
    other: dict[str, list[str]] = {}
    for name, values in params.items():
        if _NUMBER.sub(".N", name) == "VpcEndpointId.N":
            for value in values:
                (refused if too_new(value) else kept).append(value)
        else:
            other[name] = values
    for n, value in enumerate(kept, 1):
        other[f"VpcEndpointId.{n}"] = [value]
    return other, refused


def endpoint_deletion_response(refused: list[str]) -> bytes:
    items = "".join(
        f"<item><error><code>{not_found(v)[0]}</code><message>{not_found(v)[1]}</message></error>"
        f"<resourceId>{v}</resourceId></item>" for v in refused)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<DeleteVpcEndpointsResponse '
            f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{uuid.uuid4()}</requestId>'
            f"<unsuccessful>{items}</unsuccessful></DeleteVpcEndpointsResponse>").encode()


def encode(params: dict[str, list[str]]) -> bytes:
    return urllib.parse.urlencode([(k, v) for k, values in params.items() for v in values]).encode()


# ---- listings -----------------------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _drop_instances(reservations) -> bool:
    changed = False
    for reservation in list(reservations):
        instances = _child(reservation, "instancesSet")
        if instances is None:
            continue
        for item in list(instances):
            ident = _child(item, "instanceId")
            if ident is not None and too_new(ident.text or ""):
                instances.remove(item)
                changed = True
        if len(instances) == 0 and changed:
            reservations.remove(reservation)
    return changed


def filter_listing(action: str, body: bytes) -> bytes | None:
    """moto's XML for a listing without the resources still invisible; None when nothing had to go."""
    if action not in LISTINGS or not any(extras.visible_at for extras in all_extras()):
        return None
    set_name, id_name = LISTINGS[action]
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    listing = _child(root, set_name)
    if listing is None:
        return None
    if action == "DescribeInstances":
        changed = _drop_instances(listing)
    else:
        changed = False
        for item in list(listing):
            ident = _child(item, id_name)
            if ident is not None and too_new(ident.text or ""):
                listing.remove(item)
                changed = True
    if not changed:
        return None
    if root.tag.startswith("{"):
        ET.register_namespace("", root.tag[1:].split("}", 1)[0])
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


# ---- births: every create of a kind above starts its resource's window ------------------------------------------

_inside = threading.local()  # depth of moto's create_vpc: what it creates is born with the VPC


def _is_default_vpc(backend, vpc_id: str | None) -> bool:
    vpc = backend.vpcs.get(vpc_id) if vpc_id else None
    return bool(getattr(vpc, "is_default", False))


def _births(name: str, vpc_of) -> None:
    """Wrap EC2Backend.<name>: the resource it returns is born (unless moto made it for the default VPC, which on
    AWS exists long before any call, or inside create_vpc, where it is born with the VPC)."""

    def create(original, backend, *args, **kwargs):
        resource = original(backend, *args, **kwargs)
        if getattr(_inside, "depth", 0) == 0 and not _is_default_vpc(backend, vpc_of(resource)):
            born(backend, resource.id)
        return resource

    wrap(EC2Backend, name)(create)


def _create_vpc(original, backend, *args, **kwargs):
    _inside.depth = getattr(_inside, "depth", 0) + 1
    try:
        vpc = original(backend, *args, **kwargs)
    finally:
        _inside.depth -= 1
    if vpc.is_default or _inside.depth:
        return vpc
    born(backend, vpc.id)
    # AWS creates the main route table, the default network ACL and the default security group with the VPC
    for table in backend.route_tables.values():
        if table.vpc_id == vpc.id:
            born(backend, table.id, like=vpc.id)
    for acl in backend.network_acls.values():
        if acl.vpc_id == vpc.id:
            born(backend, acl.id, like=vpc.id)
    for group in backend.groups.get(vpc.id, {}).values():
        born(backend, group.id, like=vpc.id)
    return vpc


def _run_instances(original, backend, *args, **kwargs):
    reservation = original(backend, *args, **kwargs)
    for instance in reservation.instances:
        born(backend, instance.id)
    return reservation


@once
def install() -> None:
    """Wrap moto's creates (after ec2_patches, whose wrappers of run_instances, create_vpc_peering_connection and
    create_vpc_endpoint these wrap in turn). Instances and peerings are also born in ec2_patches: born() keeps the
    first window."""
    wrap(EC2Backend, "create_vpc")(_create_vpc)
    _births("create_subnet", lambda s: s.vpc_id)
    _births("create_security_group", lambda g: g.vpc_id)
    _births("create_route_table", lambda t: t.vpc_id)
    _births("create_network_acl", lambda a: a.vpc_id)
    _births("create_vpc_endpoint", lambda e: e.vpc_id)
    _births("create_vpc_peering_connection", lambda p: None)
    wrap(EC2Backend, "run_instances")(_run_instances)
