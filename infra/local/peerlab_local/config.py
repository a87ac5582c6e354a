"""Profiles: how long each asynchronous AWS state lasts, in seconds, before --time-scale.

The `realistic` figures are typical values observed for these resources, rounded; AWS documents none of them as a
guarantee (sources in infra/local/README.md). `instant` makes every transition immediate, for fast tests.
"""

from __future__ import annotations

import argparse
import dataclasses

REALISTIC = {
    # EC2 instance pending -> running: t3 instances with an EBS-backed AL2023 AMI are usually running in 10-20 s.
    "instance_pending": 15.0,
    # shutting-down -> terminated: typically 30-60 s for EBS-backed instances.
    "instance_shutting_down": 40.0,
    # VPC peering initiating-request -> pending-acceptance: a second or two in the same region.
    "peering_initiating": 2.0,
    # provisioning -> active after AcceptVpcPeeringConnection.
    "peering_provisioning": 5.0,
    # Interface endpoint pending -> available: one to two minutes.
    "endpoint_pending": 90.0,
    # deleting -> deleted for an interface endpoint.
    "endpoint_deleting": 30.0,
    # SSM agent: from `running` until DescribeInstanceInformation says Online (agent start + registration).
    "ssm_registration": 30.0,
    # GetCommandInvocation answers InvocationDoesNotExist this long after SendCommand.
    "command_delivery": 1.0,
    # Eventual consistency: a just-created peering connection or instance is NotFound this long.
    "consistency_window": 2.0,
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
    fault_kinds: tuple[str, ...] | None = None  # --fault-kinds: which kinds --fault-rate may inject (None: all)

    def delay(self, name: str) -> float:
        """Seconds that the named asynchronous state lasts under this configuration."""
        if name == "consistency_window" and self.consistency_window is not None:
            return self.consistency_window
        return PROFILES[self.profile][name] * self.time_scale

    def simulated(self, seconds: float) -> float:
        """Seconds of simulated work (a ping's duration), scaled like the profile's delays."""
        return 0.0 if self.profile == "instant" else seconds * self.time_scale


class ConfigError(ValueError):
    """A bad command line: reported as one line and exit code 2."""


def _non_negative(kind: type, name: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must not be negative, got {text}")
        return value

    return parse


def _rate(text: str) -> float:
    value = _non_negative(float, "--fault-rate")(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"--fault-rate is a probability between 0 and 1, got {text}")
    return value


def _fault_kinds(text: str):
    from .faults import parse_kinds

    try:
        return parse_kinds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--fault-kinds: {err}") from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be an integer, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be between 0 and 65535, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="infra/local/start",
        description="Start peerlab's local AWS (moto with AWS-like EC2, SSM, Step Functions and Lambda) on 127.0.0.1.",
    )
    p.add_argument("--port", type=_port, required=True, help="TCP port on 127.0.0.1 (0 picks a free one)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="instant",
                   help="how long asynchronous states last (default: instant)")
    p.add_argument("--time-scale", type=_non_negative(float, "--time-scale"), default=1.0,
                   help="multiply the profile's delays by this (default 1.0)")
    p.add_argument("--fault-rate", type=_rate, default=0.0,
                   help="probability that an EC2/SSM call or a Lambda invoke is throttled (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed for fault injection (default 0)")
    p.add_argument("--fault-kinds", type=_fault_kinds, default=None,
                   help="which faults --fault-rate injects: all (default), throttling, or a comma-separated list "
                        "of RequestLimitExceeded, InternalError, InsufficientInstanceCapacity, ThrottlingException, "
                        "TooManyRequestsException, ServiceException, Sandbox.Timedout, Lambda.Unknown")
    p.add_argument("--consistency-window", type=_non_negative(float, "--consistency-window"), default=None,
                   help="seconds a new peering/instance answers NotFound (default: the profile's, scaled)")
    p.add_argument("--lambda-dir", default=None,
                   help="folder with the function executables, one per function name (default: $PEERLAB_LAMBDA_DIR)")
    p.add_argument("--log-dir", default=None, help="folder for function logs (default: a temporary folder)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument("--region", default="us-east-1", help="the region the workflow uses (default us-east-1)")
    p.add_argument("--ec2-rate-limits", action="store_true",
                   help="throttle EC2 calls with AWS's documented token buckets (RequestLimitExceeded; default off)")
    return p
