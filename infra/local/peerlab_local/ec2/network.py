"""Reachability of one private IP from an instance, computed from the EC2 state (nothing is sent anywhere).

A packet from instance S to address D needs, in order (the hops a diagnosis names):
  route   - S's subnet route table (explicit association, else the VPC's main table) routes D: `local` within the
            VPC, or an *active* peering whose other VPC holds D (longest prefix wins);
  return  - D's subnet route table routes S's address back the same way;
  sg-out  - one of S's security groups allows the traffic out to D (by CIDR or by one of D's groups);
  sg-in   - one of D's security groups allows it in from S (by CIDR, or by one of S's groups: not across regions);
  nacl    - S's subnet ACL lets it out and the reply in; D's subnet ACL lets it in and the reply out.
Security groups are stateful (replies pass); network ACLs are not.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import TYPE_CHECKING

from peerlab_local.core.world import all_ec2
from peerlab_local.ec2.models import BLACKHOLE_STATES, vpc_cidrs

if TYPE_CHECKING:
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.subnets import Subnet
    from moto.ec2.models.vpcs import VPC

ICMP = "icmp"
TCP = "tcp"


@dataclasses.dataclass
class Verdict:
    reachable: bool
    hop: str  # "ok" or the first hop that blocks: no-host, route, return, sg-out, sg-in, nacl
    reason: str


@dataclasses.dataclass
class Endpoint:
    backend: EC2Backend
    region: str
    ip: str
    subnet: Subnet
    vpc: VPC
    groups: list  # security group objects


def _ip(text: str):
    return ipaddress.ip_address(text)


def _net(text: str):
    return ipaddress.ip_network(text, strict=False)


def route_table_for(backend, subnet):
    main = None
    for table in backend.route_tables.values():
        if table.vpc_id != subnet.vpc_id:
            continue
        if subnet.id in table._associations.values():
            return table
        if table.main_association_id is not None:
            main = table
    return main


def find_endpoint_by_instance(instance) -> Endpoint:
    backend = instance.ec2_backend
    subnet = backend.get_subnet(instance.subnet_id)
    return Endpoint(backend, backend.region_name, instance.private_ip, subnet,
                    backend.get_vpc(subnet.vpc_id), list(instance.security_groups or []))


def find_endpoints_by_ip(ip: str, region: str | None = None) -> list[Endpoint]:
    """The running instances that hold a private IP, in every account/region backend: private addresses repeat
    across VPCs (two labs with the tutorial's CIDRs both have 10.1.1.4)."""
    found = []
    for _, reg, backend in all_ec2():
        if region and reg != region:
            continue
        for instance in backend.all_instances():
            if instance._state.name == "running" and instance.private_ip == ip:
                endpoint = find_endpoint_by_instance(instance)
                if endpoint is not None:
                    found.append(endpoint)
    return found


def destination(source: Endpoint, ip: str) -> Endpoint | None:
    """The instance a packet from `source` to `ip` reaches: a private address means something only where the
    source's routes send it (its own VPC for the local route, the peer VPC through a peering), so among the
    instances holding `ip` the one the source can reach is the destination; if none can be reached, the one in
    the source's VPC, else the first (the verdict then names the hop that blocks)."""
    found = find_endpoints_by_ip(ip)
    for candidate in found:
        if reach(source, candidate).reachable:
            return candidate
    for candidate in found:
        if candidate.vpc.id == source.vpc.id:
            return candidate
    return found[0] if found else None


def _route_target(table, dest: str):
    """The most specific active route for `dest` in `table`: ('local'|'pcx'|'other', route) or None."""
    best, best_len = None, -1
    for route in table.routes:
        if not route.destination_cidr_block:
            continue
        net = _net(route.destination_cidr_block)
        if _ip(dest) in net and net.prefixlen > best_len:
            best, best_len = route, net.prefixlen
    return best


def _describe_route(route) -> str:
    if route is None:
        return "none"
    if route.local:
        return "local"
    if route.vpc_pcx is not None:
        return route.vpc_pcx.id
    for attr in ("gateway", "nat_gateway", "transit_gateway", "interface", "instance"):
        target = getattr(route, attr, None)
        if target is not None:
            return getattr(target, "id", str(target))
    return "blackhole"


def _routes_to(src: Endpoint, dst: Endpoint) -> tuple[bool, str]:
    table = route_table_for(src.backend, src.subnet)
    if table is None:
        return False, f"subnet {src.subnet.id} has no route table"
    route = _route_target(table, dst.ip)
    if route is None:
        return False, f"route table {table.id} has no route to {dst.ip}"
    if route.local:
        if src.vpc.id == dst.vpc.id:
            return True, "local"
        return False, f"route table {table.id} routes {dst.ip} locally, but it is in {dst.vpc.id}, not {src.vpc.id}"
    pcx = route.vpc_pcx
    if pcx is None:
        return False, f"route table {table.id} sends {dst.ip} to {_describe_route(route)}, not to a peering connection"
    if pcx._status.code in BLACKHOLE_STATES:  # DescribeRouteTables shows this route as blackhole
        return False, (f"route table {table.id} sends {dst.ip} to peering {pcx.id} (route "
                       f"{route.destination_cidr_block}, state blackhole): the peering is {pcx._status.code}")
    if pcx._status.code != "active":  # a blackhole too until the peering is active (peering_rules.route_state)
        return False, (f"route table {table.id} sends {dst.ip} to peering {pcx.id} (route "
                       f"{route.destination_cidr_block}, state blackhole), which is {pcx._status.code}, not active")
    other = pcx.peer_vpc if pcx.vpc.id == src.vpc.id else pcx.vpc
    if src.vpc.id not in (pcx.vpc.id, pcx.peer_vpc.id) or other.id != dst.vpc.id:
        return False, (f"route table {table.id} sends {dst.ip} to peering {pcx.id}, which does not connect to "
                       f"{dst.vpc.id}")
    if not any(_ip(dst.ip) in _net(c) for c in vpc_cidrs(other)):
        return False, f"peering {pcx.id} does not carry {dst.ip}"
    return True, pcx.id


def _sg_rule_matches(rule, protocol, port, peer: Endpoint, peer_groups_usable: bool) -> bool:
    proto = (rule.ip_protocol or "-1").lower()
    if proto not in ("-1", "all"):
        if protocol == ICMP and proto not in ("icmp", "1"):
            return False
        if protocol == TCP:
            if proto not in ("tcp", "6"):
                return False
            if rule.from_port is not None and not (int(rule.from_port) <= port <= int(rule.to_port)):
                return False
        if protocol == ICMP and rule.from_port not in (None, -1) and int(rule.from_port) != 8:
            return False  # an ICMP rule for a type other than echo request
    cidr = (rule.ip_range or {}).get("CidrIp")
    if cidr:
        return _ip(peer.ip) in _net(cidr)
    group_id = (rule.source_group or {}).get("GroupId")
    if group_id:
        return peer_groups_usable and group_id in {g.id for g in peer.groups}
    return False


def _sg_allows(groups, egress: bool, protocol, port, peer: Endpoint, peer_groups_usable: bool) -> bool:
    for group in groups:
        rules = group.egress_rules if egress else group.ingress_rules
        if any(_sg_rule_matches(rule, protocol, port, peer, peer_groups_usable) for rule in rules):
            return True
    return False


def network_acl_for(backend, subnet):
    default = None
    for acl in backend.network_acls.values():
        if acl.vpc_id != subnet.vpc_id:
            continue
        if any(getattr(a, "subnet_id", None) == subnet.id for a in acl.associations):
            return acl
        if acl.default:
            default = acl
    return default


def _acl_allows(acl, egress: bool, peer_ip: str, protocol: str, port: int | None) -> bool:
    if acl is None:
        return True
    entries = sorted((e for e in acl.entries if bool(e.egress) == egress), key=lambda e: int(e.rule_number))
    for entry in entries:
        if not entry.cidr_block or _ip(peer_ip) not in _net(entry.cidr_block):
            continue
        proto = str(entry.protocol).lower()
        if proto not in ("-1", "all"):
            if protocol == ICMP and proto not in ("1", "icmp"):
                continue
            if protocol == TCP:
                if proto not in ("6", "tcp"):
                    continue
                lo, hi = entry.port_range_from, entry.port_range_to
                if lo is not None and port is not None and not (int(lo) <= port <= int(hi)):
                    continue
        return entry.rule_action == "allow"
    return False


def reach(src: Endpoint, dst: Endpoint, protocol: str = ICMP, port: int | None = None) -> Verdict:
    ok, why = _routes_to(src, dst)
    if not ok:
        return Verdict(False, "route", why)
    ok, back = _routes_to(dst, src)
    if not ok:
        return Verdict(False, "return", f"no way back: {back}")
    same_region = src.region == dst.region
    if not _sg_allows(src.groups, True, protocol, port, dst, same_region):
        names = ", ".join(g.id for g in src.groups) or "none"
        return Verdict(False, "sg-out", f"no security group of the source ({names}) allows {protocol} out to {dst.ip}")
    if not _sg_allows(dst.groups, False, protocol, port, src, same_region):
        names = ", ".join(g.id for g in dst.groups) or "none"
        return Verdict(False, "sg-in",
                       f"no security group of the destination ({names}) admits {protocol} from {src.ip}")
    src_acl, dst_acl = network_acl_for(src.backend, src.subnet), network_acl_for(dst.backend, dst.subnet)
    checks = [
        (src_acl, True, dst.ip, "leaving", src.subnet),
        (dst_acl, False, src.ip, "entering", dst.subnet),
        (dst_acl, True, src.ip, "leaving (reply)", dst.subnet),
        (src_acl, False, dst.ip, "entering (reply)", src.subnet),
    ]
    for acl, egress, peer, direction, subnet in checks:
        if not _acl_allows(acl, egress, peer, protocol, port):
            return Verdict(False, "nacl", f"network ACL {acl.id} denies {protocol} {direction} subnet {subnet.id}")
    return Verdict(True, "ok", "every hop allows it")
