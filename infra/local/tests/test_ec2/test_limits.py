"""EC2 rate limits (AWS's token buckets, opt in) and the count of calls by caller."""

import time

import boto3
from botocore.exceptions import ClientError

from conftest import MANY_VPCS
from peerlab_local.ec2 import limits
from peerlab_local.ec2.limits import Bucket, Calls, RateLimits


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_bucket_spends_its_size_then_refills_at_its_rate():
    clock = Clock()
    bucket = Bucket(size=3, refill=2, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5  # one token back
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.now = 100  # never more than its size
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_describe_and_mutating_actions_have_their_own_buckets():
    clock = Clock()
    limits = RateLimits(True, clock)
    assert sum(limits.allow("DescribeVpcs", {}) for _ in range(150)) == 100
    assert limits.allow("DescribeSubnets", {})  # per action
    assert sum(limits.allow("CreateVpc", {}) for _ in range(60)) == 50
    clock.now = 1.0
    assert sum(limits.allow("CreateVpc", {}) for _ in range(10)) == 5
    assert sum(limits.allow("DescribeVpcs", {}) for _ in range(30)) == 20
    assert limits.throttled["CreateVpc"] == 15


def test_run_instances_also_spends_one_resource_token_per_instance():
    clock = Clock()
    limits = RateLimits(True, clock)
    assert limits.allow("RunInstances", {"MaxCount": ["999"]})
    assert not limits.allow("RunInstances", {"MaxCount": ["2"]}), "1 resource token left"
    assert limits.allow("RunInstances", {"MaxCount": ["1"]})
    clock.now = 1.0  # 2 instances a second
    assert limits.allow("RunInstances", {"MaxCount": ["2"]})
    assert not RateLimits(False).buckets  # off: nothing is tracked


def test_buckets_refill_in_aws_time_as_every_wait_here():
    """At --time-scale 0.5 a real second is two AWS seconds: twice AWS's refill per real second, the same size."""
    clock = Clock()
    limits = RateLimits(True, clock, time_scale=0.5)
    assert sum(limits.allow("CreateVpc", {}) for _ in range(60)) == 50  # the burst is AWS's
    clock.now = 1.0
    assert sum(limits.allow("CreateVpc", {}) for _ in range(20)) == 10  # 5/s for 2 AWS seconds
    # x0.02: 250 a real second; at 0 every wait is 1 ms, and the buckets never run dry after the first burst
    fast = RateLimits(True, clock, time_scale=0.02)
    assert sum(fast.allow("CreateVpc", {}) for _ in range(60)) == 50
    clock.now = 1.5  # 0.5 s: full again (125 tokens, the size 50)
    assert sum(fast.allow("CreateVpc", {}) for _ in range(60)) == 50
    instant = RateLimits(True, clock, time_scale=0)
    assert sum(instant.allow("DescribeVpcs", {}) for _ in range(150)) == 100
    clock.now = 1.501
    assert sum(instant.allow("DescribeVpcs", {}) for _ in range(150)) == 100


def test_the_server_throttles_with_the_flag_and_counts_calls_by_key(start_local):
    aws = start_local("--ec2-rate-limits", *MANY_VPCS)
    once = boto3.session.Config(retries={"total_max_attempts": 1, "mode": "standard"})
    ec2 = boto3.client("ec2", endpoint_url=aws.url, region_name="us-east-1", aws_access_key_id="AKIDBENCH",
                       aws_secret_access_key="x", config=once)
    outcomes, started = [], time.monotonic()
    for _ in range(100):
        try:
            ec2.create_vpc(CidrBlock="10.5.0.0/16")
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    elapsed = time.monotonic() - started
    # the bucket holds 50 and refills 5/s: however fast the loop, 50 and the refills go through, no more
    assert 50 <= outcomes.count("ok") <= 50 + 5 * elapsed + 1, (elapsed, outcomes)
    assert set(outcomes) == {"ok", "RequestLimitExceeded"}
    calls = aws.get("/peerlab/calls")
    assert calls["ec2_rate_limits"] is True
    assert calls["calls"]["AKIDBENCH"]["ec2:CreateVpc"] == 100
    assert calls["throttled"]["CreateVpc"] == outcomes.count("RequestLimitExceeded")


def test_no_rate_limits_by_default(aws):
    ec2 = aws.client("ec2")
    for _ in range(120):
        ec2.describe_vpcs()
    assert aws.get("/peerlab/calls")["throttled"] == {}


def test_a_caller_s_served_time_counts_its_concurrent_calls_once(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(limits.time, "monotonic", clock)
    calls = Calls()
    with calls.serving("AKIDA"):
        clock.now = 1.0
        with calls.serving("AKIDA"), calls.serving("AKIDB"):  # A's second call overlaps its first
            clock.now = 3.0
        assert calls.served_snapshot() == {"AKIDA": 3.0, "AKIDB": 2.0}  # A in service since 0, B since 1
        clock.now = 4.0
    with calls.serving(""):  # unsigned, or an Invoke (another function's run): nobody's serving
        clock.now = 10.0
    assert calls.served_snapshot() == {"AKIDA": 4.0, "AKIDB": 2.0}
