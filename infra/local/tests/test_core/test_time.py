"""Asynchronous states take time under `realistic` (scaled), and new resources are briefly invisible."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import MANY_VCPUS, Lab, wait_for

SCALE = "0.05"  # instance 15 s -> 0.75 s, peering 2 s / 5 s -> 0.1 s / 0.25 s, endpoint 90 s -> 4.5 s
# The tests of exact state sequences and durations run with --median-delays: every resource takes each delay's
# median. Without it each resource draws its own value (delays.py), tested at the end of this file.


def states(describe, extract, until, timeout=15.0):
    """The distinct states seen, in order, polling until `until` is seen."""
    seen: list[str] = []

    def step():
        try:
            state = extract(describe())
        except ClientError as err:
            state = err.response["Error"]["Code"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == until

    wait_for(step, timeout=timeout, interval=0.02)
    return seen


@pytest.fixture
def realistic(start_local):
    return start_local("--profile", "realistic", "--time-scale", SCALE, "--consistency-window", "0.05",
                       "--median-delays")


def test_config_endpoint_reports_scaled_delays(realistic):
    delays = realistic.get("/peerlab/config")["delays"]
    assert delays["instance_pending"] == pytest.approx(0.75)
    assert delays["consistency_window"] == pytest.approx(0.05)


def test_instance_pending_then_running_then_shutting_down_then_terminated(start_local):
    # NotFound for 0.5 s, pending until 1.5 s: wide margins for a busy machine
    aws = start_local("--profile", "realistic", "--time-scale", "0.1", "--consistency-window", "0.5",
                      "--median-delays")
    lab = Lab(aws).vpcs().instances(profile=False)
    start = time.monotonic()
    seen = states(lambda: lab.ec2.describe_instances(InstanceIds=[lab.instance_b]),
                  lambda r: r["Reservations"][0]["Instances"][0]["State"]["Name"], "running")
    assert seen == ["InvalidInstanceID.NotFound", "pending", "running"]
    assert time.monotonic() - start >= 1.4
    lab.ec2.terminate_instances(InstanceIds=[lab.instance_b])
    seen = states(lambda: lab.ec2.describe_instances(InstanceIds=[lab.instance_b]),
                  lambda r: r["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated")
    assert seen == ["shutting-down", "terminated"]


def test_peering_initiating_pending_provisioning_active(start_local):
    # NotFound for 0.3 s, initiating-request until 1 s, provisioning 2.5 s
    aws = start_local("--profile", "realistic", "--time-scale", "0.5", "--consistency-window", "0.3",
                      "--median-delays")
    lab = Lab(aws).vpcs().peering(accept=False)
    describe = lambda: lab.ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[lab.pcx])  # noqa: E731
    code = lambda r: r["VpcPeeringConnections"][0]["Status"]["Code"]  # noqa: E731
    assert states(describe, code, "pending-acceptance") == [
        "InvalidVpcPeeringConnectionID.NotFound", "initiating-request", "pending-acceptance"]
    lab.ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    assert states(describe, code, "active") == ["provisioning", "active"]


def test_accept_right_after_create_is_not_found(start_local):
    aws = start_local("--profile", "realistic", "--time-scale", SCALE, "--consistency-window", "5")
    lab = Lab(aws).vpcs().peering(accept=False)
    with pytest.raises(ClientError) as err:
        lab.ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=lab.pcx)
    assert err.value.response["Error"]["Code"] == "InvalidVpcPeeringConnectionID.NotFound"


def test_endpoint_pending_available_deleting_deleted(realistic):
    lab = Lab(realistic).vpcs().endpoints(services=("ssm",))
    describe = lambda: lab.ec2.describe_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)  # noqa: E731
    state = lambda r: r["VpcEndpoints"][0]["State"].lower()  # noqa: E731
    seen = states(describe, state, "available")
    assert seen in (["pending", "available"], ["InvalidVpcEndpointId.NotFound", "pending", "available"])
    lab.ec2.delete_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids)
    assert states(describe, state, "deleted", timeout=10) == ["deleting", "deleted"]


def test_ssm_registration_waits_after_running(realistic):
    lab = Lab(realistic).vpcs().profile().endpoints(services=("ssm", "ssmmessages"))
    states(lambda: lab.ec2.describe_vpc_endpoints(VpcEndpointIds=lab.endpoint_ids),
           lambda r: {e["State"].lower() for e in r["VpcEndpoints"]} == {"available"}, True)
    lab.instances()
    states(lambda: lab.ec2.describe_instances(InstanceIds=[lab.instance_a]),
           lambda r: r["Reservations"][0]["Instances"][0]["State"]["Name"], "running")
    running_at = time.monotonic()
    assert lab.online() == []  # the agent boots and pings 20 s * 0.05 = 1 s after the instance runs
    wait_for(lab.online, timeout=15)
    assert time.monotonic() - running_at >= 0.8


def test_instant_profile_has_no_windows(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances().peering()
    assert lab.online() == [lab.instance_a]
    code = lab.ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[lab.pcx])[
        "VpcPeeringConnections"][0]["Status"]["Code"]
    assert code == "active"
    vpc = lab.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    lab.ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")  # no consistency window either


def test_config_shows_median_p99_and_basis_of_every_delay(start_local):
    aws = start_local("--profile", "realistic", "--time-scale", "0.1")
    config = aws.get("/peerlab/config")
    assert config["delays"]["endpoint_pending"] == pytest.approx(9.0)  # scaled medians, as before
    for name, d in config["distributions"].items():
        if "exact" in d["basis"]:  # a documented duration (a peering request's 7-day expiry)
            assert d["p99"] == d["median"] > 0, name
            continue
        assert d["p99"] > d["median"] > 0, name  # a real tail on every realistic delay
        assert d["median_scaled"] == pytest.approx(d["median"] * 0.1), name
        assert d["p99_scaled"] == pytest.approx(d["p99"] * 0.1), name
        assert d["basis"], name
        assert config["delays"][name] == pytest.approx(d["median_scaled"]), name
    assert config["distributions"]["endpoint_pending"]["p99"] == 300.0
    assert "Terraform" in config["distributions"]["endpoint_pending"]["basis"]


def test_each_instance_draws_its_own_launch_time(start_local):
    # pending -> running: median 15 s, p99 60 s, x 0.05 = 0.75 s / 3 s; six instances, six different durations
    aws = start_local("--profile", "realistic", "--time-scale", SCALE, "--seed", "3", "--consistency-window", "0",
                      *MANY_VCPUS)  # six m1.small (RunInstances' default type): 6 vCPUs
    lab = Lab(aws).vpcs()
    started = time.monotonic()
    ids = [i["InstanceId"] for i in lab.ec2.run_instances(ImageId="ami-12345678", MinCount=6, MaxCount=6,
                                                         SubnetId=lab.subnet_a)["Instances"]]
    running_after: dict[str, float] = {}

    def all_running():
        for reservation in lab.ec2.describe_instances(InstanceIds=ids)["Reservations"]:
            for instance in reservation["Instances"]:
                if instance["State"]["Name"] == "running":
                    running_after.setdefault(instance["InstanceId"], time.monotonic() - started)
        return len(running_after) == len(ids)

    wait_for(all_running, timeout=40, interval=0.02)
    times = sorted(running_after.values())
    assert times[-1] - times[0] > 0.2, f"all six instances took the same time: {times}"


def test_the_inventory_gives_each_resources_timing_in_aws_seconds(realistic):
    # what `peerlab run` replays in AWS time: when each delay began (wall clock) and how long it lasts, here and on
    # AWS (÷ the time scale); in order, so a terminated instance shows both of its delays
    lab = Lab(realistic).vpcs().instances(profile=False)
    states(lambda: lab.ec2.describe_instances(InstanceIds=[lab.instance_b]),
           lambda r: r["Reservations"][0]["Instances"][0]["State"]["Name"], "running")
    before = time.time()
    lab.ec2.terminate_instances(InstanceIds=[lab.instance_b])
    [b] = [r for r in realistic.get("/peerlab/resources")["resources"] if r["id"] == lab.instance_b]
    pending, shutting_down = b["delays"]
    assert pending["name"] == "instance_pending" and shutting_down["name"] == "instance_shutting_down"
    assert pending["seconds"] == pytest.approx(0.75) and pending["aws_seconds"] == pytest.approx(15.0)
    assert shutting_down["aws_seconds"] == pytest.approx(40.0)
    assert pending["began"] < before <= shutting_down["began"] <= time.time()
    # a resource no delay has touched has none
    vpc = next(r for r in realistic.get("/peerlab/resources")["resources"] if r["id"] == lab.vpc_a)
    assert "delays" not in vpc
