"""Managed instances: which instances an account's SSM sees Online (DescribeInstanceInformation). Online once a
health ping of the instance's SSM Agent succeeded (agent.py); a ping succeeds when the instance profile's role can
use SSM and the instance can reach SSM (interface endpoints, or a route to the internet)."""

from __future__ import annotations

import time

from moto.ec2.models.instances import Instance

from peerlab_local.core.world import all_ec2
from peerlab_local.ssm import agent
from peerlab_local.ssm.backend import SsmBackend
from peerlab_local.ssm.reachability import ping_problem


def instances_of(account: str | None = None, region: str | None = None):
    """Instances of one account and region (a caller sees only its own), or of all when not given."""
    for owner, where, backend in all_ec2():
        if (account is not None and owner != account) or (region is not None and where != region):
            continue
        for instance in backend.all_instances():
            yield owner, where, instance


def status(instance: Instance) -> tuple[bool, str]:
    """(online, reason) of the SSM agent on an instance, as DescribeInstanceInformation would see it: Online once
    a ping of its agent succeeded (agent.py: start-up after boot, then hibernation pings)."""
    if instance._state.name != "running":
        return False, f"instance is {instance._state.name}"
    running_agent = agent.agent_of(instance)
    if running_agent is not None and running_agent.state == "online":
        return True, "Online"
    return False, agent.describe(running_agent, ping_problem(instance))


def describe_instance_information(backend: SsmBackend, body: dict) -> dict:
    wanted: set[str] | None = None
    for item in body.get("InstanceInformationFilterList") or []:
        if item.get("key") == "InstanceIds":
            wanted = set(item.get("valueSet") or [])
    for item in body.get("Filters") or []:
        if item.get("Key") in ("InstanceIds", "tag:InstanceIds"):
            wanted = set(item.get("Values") or [])
    out = []
    for _, _, instance in instances_of(backend.account_id, backend.region_name):
        if wanted is not None and instance.id not in wanted:
            continue
        online, _ = status(instance)
        if not online:
            continue
        out.append({
            "InstanceId": instance.id,
            "PingStatus": "Online",
            "LastPingDateTime": time.time(),
            "AgentVersion": "3.3.1142.0",
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": "Amazon Linux",
            "PlatformVersion": "2023",
            "ResourceType": "EC2Instance",
            "IPAddress": instance.private_ip,
            "ComputerName": f"ip-{instance.private_ip.replace('.', '-')}.ec2.internal",
            "AssociationStatus": "Success",
        })
    return {"InstanceInformationList": out}
