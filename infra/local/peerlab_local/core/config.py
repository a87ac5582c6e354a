"""Profiles: how long each asynchronous AWS state lasts, in seconds, before --time-scale.

The `realistic` figures are medians; each has a p99 (delays.TAILS) and every resource draws its own value from the
distribution fitted to the two (delays.py), reproducibly from --seed and the resource id. AWS documents none of them
as a guarantee (sources in delays.py and core/README.md). `instant` makes every transition immediate.
"""

from __future__ import annotations

import dataclasses

from peerlab_local.core import delays as _delays

REALISTIC = {
    # EC2 instance pending -> running. median 15 s, p99 60 s: measured 4.9 s (c5.xlarge) and 16.4-16.6 s (t3, m7i);
    # launches reported bimodal up to ~80 s (delays.TAILS has the sources).
    "instance_pending": 15.0,
    # shutting-down -> terminated. median 40 s (no measurement found: judgement), p99 180 s: AWS calls "longer than
    # a few minutes" delayed.
    "instance_shutting_down": 40.0,
    # VPC peering initiating-request -> pending-acceptance. median 2 s, p99 10 s (judgement; Terraform waits 1 min).
    "peering_initiating": 2.0,
    # provisioning -> active after AcceptVpcPeeringConnection. median 5 s, p99 20 s (judgement; Terraform: 1 min).
    "peering_provisioning": 5.0,
    # Interface endpoint pending -> available. median 90 s, p99 300 s: 120-150 s observed; Terraform waits 10 min.
    "endpoint_pending": 90.0,
    # deleting -> deleted for an interface endpoint. median 30 s, p99 180 s (judgement; Terraform waits 10 min).
    "endpoint_deleting": 30.0,
    # SSM Agent start: from `running` until the agent's first health ping (UpdateInstanceInformation), which makes
    # the instance Online when it succeeds (a failed one makes the agent hibernate: agent.py). Median 20 s; no
    # published distribution, so no p99. Basis: the agent is a systemd unit started After=network-online.target
    # (aws/amazon-ssm-agent packaging/linux/amazon-ssm-agent.service), like sshd; ec2-boot-bench (daemonology.net,
    # 2021-08-12) measured `running` -> TCP/22 open at 17.2 + 5.6 = 22.8 s on c5.xlarge, and brevdev's
    # ec2-coldboot-research (@fix_plan.md) boot -> SSH 3.2 s on a current AMI: a range of about 3-23 s.
    "agent_boot": 20.0,
    # IAM eventual consistency: a new instance profile (or a role just added to it) is refused by RunInstances
    # (InvalidParameterValue) this long. Median 10 s: "IAM instance profiles can take ~10 seconds to propagate"
    # (the Terraform AWS provider's aws_instance retry comment, citing the EC2 user guide's IAM roles page); the
    # provider retries for up to 2 min (internal/service/ec2 consts.go iamPropagationTimeout "settled on 2 minutes"),
    # the IAM user guide ("Changes that I make are not always immediately visible") gives no figure. p99 60 s
    # (delays.TAILS).
    "instance_profile_propagation": 10.0,
    # GetCommandInvocation answers InvocationDoesNotExist this long after SendCommand. median 1 s, p99 5 s.
    "command_delivery": 1.0,
    # Eventual consistency: a just-created VPC, subnet, group, route table, network ACL, endpoint, instance or
    # peering answers Invalid...ID.NotFound this long. median 1 s, p99 5 s: AWS gives no figure (EC2 Developer
    # Guide, "Eventual consistency"); Terraform retries find-after-create up to 5 min (ec2PropagationTimeout).
    "consistency_window": 1.0,
    # A peering request left pending-acceptance expires after 7 days (exact, documented: CreateVpcPeeringConnection
    # API reference; VPC Peering Guide, "Accept or reject a VPC peering connection"). Not zeroed by `instant`:
    # peering_rules.py skips the expiry there rather than expire every request at once.
    "peering_expiry": 7 * 24 * 3600.0,
}

INSTANT = {name: 0.0 for name in REALISTIC}

PROFILES = {"instant": INSTANT, "realistic": REALISTIC}


@dataclasses.dataclass(frozen=True)
class Config:
    port: int
    profile: str = "instant"
    time_scale: float = 1.0
    fault_rate: float = 0.0
    seed: int = 0
    consistency_window: float | None = None  # seconds, overrides the profile's (not scaled)
    lambda_dir: str | None = None
    log_dir: str | None = None
    region: str = "us-east-1"
    ec2_rate_limits: bool = False  # AWS's EC2 token buckets (limits.py)
    median_delays: bool = False  # every resource takes each delay's median (no per-resource draw)
    fault_kinds: tuple[str, ...] | None = None  # --fault-kinds: which kinds --fault-rate may inject (None: all)
    quotas: tuple[tuple[str, float], ...] = ()  # --quota: applied values of service quotas (quotas.py)
    latency: float = 0.0  # --latency: seconds every API request waits before it is served (a loaded local AWS)

    def delay(self, name: str, key: str = "") -> float:
        """Seconds (scaled) that the named asynchronous state lasts for resource `key`: the median when `key` is ""
        (or with --median-delays), else that resource's own draw from the delay's distribution (delays.py), the
        same for the whole run and for every run with the same --seed."""
        if name == "consistency_window" and self.consistency_window is not None:
            return self.consistency_window
        median = PROFILES[self.profile][name]
        if not key or self.median_delays or median <= 0:
            return median * self.time_scale
        return _delays.draw(median, _delays.tail(name, median).p99, self.seed, name, key) * self.time_scale

    def distribution(self, name: str) -> dict:
        """median, p99 (unscaled and scaled) and basis of a named delay under this configuration."""
        median = PROFILES[self.profile][name]
        tail = _delays.tail(name, REALISTIC[name])
        p99 = tail.p99 if median > 0 else 0.0
        data = {"median": median, "p99": p99, "median_scaled": median * self.time_scale,
                "p99_scaled": p99 * self.time_scale, "basis": tail.basis}
        if name == "consistency_window" and self.consistency_window is not None:
            data.update(median_scaled=self.consistency_window, p99_scaled=self.consistency_window,
                        fixed="--consistency-window (not scaled)")
        elif self.median_delays:
            data.update(p99_scaled=data["median_scaled"], fixed="--median-delays")
        return data

    def agent_seconds(self, seconds: float) -> float:
        """Seconds of the SSM Agent's own timers (hibernation pings): behaviour of the software on the instance, not an
        AWS delay, so `instant` does not zero them; --time-scale scales them (0 makes them 1 ms, never a busy loop)."""
        return max(seconds * self.time_scale, 0.001)

    def simulated(self, seconds: float) -> float:
        """Seconds of simulated work (a ping's duration), scaled like the profile's delays."""
        return 0.0 if self.profile == "instant" else seconds * self.time_scale
