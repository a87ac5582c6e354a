"""Every live resource of the simulated account, with its tags: what tests and users check to prove nothing leaked."""

from __future__ import annotations

from peerlab_local import ssm
from peerlab_local.core.world import all_ec2, world
from peerlab_local.ssm import agent

GONE = {"terminated", "deleted", "rejected", "failed", "expired"}


def _tags(resource) -> dict[str, str]:
    try:
        return {t["key"]: t["value"] for t in resource.get_tags()}
    except Exception:  # noqa: BLE001 - resources without tag support
        return {}


def resources(include_default: bool = False, tag: str | None = None) -> dict:
    """{"resources": [{type, id, state, vpc_id, region, tags}...]}: live EC2 resources of every account/region.

    The default VPC and its subnets/groups/tables (created by moto in every region) are left out unless asked for.
    `tag` ("key" or "key=value") keeps only resources with that tag.
    """
    out = []
    for account, region, backend in all_ec2():
        default_vpcs = {v.id for v in backend.vpcs.values() if v.is_default}

        # this iteration's account, region and default VPCs bound as defaults (B023: a closure in a loop)
        def add(kind, resource, state="available", vpc_id=None, extra=None, account=account, region=region,
                default_vpcs=default_vpcs):
            if not include_default and vpc_id in default_vpcs:
                return
            item = {"type": kind, "id": resource.id, "state": state, "vpc_id": vpc_id, "account": account,
                    "region": region, "tags": _tags(resource)}
            delays = world().delays_of(resource.id)
            if delays:
                item["delays"] = delays  # the local AWS's timing of its transitions (World.delays_of)
            item.update(extra or {})
            out.append(item)

        for vpc in backend.vpcs.values():
            add("vpc", vpc, vpc.state, vpc.id, {"cidr": vpc.cidr_block})
        for subnet in backend.subnets_iter() if hasattr(backend, "subnets_iter") else \
                [s for az in backend.subnets.values() for s in az.values()]:
            add("subnet", subnet, subnet.state, subnet.vpc_id, {"cidr": subnet.cidr_block,
                "availability_zone": subnet.availability_zone, "availability_zone_id": subnet.availability_zone_id})
        for instance in backend.all_instances():
            if instance._state.name != "terminated":
                online, why = ssm.status(instance)
                running_agent = agent.agent_of(instance)  # booting / hibernating (next ping, last failure) / online
                add("instance", instance, instance._state.name, instance.vpc_id,
                    {"private_ip": instance.private_ip, "ssm": why,
                     "agent": running_agent.view() if running_agent else None})
        for groups in backend.groups.values():
            for group in groups.values():
                if group.name != "default":
                    add("security-group", group, "available", group.vpc_id, {"name": group.name})
        for pcx in backend.vpc_pcxs.values():
            if pcx._status.code not in GONE and (pcx.vpc.ec2_backend is backend):
                add("vpc-peering-connection", pcx, pcx._status.code, pcx.vpc.id,
                    {"peer_vpc_id": pcx.peer_vpc.id})
        for endpoint in backend.vpc_end_points.values():
            if endpoint.state not in GONE:
                add("vpc-endpoint", endpoint, endpoint.state, endpoint.vpc_id, {"service": endpoint.service_name})
        for acl in backend.network_acls.values():
            if not acl.default:  # a VPC's default ACL goes with it, as its main route table does
                add("network-acl", acl, "available", acl.vpc_id)
        for table in backend.route_tables.values():
            if table.main_association_id is None:
                add("route-table", table, "available", table.vpc_id)
        for igw in backend.internet_gateways.values():
            add("internet-gateway", igw, "available", igw.vpc.id if igw.vpc else None)
        for nat in backend.nat_gateways.values():
            if getattr(nat, "state", "available") not in GONE:
                add("nat-gateway", nat, getattr(nat, "state", "available"), getattr(nat, "vpc_id", None))
        for eni in backend.enis.values():
            add("network-interface", eni, getattr(eni, "status", "in-use"), getattr(eni.subnet, "vpc_id", None))
    if tag:
        key, _, value = tag.partition("=")
        out = [r for r in out if key in r["tags"] and (not value or r["tags"][key] == value)]
    return {"resources": out, "count": len(out)}
