"""SSM: Online only with a profile and a way to reach SSM; Run Command only to Online instances."""

import pytest
from botocore.exceptions import ClientError

from conftest import MANY_VCPUS, Lab, wait_for


def test_online_needs_profile_and_endpoints(start_local):
    aws = start_local(*MANY_VCPUS)  # two pairs of t3.micro: 8 vCPUs
    lab = Lab(aws).vpcs().profile().instances()
    assert lab.online() == []  # running, profiled, but no way to reach SSM from a private subnet
    resources = {r["id"]: r for r in aws.get("/peerlab/resources")["resources"]}
    assert "no interface endpoint for com.amazonaws.us-east-1.ssm " in resources[lab.instance_a]["ssm"]
    lab.endpoints()
    # A's agent failed its first ping and hibernates for 300 s (test_agent.py); an instance launched now is Online
    assert lab.online() == []
    lab.instances()
    assert lab.online() == [lab.instance_a]  # B has no instance profile


def test_one_endpoint_is_not_enough(aws):
    lab = Lab(aws).vpcs().profile().instances().endpoints(services=("ssm",))
    assert lab.online() == []


def test_private_dns_and_https_are_needed(aws):
    lab = Lab(aws).vpcs().profile().instances().endpoints(private_dns=False)
    assert lab.online() == []
    lab2 = Lab(aws)
    lab2.ec2, lab2.vpc_a = lab.ec2, lab.vpc_a
    resources = {r["id"]: r for r in aws.get("/peerlab/resources")["resources"]}
    assert "private DNS off" in resources[lab.instance_a]["ssm"]


def test_endpoint_group_must_admit_https(aws):
    lab = Lab(aws).vpcs().profile().instances().endpoints(https_open=False)
    assert lab.online() == []
    resources = {r["id"]: r for r in aws.get("/peerlab/resources")["resources"]}
    assert "HTTPS to endpoint" in resources[lab.instance_a]["ssm"]


def test_role_without_ssm_policy_is_not_online(aws):
    lab = Lab(aws).vpcs().profile(with_policy=False).endpoints().instances()
    assert lab.online() == []


def test_send_command_refuses_instances_that_are_not_online(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances()
    with pytest.raises(ClientError) as err:
        lab.ssm.send_command(InstanceIds=[lab.instance_b], DocumentName="AWS-RunShellScript",
                             Parameters={"commands": ["ping -c 1 10.0.1.4"]})
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"


def test_unknown_document_is_refused(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances()
    with pytest.raises(ClientError) as err:
        lab.ssm.send_command(InstanceIds=[lab.instance_a], DocumentName="AWS-RunShellScrpt",
                             Parameters={"commands": ["true"]})
    assert err.value.response["Error"]["Code"] == "InvalidDocument"


def test_command_reaches_only_the_named_instance(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances()
    sent = lab.ssm.send_command(InstanceIds=[lab.instance_a], DocumentName="AWS-RunShellScript",
                                Parameters={"commands": [f"ping -c 1 {lab.ip_b}"]})["Command"]
    with pytest.raises(ClientError) as err:
        lab.ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=lab.instance_b)
    assert err.value.response["Error"]["Code"] == "InvocationDoesNotExist"
    listed = lab.ssm.list_command_invocations(CommandId=sent["CommandId"])["CommandInvocations"]
    assert [i["InstanceId"] for i in listed] == [lab.instance_a]


def test_invocation_goes_missing_then_in_progress_then_done(start_local):
    # delivery 0.2 s, the ping 0.8 s: wide enough to see each state on a busy machine (endpoints take 18 s; medians:
    # a drawn endpoint or agent-boot time in its tail would outlast the 60 s wait below)
    aws = start_local("--profile", "realistic", "--time-scale", "0.2", "--median-delays")
    # launch once the endpoints are available: earlier, the agent's first ping fails and it hibernates 300 s x 0.2
    lab = Lab(aws).vpcs().profile().endpoints().wait_endpoints().instances()
    lab.peering()
    wait_for(lab.online, timeout=60, interval=0.2)
    sent = lab.ssm.send_command(InstanceIds=[lab.instance_a], DocumentName="AWS-RunShellScript",
                                Parameters={"commands": [f"ping -c 3 -W 2 {lab.ip_b}"]})["Command"]
    seen: list[str] = []

    def status():
        try:
            result = lab.ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=lab.instance_a)
            state = result["Status"]
        except ClientError as err:
            state = err.response["Error"]["Code"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return state in ("Success", "Failed")

    wait_for(status, timeout=20, interval=0.01)
    assert seen == ["InvocationDoesNotExist", "InProgress", "Failed"]  # no route yet: 100% loss


def test_commands_are_kept_per_account_and_region_in_moto_s_way():
    # in-process, on the state itself: a command lives in its account's backend for its region (a moto
    # BackendDict, as moto keeps every service), not in a table all callers share; moto's reset empties it
    from peerlab_local import ssm
    from peerlab_local.core import world
    from peerlab_local.core.config import Config

    world.install(Config(port=0))
    mine, other = "111111111111", "222222222222"
    ssm.ssm_backends[mine]["us-east-1"].commands["cmd-1"] = {
        "command": {"CommandId": "cmd-1", "Comment": "", "DocumentName": "AWS-RunShellScript"},
        "invocations": {"i-1": {"visible_at": 0.0, "done_at": 0.0, "requested": 0.0, "stdout": "ok", "stderr": "",
                                "code": 0}}}
    assert [c["CommandId"] for c in ssm.handle("ListCommands", {}, mine, "us-east-1")["Commands"]] == ["cmd-1"]
    assert ssm.handle("ListCommands", {}, other, "us-east-1")["Commands"] == []
    assert ssm.handle("ListCommands", {}, mine, "us-west-2")["Commands"] == []
    for account, region in ((other, "us-east-1"), (mine, "us-west-2")):
        with pytest.raises(ssm.SsmError) as err:
            ssm.handle("GetCommandInvocation", {"CommandId": "cmd-1", "InstanceId": "i-1"}, account, region)
        assert err.value.code == "InvocationDoesNotExist"
    found = ssm.handle("GetCommandInvocation", {"CommandId": "cmd-1", "InstanceId": "i-1"}, mine, "us-east-1")
    assert (found["Status"], found["StandardOutputContent"]) == ("Success", "ok")
    ssm.ssm_backends[mine].reset()  # what moto's reset (POST /moto-api/reset) does to each account
    assert ssm.handle("ListCommands", {}, mine, "us-east-1")["Commands"] == []
