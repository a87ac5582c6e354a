"""The local AWS's command line (infra/local/start): every option, each checked as it is parsed (argparse exits 2
with one line naming the option)."""

from __future__ import annotations

import argparse

from peerlab_local.core.config import PROFILES
from peerlab_local.core.faults import parse_kinds
from peerlab_local.servicequotas import quotas


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
    try:
        return parse_kinds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--fault-kinds: {err}") from None


def _quota(text: str) -> tuple[str, float]:
    try:
        return quotas.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--quota: {err}") from None


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
    p.add_argument("--seed", type=int, default=0,
                   help="seed for fault injection and for each resource's draw of the delays (default 0)")
    p.add_argument("--fault-kinds", type=_fault_kinds, default=None,
                   help="which faults --fault-rate injects: all (default), throttling, or a comma-separated list "
                        "of RequestLimitExceeded, InternalError, InsufficientInstanceCapacity, ThrottlingException, "
                        "TooManyRequestsException, ServiceException, Sandbox.Timedout, Lambda.Unknown")
    p.add_argument("--consistency-window", type=_non_negative(float, "--consistency-window"), default=None,
                   help="seconds every new resource answers NotFound, for every kind (default: drawn per resource "
                        "from the profile's distribution, scaled)")
    p.add_argument("--latency", type=_non_negative(float, "--latency"), default=0.0,
                   help="seconds every API request waits before it is served (default 0): a local AWS under load, "
                        "reproduced; not AWS's time, so not counted against a function's or a Task's timeout")
    p.add_argument("--median-delays", action="store_true",
                   help="every resource takes the median of each delay instead of its own draw (default off)")
    p.add_argument("--iam", choices=("off", "enforce"), default="off",
                   help="enforce: calls signed with STS AssumeRole credentials are allowed only as the role's "
                        "policies allow them (AWS's evaluation; other credentials stay administrators; default off)")
    p.add_argument("--lambda-dir", default=None,
                   help="folder with the function executables, one per function name (default: $PEERLAB_LAMBDA_DIR)")
    p.add_argument("--log-dir", default=None, help="folder for function logs (default: a temporary folder)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument("--region", default="us-east-1", help="the region the workflow uses (default us-east-1)")
    p.add_argument("--ec2-rate-limits", action="store_true",
                   help="throttle EC2 calls with AWS's documented token buckets (RequestLimitExceeded; default off)")
    p.add_argument("--quota", type=_quota, action="append", default=[], metavar="SERVICE/CODE=VALUE",
                   help="an applied value of a service quota for every account, e.g. vpc/L-F678F1CE=20 (VPCs per "
                        "Region; default: AWS's default, 5); also vpc/L-29B6F2EB (interface endpoints per VPC, 50) and "
                        "ec2/L-1216C47A (running On-Demand standard vCPUs, 5); repeatable")
    return p
