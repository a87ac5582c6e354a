"""Delays as distributions with tails: each `realistic` delay is a median (config.REALISTIC) and a p99 (TAILS here),
and every resource draws its own value from a log-normal fitted to the two, reproducibly from (--seed, name, id).

Why log-normal: these delays are sums/products of many positive waits (placement, EBS, DNS, control-plane queues);
a log-normal is positive, right-skewed and fully fixed by two quantiles. With z99 = 2.3263 (the standard normal's
99th percentile), sigma = ln(p99 / median) / z99 and a draw is median * exp(sigma * z), z ~ N(0, 1) taken from a
hash, so the same seed and the same resource id always give the same value. z is clamped to +-3.719 (the
0.01 % / 99.99 % quantiles) so that one unlucky id cannot stall a test run for hours; the p99 tail is untouched.

The bases (also in core/README.md, "Time"). AWS documents no duration for any of these states; where no measurement
was found the figure says so and is a judgement, not a measurement.
"""

from __future__ import annotations

import hashlib
import math
from statistics import NormalDist
from typing import NamedTuple

Z99 = NormalDist().inv_cdf(0.99)  # 2.3263
Z_MAX = NormalDist().inv_cdf(0.9999)  # 3.719: draws are kept within the 0.01 %..99.99 % quantiles
DEFAULT_TAIL = 3.0  # a name in REALISTIC without an entry below gets p99 = 3 x its median (no source researched)


class Tail(NamedTuple):
    p99: float  # seconds, before --time-scale
    basis: str  # where the median and the p99 come from
    exact: bool = False  # a documented duration, not a distribution (p99 == median)


TF = "hashicorp/terraform-provider-aws internal/service/ec2"
TAILS: dict[str, Tail] = {
    # median 15 s, p99 60 s. Measured pending->running: 4.9 s on c5.xlarge (C. Percival, ec2-boot-bench, median of 9,
    # daemonology.net 2021-08-12); 16.4-16.6 s on t3/m6i/m7i/c7i (brevdev/ec2-coldboot-research); launches are
    # reported bimodal, "tens vs ~80 s" (HN 40455208). Terraform's aws_instance waits up to 10 min (Create timeout,
    # WaitInstanceCreated polls after 10 s, every >= 3 s).
    "instance_pending": Tail(60.0, "pending->running measured 4.9 s (c5.xlarge, daemonology.net 2021) and 16.4-16.6 s "
                                   "(t3/m7i, brevdev/ec2-coldboot-research); bimodal launches up to ~80 s reported "
                                   f"(HN 40455208); Terraform waits up to 10 min ({TF}/ec2_instance.go)"),
    # median 40 s, p99 180 s. No published measurement found: the median is the project's earlier figure. AWS: "If
    # your instance remains in the shutting-down state longer than a few minutes, it might be delayed" (EC2 User
    # Guide, TroubleshootingInstancesShuttingDown) -> a few minutes is the edge of normal. Terraform: Delete 20 min.
    "instance_shutting_down": Tail(180.0, "no published measurement (median: judgement); AWS calls longer than a few "
                                          "minutes delayed (EC2 UG, troubleshoot instance termination); Terraform "
                                          "waits up to 20 min"),
    # median 2 s, p99 10 s. No measurement found; Terraform's aws_vpc_peering_connection waits up to 1 min (Create
    # timeout) through initiating-request and provisioning (WaitVPCPeeringConnectionActive).
    "peering_initiating": Tail(10.0, "no published measurement (judgement); Terraform waits up to 1 min "
                                     f"({TF}/vpc_peering_connection.go Create timeout, "
                                     "WaitVPCPeeringConnectionActive)"),
    # median 5 s, p99 20 s. As above: accept + provisioning->active is covered by the same 1 min Terraform timeout.
    "peering_provisioning": Tail(20.0, "no published measurement (judgement); Terraform waits up to 1 min for "
                                       f"provisioning->active ({TF}/vpc_peering_connection.go)"),
    # median 90 s, p99 300 s. "One to a few minutes" (shared/LOCAL-AWS-FACTS.md); a Gateway Load Balancer endpoint
    # took 120-150 s pending->available (terraform-provider-aws issue #32774); Terraform waits up to 10 min
    # (vpcEndpointCreationTimeout = 10 * time.Minute, vpc_endpoint.go).
    "endpoint_pending": Tail(300.0, "pending->available 120-150 s observed (terraform-provider-aws #32774); "
                                    f"Terraform waits up to 10 min ({TF}/vpc_endpoint.go vpcEndpointCreationTimeout)"),
    # median 30 s, p99 180 s. No measurement found (the project's earlier median); deletion "can take minutes";
    # Terraform waits up to 10 min (vpc_endpoint.go Delete timeout).
    "endpoint_deleting": Tail(180.0, "no published measurement (judgement); Terraform waits up to 10 min "
                                     f"({TF}/vpc_endpoint.go Delete timeout)"),
    # median 20 s, p99 60 s: `running` -> the SSM Agent's first health ping. The agent is a systemd unit started
    # After=network-online.target (aws/amazon-ssm-agent packaging/linux/amazon-ssm-agent.service), like sshd;
    # ec2-boot-bench measured `running` -> TCP/22 open in 22.8 s (c5.xlarge, daemonology.net 2021-08-12),
    # brevdev/ec2-coldboot-research 3.2 s on a current AMI. No distribution is published: p99 = the slowest
    # measurement x 2.6, a judgement that covers the bimodal launches reported for instances.
    "agent_boot": Tail(60.0, "running -> TCP/22 open 22.8 s (ec2-boot-bench, daemonology.net 2021) and 3.2 s "
                             "(brevdev/ec2-coldboot-research); the agent starts like sshd (amazon-ssm-agent.service "
                             "After=network-online.target); p99: judgement"),
    # median 10 s, p99 60 s: a new instance profile refused by RunInstances. "IAM instance profiles can take ~10
    # seconds to propagate" (Terraform's aws_instance retry comment); the provider retries up to 2 min
    # (iamPropagationTimeout, internal/service/ec2/consts.go); IAM UG "Changes that I make are not always immediately
    # visible" gives no figure. p99: half the provider's ceiling, a judgement.
    "instance_profile_propagation": Tail(60.0, "~10 s (Terraform aws_instance retry comment); Terraform retries up to "
                                               f"2 min ({TF}/consts.go iamPropagationTimeout); IAM UG gives no figure; "
                                               "p99: judgement"),
    # exact, not a distribution: an unaccepted request expires after 7 days (CreateVpcPeeringConnection API reference)
    "peering_expiry": Tail(7 * 24 * 3600.0, "documented: a request not accepted within 7 days expires "
                                            "(CreateVpcPeeringConnection API reference); exact", exact=True),
    # median 1 s, p99 5 s. Judgement: the agent receives commands over its ssmmessages control channel (push).
    "command_delivery": Tail(5.0, "judgement: SSM Agent 3.3.40+ receives commands over the ssmmessages channel"),
    # median 1 s, p99 5 s. AWS gives no figure: "Eventual consistency in the Amazon EC2 API" (EC2 Developer Guide)
    # tells clients to back off "starting with a couple of seconds of wait time, and increasing gradually up to a
    # few minutes"; Terraform retries find-after-create up to ec2PropagationTimeout = 5 * time.Minute (wait.go), a
    # ceiling, not a typical value. A median of ~1 s with a p99 of 5 s breaks a client that retries on the median.
    "consistency_window": Tail(5.0, "AWS gives no figure (EC2 Developer Guide, Eventual consistency: back off from a "
                                    "couple of seconds up to a few minutes); Terraform retries find-after-create up to "
                                    f"ec2PropagationTimeout = 5 min ({TF}/wait.go); median/p99: judgement"),
}


def tail(name: str, median: float) -> Tail:
    """The p99 and basis of a named delay (a default spread for names without research)."""
    found = TAILS.get(name)
    if found is not None:
        return found
    return Tail(median * DEFAULT_TAIL, f"no p99 researched: {DEFAULT_TAIL:g} x the median by default")


def sigma(median: float, p99: float) -> float:
    if median <= 0 or p99 <= median:
        return 0.0
    return math.log(p99 / median) / Z99


def unit(seed: int, name: str, key: str) -> float:
    """A number in (0, 1), uniform, fixed by (seed, name, key)."""
    digest = hashlib.sha256(f"{seed}:{name}:{key}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def draw(median: float, p99: float, seed: int, name: str, key: str) -> float:
    """This resource's value of the named delay, in seconds before --time-scale."""
    if median <= 0:
        return 0.0
    z = NormalDist().inv_cdf(unit(seed, name, key))
    z = max(-Z_MAX, min(Z_MAX, z))
    return median * math.exp(sigma(median, p99) * z)
