"""EC2 behaviour moto lacks and this workflow depends on: asynchronous states, deletions that AWS refuses,
eventual consistency on new resources, ClientToken idempotency, and security-group/VPC checks."""

from __future__ import annotations

import ipaddress
import itertools
import threading
from collections.abc import Callable

from moto.core.responses import ActionResult
from moto.ec2.exceptions import DependencyViolationError, EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Instance
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection
from moto.ec2.responses.vpc_peering_connections import VPCPeeringConnections
from moto.ec2.utils import generic_filter

from peerlab_local.core.patching import once, wrap
from peerlab_local.core.world import ec2, world
from peerlab_local.ec2 import consistency, peering_rules
from peerlab_local.ec2.models import BLACKHOLE_STATES

# Who is told when an instance becomes `running` (the SSM Agent boots then: ssm/__init__.py registers it), so that
# EC2 does not import the services that run on its instances.
_RUNNING_LISTENERS: list[Callable[[Instance], None]] = []


def on_instance_running(listener: Callable[[Instance], None]) -> None:
    if listener not in _RUNNING_LISTENERS:
        _RUNNING_LISTENERS.append(listener)


def _set_instance_state(instance: Instance, name: str, code: int) -> None:
    instance._state.name = name
    instance._state.code = code


def _live_instances(backend: EC2Backend):
    for instance in backend.all_instances():
        if instance._state.name != "terminated":
            yield instance


def _instance_groups(instance: Instance) -> set[str]:
    return {group.id for group in instance.security_groups or []}


# --- instances -------------------------------------------------------------------------------------------------


def _run_instances(original, backend, image_id, count, user_data, security_group_names, **kwargs):
    token = kwargs.get("client_token")
    if token and token != "ABCDE":  # moto's placeholder when the caller sent none
        for reservation in backend.reservations.values():
            if reservation.instances and getattr(reservation.instances[0], "client_token", None) == token:
                return reservation  # AWS: the same ClientToken returns the original reservation, launches nothing
    subnet_id = kwargs.get("subnet_id")
    if subnet_id:
        subnet = backend.get_subnet(subnet_id)
        for group_id in kwargs.get("security_group_ids") or []:
            group = backend.get_security_group_from_id(group_id)
            if group is not None and group.vpc_id != subnet.vpc_id:
                raise EC2ClientError(
                    "InvalidParameter",
                    f"Security group {group_id} and subnet {subnet_id} belong to different networks.",
                )
    reservation = original(backend, image_id, count, user_data, security_group_names, **kwargs)
    w = world()
    for instance in reservation.instances:
        consistency.born(backend, instance.id)
        _set_instance_state(instance, "pending", 0)

        def become_running(instance=instance):
            if instance._state.name == "pending":
                _set_instance_state(instance, "running", 16)
                for listener in _RUNNING_LISTENERS:
                    listener(instance)  # its SSM Agent boots and pings (ssm/agent.py)

        w.after("instance_pending", become_running, key=instance.id)
    return reservation


def _terminate(original, instance):
    previous = original(instance)  # moto: state terminated, network interfaces released
    # AWS deletes the interfaces RunInstances created (DeleteOnTermination); moto leaves them in the subnet
    for index, nic in list(instance.nics.items()):
        if index == 0 or getattr(nic, "delete_on_termination", False):
            instance.ec2_backend.enis.pop(nic.id, None)
    w = world()
    if w.config.delay("instance_shutting_down", key=instance.id) > 0:
        _set_instance_state(instance, "shutting-down", 32)
        w.after("instance_shutting_down", lambda: _set_instance_state(instance, "terminated", 48), key=instance.id)
    return previous


def _modify_groups(original, backend, instance_id, new_group_id_list):
    instance = backend.get_instance(instance_id)
    for group_id in new_group_id_list:
        group = backend.get_security_group_from_id(group_id)
        if group is None:
            raise EC2ClientError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
        if group.vpc_id != instance.vpc_id:
            raise EC2ClientError(
                "InvalidGroup.NotFound",
                f"The security group '{group_id}' does not exist in VPC '{instance.vpc_id}'",
            )
    result = original(backend, instance_id, new_group_id_list)
    # AWS replaces the groups of the primary network interface; moto keeps the old ones there too.
    primary = instance.nics.get(0)
    if primary is not None:
        primary._group_set = list(instance.security_groups)
    return result


# --- VPC peering ----------------------------------------------------------------------------------------------


def _create_peering(original, backend, vpc, peer_vpc, tags=None):
    pcx = original(backend, vpc, peer_vpc, tags)
    w = world()
    consistency.born(backend, pcx.id)
    if peering_rules.overlapping(pcx):  # AWS: the request is made, then ends failed (peering_rules.py)
        peering_rules.fail_overlapping(pcx)
        return pcx
    peering_rules.expire_unaccepted(pcx)  # AWS: an unaccepted request expires after 7 days
    if w.config.delay("peering_initiating", key=pcx.id) > 0:
        pcx._status.initiating()

        def pending():
            if pcx._status.code == "initiating-request":
                pcx._status.pending()

        w.after("peering_initiating", pending, key=pcx.id)
    return pcx


def _accept_peering(original, backend, vpc_pcx_id):
    pcx = original(backend, vpc_pcx_id)  # validates the transition, sets active
    w = world()
    if w.config.delay("peering_provisioning", key=pcx.id) > 0:
        pcx._status.code, pcx._status.message = "provisioning", "Provisioning"

        def active():
            if pcx._status.code == "provisioning":
                pcx._status.accept()

        w.after("peering_provisioning", active, key=pcx.id)
    return pcx


# --- VPC endpoints --------------------------------------------------------------------------------------------


def _create_endpoint(original, backend, *args, **kwargs):
    token = kwargs.get("client_token")
    if token:
        for endpoint in backend.vpc_end_points.values():
            if endpoint.client_token == token and endpoint.state not in ("deleted", "deleting"):
                return endpoint
    endpoint = original(backend, *args, **kwargs)
    # moto gives endpoint interfaces random 10.x addresses; AWS takes a free one from the subnet
    for eni_id in endpoint.network_interface_ids:
        eni = backend.enis.get(eni_id)
        if eni is not None and eni.subnet is not None:
            eni.private_ip_address = _free_address(backend, eni.subnet)
            for entry in getattr(eni, "private_ip_addresses", None) or []:
                if entry.get("Primary"):
                    entry["PrivateIpAddress"] = eni.private_ip_address
    w = world()
    if w.config.delay("endpoint_pending", key=endpoint.id) > 0:
        endpoint.state = "pending"

        def available():
            if endpoint.state == "pending":
                endpoint.state = "available"

        w.after("endpoint_pending", available, key=endpoint.id)
    return endpoint


def _free_address(backend, subnet) -> str:
    used = {eni.private_ip_address for eni in backend.enis.values()}
    network = ipaddress.ip_network(subnet.cidr_block)
    for host in itertools.islice(network.hosts(), 3, None):  # AWS reserves the first four addresses (.0 to .3)
        if str(host) not in used:
            return str(host)
    raise EC2ClientError("InsufficientFreeAddressesInSubnet", f"no free address in {subnet.id}")


def _delete_endpoints(original, backend, vpce_ids=None):
    w = world()
    unsuccessful = []
    for vpce_id in vpce_ids or []:
        endpoint = backend.vpc_end_points.get(vpce_id)
        if endpoint is None or endpoint.state == "deleted":
            unsuccessful.append(vpce_id)
            continue
        if endpoint.state == "deleting":
            continue
        if w.config.delay("endpoint_deleting", key=vpce_id) > 0:
            endpoint.state = "deleting"
            # its network interfaces stay until the deletion completes, so the subnet stays in use meanwhile
            def deleted(vpce_id: str = vpce_id) -> None:
                original(backend, [vpce_id])

            w.after("endpoint_deleting", deleted, key=vpce_id)
        else:
            original(backend, [vpce_id])
    return None


# --- deletions refused like AWS -------------------------------------------------------------------------------


def _endpoints_alive(backend: EC2Backend):
    return [e for e in backend.vpc_end_points.values() if e.state != "deleted"]


def _delete_subnet(original, backend, subnet_id):
    subnet = backend.get_subnet(subnet_id)
    users = [i.id for i in _live_instances(backend) if i.subnet_id == subnet_id]
    users += [eni.id for eni in backend.enis.values() if getattr(eni.subnet, "id", None) == subnet_id]
    users += [e.id for e in _endpoints_alive(backend) if subnet_id in (e.subnet_ids or [])]
    if users:
        raise DependencyViolationError(f"The subnet '{subnet.id}' has dependencies and cannot be deleted.")
    deleted = original(backend, subnet_id)
    # The subnet's network ACL association goes with it (moto keeps it, so its ACL could never be deleted again).
    # AWS: an ACL's Associations are "any associations between the network ACL and your subnets" (EC2 API Reference,
    # NetworkAcl); a deleted subnet is none of them. No AWS page says so in as many words.
    for acl in backend.network_acls.values():
        for association_id, association in list(acl._associations.items()):
            if association.subnet_id == subnet_id:
                del acl._associations[association_id]
    return deleted


def group_users(backend: EC2Backend, group_id: str) -> list[str]:
    """What keeps a security group from being deleted: instances, network interfaces, endpoints, other groups."""
    users = [i.id for i in _live_instances(backend) if group_id in _instance_groups(i)]
    users += [eni.id for eni in backend.enis.values() if group_id in {g.id for g in eni._group_set}]
    users += [e.id for e in _endpoints_alive(backend) if group_id in (e.security_group_ids or [])]
    for groups in backend.groups.values():
        for group in groups.values():
            if group.id == group_id:
                continue
            for rule in list(group.ingress_rules) + list(group.egress_rules):
                if (rule.source_group or {}).get("GroupId") == group_id:
                    users.append(group.id)
    return users


_internal = threading.local()  # set while moto's own DeleteVpc removes the VPC's default group


def _delete_group(original, backend, name=None, group_id=None):
    group = backend.get_security_group_from_id(group_id) if group_id else None
    if group is not None and not getattr(_internal, "deleting_vpc", False):
        if group.is_default or group.name == "default":
            raise EC2ClientError("CannotDelete",
                                 f'the specified group: "{group_id}" name: "default" cannot be deleted by a user')
        if group_users(backend, group.id):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return original(backend, name=name, group_id=group_id)


def _delete_network_acl(original, backend, network_acl_id):
    """AWS: "You can't delete the ACL if it's associated with any subnets. You can't delete the default network ACL."
    (EC2 API Reference, DeleteNetworkAcl). The codes: DependencyViolation for an ACL in use, as AWS answers for the
    other resources in use (moto says so too, with its own wording); for the default ACL, InvalidParameterValue
    "cannot delete default network ACL acl-..." - what public cleanup code written against AWS expects (and
    Eucalyptus, an AWS-compatible cloud, answers); AWS documents neither message. moto deletes a default ACL that no
    subnet uses."""
    acl = backend.network_acls.get(network_acl_id)
    if acl is not None and not getattr(_internal, "deleting_vpc", False):
        if acl.default:
            raise EC2ClientError("InvalidParameterValue", f"cannot delete default network ACL {network_acl_id}")
        if acl._associations:
            # AWS's wording for a resource in use ("The vpc '...' has dependencies and cannot be deleted."), with
            # its noun for an ACL ("The networkAcl ID '...' does not exist", InvalidNetworkAclID.NotFound)
            raise DependencyViolationError(f"The networkAcl '{network_acl_id}' has dependencies and cannot be deleted.")
    return original(backend, network_acl_id)


def _delete_vpc(original, backend, vpc_id):
    vpc = backend.get_vpc(vpc_id)
    refusal = DependencyViolationError(f"The vpc '{vpc.id}' has dependencies and cannot be deleted.")
    if backend.describe_subnets(filters={"vpc-id": vpc_id}):
        raise refusal
    if any(g.vpc_id == vpc_id and not (g.is_default or g.name == "default")
           for groups in backend.groups.values() for g in groups.values()):
        raise refusal
    if any(e.vpc_id == vpc_id for e in _endpoints_alive(backend)):
        raise refusal
    # a network ACL of its own: DeleteVpc deletes only "the default security group, network ACL, and route table for
    # the VPC" (EC2 API Reference, DeleteVpc); AWS lists network ACLs among the components to delete first (AWS
    # re:Post Knowledge Center, "troubleshoot-dependency-error-delete-vpc"). moto deletes the VPC.
    if any(acl.vpc_id == vpc_id and not acl.default for acl in backend.network_acls.values()):
        raise refusal
    for igw in backend.internet_gateways.values():
        if igw.vpc is not None and igw.vpc.id == vpc_id:
            raise refusal
    for pcx in backend.vpc_pcxs.values():
        if pcx._status.code not in BLACKHOLE_STATES and vpc_id in (pcx.vpc.id, pcx.peer_vpc.id):
            raise refusal
    _internal.deleting_vpc = True
    try:
        deleted = original(backend, vpc_id)
        # "When you delete the VPC, it deletes the default ... network ACL" (DeleteVpc); moto leaves it behind
        for acl_id in [a.id for a in backend.network_acls.values() if a.vpc_id == vpc_id and a.default]:
            backend.network_acls.pop(acl_id, None)
        return deleted
    finally:
        _internal.deleting_vpc = False


# --- security group rules that name a group of another account over a peering ----------------------------------


def _add_source_group(original, backend, source_groups, vpc_id):
    """AWS lets a rule name a security group of another account (UserId + GroupId) in the same region when an
    active peering connects the two VPCs; moto looks the group up in the caller's account only."""
    local, foreign = [], []
    for item in source_groups or []:
        owner = item.get("UserId")
        if owner and owner != backend.account_id and "GroupId" in item:
            foreign.append(item)
        else:
            local.append(item)
    accepted = original(backend, local, vpc_id)
    for item in foreign:
        other = ec2(item["UserId"], backend.region_name)
        group = other.get_security_group_from_id(item["GroupId"])
        # moto passes no vpc_id when the rule is added by group id: then any of this account's VPCs will do
        mine = {vpc_id} if vpc_id else set(backend.vpcs)
        peered = group is not None and any(
            pcx._status.code == "active" and group.vpc_id in (pcx.vpc.id, pcx.peer_vpc.id)
            and ({pcx.vpc.id, pcx.peer_vpc.id} - {group.vpc_id}) & mine
            for pcx in backend.vpc_pcxs.values()
        )
        if not peered:
            raise EC2ClientError(
                "InvalidGroup.NotFound",
                f"You have specified a security group '{item['GroupId']}' of account {item['UserId']} that is "
                f"not in a VPC peered with this account's ({backend.account_id})",
            )
        item.setdefault("OwnerId", item["UserId"])
        accepted.append(item)
    return accepted


# --- DescribeVpcPeeringConnections filters --------------------------------------------------------------------
# moto ignores every filter of this call and returns all peerings: with two labs in one local AWS, one lab's
# teardown (which finds its peering by tag) deleted the other's. AWS filters as documented; so do we.

_PEERING_FILTERS = {
    "vpc-peering-connection-id": lambda p: p.id,
    "status-code": lambda p: p._status.code,
    "requester-vpc-info.vpc-id": lambda p: p.vpc.id,
    "requester-vpc-info.cidr-block": lambda p: p.vpc.cidr_block,
    "requester-vpc-info.owner-id": lambda p: p.vpc.owner_id,
    "accepter-vpc-info.vpc-id": lambda p: p.peer_vpc.id,
    "accepter-vpc-info.cidr-block": lambda p: p.peer_vpc.cidr_block,
    "accepter-vpc-info.owner-id": lambda p: p.peer_vpc.owner_id,
}


def _peering_filter_value(original, self, filter_name, method_name=None):
    if filter_name in _PEERING_FILTERS:
        return _PEERING_FILTERS[filter_name](self)
    # tag:<key>, tag-key, tag-value; anything else raises moto's FilterNotImplementedError, as it should
    return original(self, filter_name, "DescribeVpcPeeringConnections")


def _describe_peerings_filtered(original, self):
    result = original(self)
    filters = self._filters_from_querystring()
    if not filters:
        return result
    ids = self._get_param("VpcPeeringConnectionIds", [])
    found = self.ec2_backend.describe_vpc_peering_connections(vpc_peering_ids=ids)
    return ActionResult({"VpcPeeringConnections": generic_filter(filters, found)})


@once
def install() -> None:
    """Apply the EC2 patches (after peering_rules' and route_tables': ec2/__init__.py); zones, quotas and consistency
    wrap these in turn."""
    wrap(EC2Backend, "run_instances")(_run_instances)
    wrap(Instance, "terminate")(_terminate)
    wrap(EC2Backend, "modify_instance_security_groups")(_modify_groups)
    wrap(EC2Backend, "create_vpc_peering_connection")(_create_peering)
    wrap(EC2Backend, "accept_vpc_peering_connection")(_accept_peering)
    wrap(EC2Backend, "create_vpc_endpoint")(_create_endpoint)
    wrap(EC2Backend, "delete_vpc_endpoints")(_delete_endpoints)
    wrap(EC2Backend, "delete_subnet")(_delete_subnet)
    wrap(EC2Backend, "delete_security_group")(_delete_group)
    wrap(EC2Backend, "delete_vpc")(_delete_vpc)
    wrap(EC2Backend, "delete_network_acl")(_delete_network_acl)
    wrap(EC2Backend, "_add_source_group")(_add_source_group)
    wrap(VPCPeeringConnection, "get_filter_value")(_peering_filter_value)
    wrap(VPCPeeringConnections, "describe_vpc_peering_connections")(_describe_peerings_filtered)
