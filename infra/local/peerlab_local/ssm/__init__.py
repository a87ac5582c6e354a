"""SSM Run Command as AWS does it, for the instances of the simulated EC2 world.

- DescribeInstanceInformation lists an instance as Online once a health ping of its SSM Agent succeeded (agent.py:
  the first after boot, else the hibernation pings). A ping succeeds when the instance has an instance profile
  whose role can use SSM, and can reach SSM: interface endpoints for `ssm` and `ssmmessages` with private DNS in
  its VPC (DNS support and hostnames on), reachable on TCP 443 through security groups and network ACLs - or a
  default route to a NAT gateway (or an internet gateway with a public IP).
  (`ec2messages` is not required: SSM Agent 3.3.40+ uses ssmmessages instead.)
- State is per account and region: a caller sees only its own instances and commands there (backend.py).
- SendCommand reaches only the instances named; refuses instances that are not Online and unknown documents.
- GetCommandInvocation answers InvocationDoesNotExist for the delivery delay, InProgress while the command runs,
  then Success or Failed.
- `ping -c N [-W T] [-i I] [-q] [-n] IP` in AWS-RunShellScript is simulated from the EC2 state (network.py) and
  printed like iputils ping; nothing is sent. Any other command fails with a clear message on stderr.

By concern: agent.py (each instance's SSM Agent: start-up, hibernation), reachability.py (can the agent reach SSM),
managed.py (who is Online), commands.py (Run Command), documents.py (AWS-RunShellScript's shell), ping.py (the
simulated ping), backend.py (the state of an account in a region).
"""

from __future__ import annotations

from collections.abc import Callable

from peerlab_local.core.patching import once
from peerlab_local.core.world import DEFAULT_ACCOUNT, world
from peerlab_local.ec2 import patches as ec2_patches
from peerlab_local.ssm import agent, commands, managed
from peerlab_local.ssm.backend import SsmBackend, SsmError, backend_of, ssm_backends
from peerlab_local.ssm.managed import status
from peerlab_local.ssm.reachability import ping_problem

__all__ = ["HANDLERS", "SsmError", "backend_of", "handle", "install", "ping_problem", "ssm_backends", "status"]

# The SSM actions the local AWS answers itself (moto's SSM answers the rest: parameters, documents' API...)
HANDLERS: dict[str, Callable[[SsmBackend, dict], dict]] = {
    "DescribeInstanceInformation": managed.describe_instance_information,
    "SendCommand": commands.send_command,
    "GetCommandInvocation": commands.get_command_invocation,
    "ListCommands": commands.list_commands,
    "ListCommandInvocations": commands.list_command_invocations,
}


def handle(action: str, body: dict, account: str = DEFAULT_ACCOUNT, region: str | None = None) -> dict:
    """Serve one SSM call of `account` in `region` (the caller's, from its credentials: caller.py)."""
    return HANDLERS[action](ssm_backends[account][region or world().config.region], body)


@once
def install() -> None:
    """SSM's part of the start-up: an instance's SSM Agent boots when EC2 makes the instance `running`."""
    ec2_patches.on_instance_running(agent.on_running)
