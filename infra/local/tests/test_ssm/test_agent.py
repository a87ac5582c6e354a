"""The SSM Agent starts some seconds after `running` and hibernates when its first ping fails (agent.py); a new
instance profile is not usable at once (iam_propagation.py); SSM state is per account and region (ssm/backend.py)."""

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, Lab, wait_for
from peerlab_local.ssm import agent

# 0.05: instance 15 s -> 0.75 s, agent boot 20 s -> 1 s, endpoints 90 s -> 4.5 s, first hibernation ping
# 300 s -> 15 s: the agent's first ping comes 2.75 s before the endpoints are available, a margin for a busy machine
SCALE = "0.05"


def inventory(aws, instance_id: str) -> dict:
    return {r["id"]: r for r in aws.get("/peerlab/resources")["resources"]}[instance_id]


def test_the_hibernation_schedule_is_the_agents():
    # aws/amazon-ssm-agent agent/hibernation/hibernation.go: 300 s, then every 600 s for 1800 s, every 1200 s for
    # 3600 s, every 2400 s for 7200 s, then every 3600 s
    offsets = agent.hibernation_offsets()
    assert [next(offsets) for _ in range(15)] == [300, 900, 1500, 2100, 3300, 4500, 5700, 8100, 10500,
                                                  12900, 16500, 20100, 23700, 27300, 30900]


def test_endpoints_created_with_the_instance_make_its_agent_hibernate(start_local):
    # the figures below are medians: no per-resource draw
    aws = start_local("--profile", "realistic", "--time-scale", SCALE, "--median-delays")
    lab = Lab(aws).vpcs().profile().endpoints()
    launched = time.monotonic()
    lab.instances()  # what create-vpc does today: launch right after creating the endpoints
    lab.wait_endpoints()
    assert lab.online() == []  # the agent's first ping (1.75 s) found the endpoints pending
    seen = inventory(aws, lab.instance_a)["agent"]
    assert seen["state"] == "hibernating" and "is pending" in seen["last_ping_failure"]
    assert "SSM Agent is hibernating" in inventory(aws, lab.instance_a)["ssm"]
    time.sleep(1.0)
    assert lab.online() == []  # available endpoints change nothing until the next ping
    wait_for(lab.online, timeout=60, interval=0.1)
    # running 0.75 s + boot 1 s + the first hibernation ping 300 s x 0.05 = 16.75 s (the old rule: 4.5 s)
    assert time.monotonic() - launched >= 16.0
    final = inventory(aws, lab.instance_a)["agent"]
    assert final["state"] == "online" and final["pings"] == 2


def test_endpoints_available_before_boot_mean_online_after_boot(start_local):
    # the figures below are medians: no per-resource draw
    aws = start_local("--profile", "realistic", "--time-scale", SCALE, "--median-delays")
    lab = Lab(aws).vpcs().profile().endpoints().wait_endpoints()
    launched = time.monotonic()
    lab.instances()
    wait_for(lab.online, timeout=30, interval=0.05)
    assert time.monotonic() - launched < 15.0  # no hibernation (its first ping would be at 16.75 s)
    seen = inventory(aws, lab.instance_a)["agent"]
    assert seen["state"] == "online" and seen["pings"] == 1 and seen["last_ping_failure"] is None


def test_inventory_shows_hibernation_with_next_ping_and_reason_and_instant_keeps_it(aws):
    lab = Lab(aws).vpcs().profile().instances()
    item = inventory(aws, lab.instance_a)
    assert item["agent"]["state"] == "hibernating"
    assert 290 <= item["agent"]["next_ping_in_s"] <= 300  # instant profile, --time-scale 1: the agent's 300 s
    assert item["agent"]["next_ping_at"].endswith("Z")
    assert "no interface endpoint for com.amazonaws.us-east-1.ssm " in item["agent"]["last_ping_failure"]
    lab.endpoints()
    assert lab.online() == []  # instant zeroes AWS's delays, not the agent's own timers
    item = inventory(aws, lab.instance_a)
    assert item["agent"]["state"] == "hibernating" and "nothing blocks it now" in item["ssm"]


def test_a_new_instance_profile_is_refused_for_a_while(start_local):
    # propagation 10 s -> 2 s (the median: a drawn value may be shorter than the 1.5 s asserted below)
    aws = start_local("--profile", "realistic", "--time-scale", "0.2", "--median-delays")
    lab = Lab(aws).vpcs()
    lab.iam.create_role(RoleName="lab", AssumeRolePolicyDocument="{}")
    lab.iam.attach_role_policy(RoleName="lab", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    created = time.monotonic()
    arn = lab.iam.create_instance_profile(InstanceProfileName="lab")["InstanceProfile"]["Arn"]
    lab.iam.add_role_to_instance_profile(InstanceProfileName="lab", RoleName="lab")

    def launch(**profile):
        return lab.api.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                     SubnetId=lab.subnet_a, SecurityGroupIds=[lab.sg_a], IamInstanceProfile=profile)

    for spec, message in (({"Name": "lab"}, "Value (lab) for parameter iamInstanceProfile.name is invalid. "
                                            "Invalid IAM Instance Profile name"),
                          ({"Arn": arn}, f"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. "
                                         "Invalid IAM Instance Profile ARN")):
        with pytest.raises(ClientError) as err:
            launch(**spec)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert err.value.response["Error"]["Message"] == message

    def launched(name):
        try:
            return launch(Name=name)["Instances"][0]["InstanceId"]
        except ClientError as err:
            if err.response["Error"]["Code"] != "InvalidParameterValue":
                raise
            return None

    wait_for(lambda: launched("lab"), timeout=30, interval=0.1)
    assert time.monotonic() - created >= 1.5

    # a role added to an existing profile is not seen at once either
    lab.iam.create_instance_profile(InstanceProfileName="late")
    time.sleep(2.5)
    lab.iam.add_role_to_instance_profile(InstanceProfileName="late", RoleName="lab")
    with pytest.raises(ClientError) as err:
        launch(Name="late")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert err.value.response["Error"]["Message"].endswith("has no associated IAM Roles")
    wait_for(lambda: launched("late"), timeout=30, interval=0.1)


def test_an_unknown_instance_profile_is_invalid_parameter_value(aws):
    lab = Lab(aws).vpcs()
    with pytest.raises(ClientError) as err:
        lab.ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                              SubnetId=lab.subnet_a, IamInstanceProfile={"Name": "nope"})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Invalid IAM Instance Profile name" in err.value.response["Error"]["Message"]


def test_ssm_state_is_per_account_and_region(aws):
    lab = Lab(aws).vpcs().profile().endpoints().instances()
    assert lab.online() == [lab.instance_a]
    sent = lab.ssm.send_command(InstanceIds=[lab.instance_a], DocumentName="AWS-RunShellScript",
                                Parameters={"commands": [f"ping -c 1 {lab.ip_b}"]})["Command"]
    other = "210987654321"
    creds = aws.client("sts").assume_role(RoleArn=f"arn:aws:iam::{other}:role/peer",
                                          RoleSessionName="test")["Credentials"]
    peer = boto3.client("ssm", endpoint_url=aws.url, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    assert peer.describe_instance_information()["InstanceInformationList"] == []
    with pytest.raises(ClientError) as err:
        peer.send_command(InstanceIds=[lab.instance_a], DocumentName="AWS-RunShellScript",
                          Parameters={"commands": ["ping -c 1 10.0.1.4"]})
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"
    assert f"for account {other}" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        peer.get_command_invocation(CommandId=sent["CommandId"], InstanceId=lab.instance_a)
    assert err.value.response["Error"]["Code"] == "InvocationDoesNotExist"
    assert peer.list_commands()["Commands"] == []
    assert peer.list_command_invocations(CommandId=sent["CommandId"])["CommandInvocations"] == []
    # the same account in another region sees nothing either
    west = boto3.client("ssm", endpoint_url=aws.url, region_name="us-west-2", aws_access_key_id="test",
                        aws_secret_access_key="test")
    assert west.describe_instance_information()["InstanceInformationList"] == []
    assert west.list_commands()["Commands"] == []
    # and the owner still sees its own
    assert [c["CommandId"] for c in lab.ssm.list_commands()["Commands"]] == [sent["CommandId"]]
