"""`make deploy` on the local AWS: infra/template.yaml through the SAM transform and the local CloudFormation
(peerlab_local/tools/stack.py, peerlab_local/cloudformation/resources.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import wait_for
from peerlab_local.cloudformation.resources import SUPPORTED
from peerlab_local.tools import stack

ROOT = Path(__file__).resolve().parents[4]
CRATES = ["validate-input", "create-vpc", "request-peering", "accept-peering", "add-routes", "update-sg",
          "ping-test", "teardown", "preflight", "summarize-workshop"]
BUILT = os.environ.get("PEERLAB_LAMBDA_DIR", "")


def quiet(*_args):
    pass


@pytest.fixture
def lambda_dir(tmp_path) -> Path:
    """Stand-ins for the cargo build: deploying only needs the binaries to exist (nothing is invoked)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for crate in CRATES:
        (folder / crate).write_text("#!/bin/sh\nexit 1\n")
        (folder / crate).chmod(0o755)
    return folder


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the template and the state machines it points at, to change for updates."""
    (tmp_path / "infra").mkdir()
    shutil.copy(ROOT / "infra" / "template.yaml", tmp_path / "infra" / "template.yaml")
    shutil.copytree(ROOT / "statemachine", tmp_path / "statemachine")
    return tmp_path / "infra" / "template.yaml"


def deploy(aws, name="peerlab", **kwargs):
    return stack.deploy(aws.url, name, out=quiet, **kwargs)


def by_logical_id(aws, name):
    resources = aws.client("cloudformation").describe_stack_resources(StackName=name)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def template_policy(logical_id: str) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse((ROOT / "infra" / "template.yaml").read_text())["Resources"][logical_id]["Properties"]


def test_deploy_creates_what_the_template_declares(aws, lambda_dir):
    outputs = deploy(aws, lambda_dir=lambda_dir)
    assert set(outputs) == {"StateMachineArn", "BackstopStateMachineArn", "InstanceProfileName",
                            "StartExecutionCommand", "SchedulerRoleArn", "WorkshopStateMachineArn"}
    ids = by_logical_id(aws, "peerlab")
    lam, iam, sfn = aws.client("lambda"), aws.client("iam"), aws.client("stepfunctions")

    # the ten functions (a lab's eight, the workshop's two), with the template's (and Globals') properties
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert len(functions) == 10
    create_vpc = lam.get_function(FunctionName=ids["CreateVpcFunction"])["Configuration"]
    assert create_vpc["Handler"] == "bootstrap" and create_vpc["Runtime"] == "provided.al2023"
    assert create_vpc["MemorySize"] == 128 and create_vpc["Timeout"] == 30
    assert create_vpc["Architectures"] == [stack.host_architecture()]
    assert create_vpc["Environment"]["Variables"] == {"PEERLAB_INSTANCE_PROFILE": outputs["InstanceProfileName"]}
    assert create_vpc["Role"].endswith("/" + ids["CreateVpcRole"])
    assert create_vpc["LoggingConfig"]["LogGroup"] == ids["CreateVpcLogs"]
    assert lam.get_function(FunctionName=ids["TeardownFunction"])["Configuration"]["Timeout"] == 60

    # each function's role with its inline policy, as written in the template
    written = template_policy("PingTestRole")["Policies"][0]
    got = iam.get_role_policy(RoleName=ids["PingTestRole"], PolicyName=written["PolicyName"])["PolicyDocument"]
    assert [s["Sid"] for s in got["Statement"]] == [s["Sid"] for s in written["PolicyDocument"]["Statement"]]
    trust = iam.get_role(RoleName=ids["PingTestRole"])["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}

    # the instance profile: the lab instance role, with the managed policy moto's template path used to drop
    profile = iam.get_instance_profile(InstanceProfileName=outputs["InstanceProfileName"])["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [ids["LabInstanceRole"]]
    attached = iam.list_attached_role_policies(RoleName=ids["LabInstanceRole"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]

    # both state machines: the definition from the file, every ${...FunctionArn} substituted
    lab = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    asl = (ROOT / "statemachine" / "peering-lab.asl.json").read_text()
    assert json.loads(lab["definition"])["Comment"] == json.loads(asl)["Comment"]
    assert "${" not in lab["definition"]
    for logical_id in ("ValidateInputFunction", "PingTestFunction", "TeardownFunction"):
        assert functions[ids[logical_id]]["FunctionArn"] in lab["definition"]
    assert lab["type"] == "STANDARD" and lab["roleArn"].endswith("/" + ids["LabStateMachineRole"])
    assert lab["loggingConfiguration"]["level"] == "ALL"
    assert lab["loggingConfiguration"]["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"].endswith(
        ":log-group:/aws/vendedlogs/states/peerlab:*")  # GetAtt Arn of a log group ends in ":*" on AWS
    backstop = sfn.describe_state_machine(stateMachineArn=outputs["BackstopStateMachineArn"])
    assert functions[ids["TeardownFunction"]]["FunctionArn"] in backstop["definition"]
    # the workshop's: its two functions and the lab state machine it starts each lab on
    workshop = sfn.describe_state_machine(stateMachineArn=outputs["WorkshopStateMachineArn"])
    assert "${" not in workshop["definition"]
    for logical_id in ("PreflightFunction", "SummarizeWorkshopFunction"):
        assert functions[ids[logical_id]]["FunctionArn"] in workshop["definition"]
    assert outputs["StateMachineArn"] in workshop["definition"]
    assert workshop["roleArn"].endswith("/" + ids["WorkshopStateMachineRole"])

    # the backstop's rule: the lab machine's failed/timed-out/aborted executions start the backstop
    events = aws.client("events")
    rule = events.describe_rule(Name=ids["BackstopStateMachineLabEnded"])
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["stateMachineArn"] == [outputs["StateMachineArn"]]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == outputs["BackstopStateMachineArn"]

    # the sweeper schedule (the stack's name in it), no lab schedule without LabScheduleExpression
    scheduler = aws.client("scheduler")
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["peerlab-sweep"]
    sweep = scheduler.get_schedule(Name="peerlab-sweep")
    assert sweep["ScheduleExpression"] == "rate(1 hour)" and sweep["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert sweep["Target"]["Arn"] == functions[ids["TeardownFunction"]]["FunctionArn"]
    assert json.loads(sweep["Target"]["Input"]) == {"mode": "sweep"}
    assert sweep["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}

    # log groups: one per function and the state machines', retention from LogRetentionDays
    groups = {g["logGroupName"]: g for g in aws.client("logs").describe_log_groups()["logGroups"]}
    assert len(groups) == 11 and {g.get("retentionInDays") for g in groups.values()} == {14}

    # the role Scheduler may assume: trusts scheduler.amazonaws.com for this account, starts the lab machine only
    role_name = outputs["SchedulerRoleArn"].rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    (name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    (grant,) = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]["Statement"]
    assert grant["Action"] == "states:StartExecution" and grant["Resource"] == outputs["StateMachineArn"]


def test_update_changes_the_definition_parameters_and_conditional_resources(aws, lambda_dir, project):
    def changes(said: list[str]) -> set[tuple[str, str]]:  # the change set, as deploy prints it
        return {(line.split()[0], line.split()[1]) for line in said if line.split()[0] in ("Add", "Modify", "Remove")}

    said: list[str] = []
    first = stack.deploy(aws.url, "peerlab", template=project, lambda_dir=lambda_dir, out=said.append)
    assert ("Add", "LabStateMachine") in changes(said) and ("Add", "LabSchedule") not in changes(said)
    asl = project.parent.parent / "statemachine" / "peering-lab.asl.json"
    definition = json.loads(asl.read_text())
    definition["Comment"] = "a changed definition"
    asl.write_text(json.dumps(definition))
    said = []
    second = stack.deploy(aws.url, "peerlab", template=project, lambda_dir=lambda_dir, out=said.append, parameters={
        "LogRetentionDays": "30", "LabScheduleExpression": "cron(0 9 ? * MON-FRI *)",
        "LabScheduleTimezone": "Europe/Berlin"})
    # what CloudFormation would list: the new definition, the retention (a parameter), the schedule (its condition)
    assert {("Modify", "LabStateMachine"), ("Modify", "ValidateInputLogs"), ("Add", "LabSchedule")} <= changes(said)
    assert ("Modify", "CreateVpcFunction") not in changes(said)
    assert second["StateMachineArn"] == first["StateMachineArn"]  # updated in place, not replaced
    sfn = aws.client("stepfunctions")
    updated = sfn.describe_state_machine(stateMachineArn=second["StateMachineArn"])["definition"]
    assert json.loads(updated)["Comment"] == "a changed definition" and "${" not in updated
    groups = aws.client("logs").describe_log_groups()["logGroups"]
    assert {g.get("retentionInDays") for g in groups} == {30}
    scheduler = aws.client("scheduler")
    lab = scheduler.get_schedule(Name="peerlab-lab")
    assert lab["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert lab["ScheduleExpressionTimezone"] == "Europe/Berlin" and lab["State"] == "ENABLED"
    assert lab["Target"]["Arn"] == second["StateMachineArn"] and lab["Target"]["RoleArn"] == second["SchedulerRoleArn"]
    assert lab["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}

    # the condition false again: the schedule goes
    said = []
    stack.deploy(aws.url, "peerlab", template=project, lambda_dir=lambda_dir, out=said.append,
                 parameters={"LogRetentionDays": "30"})
    assert changes(said) == {("Remove", "LabSchedule")}
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["peerlab-sweep"]

    # nothing changed: no change set to execute, as `sam deploy` says
    said = []
    stack.deploy(aws.url, "peerlab", template=project, lambda_dir=lambda_dir, out=said.append,
                 parameters={"LogRetentionDays": "30"})
    assert said == ["No changes to deploy. Stack peerlab is up to date"]


RUNTIME = """#!/bin/sh
# a Lambda custom runtime in four lines (the Runtime API: next, then response), answering {"code": "MARK"}
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  id=$(curl -sS -D - -o /dev/null "$api/invocation/next" | tr -d '\\r' \\
    | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  curl -sS -X POST -d '{"code": "MARK"}' "$api/invocation/$id/response" >/dev/null
done
"""


@pytest.mark.skipif(shutil.which("curl") is None, reason="the stand-in runtime uses curl")
def test_an_update_runs_the_new_build_not_a_warm_old_one(aws, lambda_dir):
    """--code local: the function's bootstrap execs <lambda-dir>/<crate>; a rebuilt binary is new code, and the
    next invocation runs it (a warm environment of the old build is not reused)."""
    def build(mark: str):  # a new file (new inode), as a linker writes it: a running process keeps the old one
        fresh = lambda_dir / "validate-input.new"
        fresh.write_text(RUNTIME.replace("MARK", mark))
        fresh.chmod(0o755)
        os.replace(fresh, lambda_dir / "validate-input")

    def invoke():
        answer = aws.client("lambda").invoke(FunctionName=by_logical_id(aws, "peerlab")["ValidateInputFunction"],
                                             Payload=b"{}")
        return json.loads(answer["Payload"].read())

    build("first")
    deploy(aws, lambda_dir=lambda_dir)
    assert invoke() == {"code": "first"}
    assert invoke() == {"code": "first"}  # warm
    build("second build, longer")  # another size: another artifact, as a rebuilt binary is
    deploy(aws, lambda_dir=lambda_dir)
    assert invoke() == {"code": "second build, longer"}


def test_delete_leaves_nothing(aws, lambda_dir):
    outputs = deploy(aws, lambda_dir=lambda_dir, parameters={"LabScheduleExpression": "rate(1 day)"})
    iam = aws.client("iam")
    # there is something of every kind to delete: a role with a managed policy attached (IAM refuses to delete it
    # before the policy is detached), both schedules, the three state machines
    profile = iam.get_instance_profile(InstanceProfileName=outputs["InstanceProfileName"])["InstanceProfile"]
    assert iam.list_attached_role_policies(RoleName=profile["Roles"][0]["RoleName"])["AttachedPolicies"]
    assert len(aws.client("scheduler").list_schedules()["Schedules"]) == 2
    assert len(aws.client("stepfunctions").list_state_machines()["stateMachines"]) == 3
    # a one-off schedule with ActionAfterCompletion DELETE deletes itself after it fires: the stack's delete of
    # a schedule that is already gone succeeds (CloudFormation treats a resource deleted outside it as deleted)
    aws.client("scheduler").delete_schedule(Name="peerlab-lab")
    aws.client("logs").delete_log_group(logGroupName="/aws/vendedlogs/states/peerlab")  # so is one deleted by hand
    # The sweep's rate schedule fires at once (no StartDate: "starts invoking the target immediately"), and Lambda
    # ships its logs after the invocation, creating the group if it is gone (the role may logs:CreateLogGroup): a
    # delete racing that delivery would see the group come back, on AWS too. Let the first sweep's logs land first.
    logs = aws.client("logs")
    wait_for(lambda: [s for g in logs.describe_log_groups(logGroupNamePrefix="peerlab-TeardownLogs")["logGroups"]
                      for s in logs.describe_log_streams(logGroupName=g["logGroupName"])["logStreams"]], timeout=30)
    stack.delete(aws.url, "peerlab", out=quiet)
    assert iam.list_roles()["Roles"] == [] and iam.list_instance_profiles()["InstanceProfiles"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert aws.client("events").list_rules()["Rules"] == []
    assert aws.client("scheduler").list_schedules()["Schedules"] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []
    bucket = stack.bucket_name("123456789012", "us-east-1")
    assert aws.client("s3").list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert stack.outputs(aws.url, "peerlab") == {}


def test_two_stacks_coexist_and_the_command_line_deploys(aws, lambda_dir):
    one = deploy(aws, "lab-one", lambda_dir=lambda_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "infra" / "local")}
    done = subprocess.run([sys.executable, "-m", "peerlab_local.tools.stack", "deploy", "--endpoint", aws.url,
                           "--stack", "lab-two", "--lambda-dir", str(lambda_dir), "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    two = stack.outputs(aws.url, "lab-two")
    assert json.loads(done.stdout) == two  # --json: the outputs alone on stdout, for programs (the Rust e2e)
    assert "Successfully created/updated stack - lab-two" in done.stderr
    assert one["StateMachineArn"] != two["StateMachineArn"]
    assert len(aws.client("lambda").list_functions()["Functions"]) == 20  # ten each
    assert sorted(s["Name"] for s in aws.client("scheduler").list_schedules()["Schedules"]) == [
        "lab-one-sweep", "lab-two-sweep"]
    stack.delete(aws.url, "lab-one", out=quiet)
    assert len(aws.client("lambda").list_functions()["Functions"]) == 10
    assert aws.client("stepfunctions").describe_state_machine(stateMachineArn=two["StateMachineArn"])


def test_a_template_the_local_aws_cannot_deploy_fails_naming_what(aws, lambda_dir, tmp_path):
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "Alarms": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 1, "DataProtectionPolicy": {}}}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(template))
    with pytest.raises(stack.DeployError) as err:
        deploy(aws, "bad", template=path, lambda_dir=lambda_dir)
    assert "resource Alarms: type AWS::SNS::Topic is not supported" in str(err.value)
    assert "resource Logs (AWS::Logs::LogGroup): property DataProtectionPolicy is not supported" in str(err.value)
    assert aws.client("logs").describe_log_groups()["logGroups"] == []  # refused before anything was made
    assert stack.outputs(aws.url, "bad") == {}

    # CreateStack with the SAM template itself: the local CloudFormation runs no transform, and says so
    cfn = aws.client("cloudformation")
    with pytest.raises(cfn.exceptions.ClientError) as refused:
        cfn.create_stack(StackName="raw", TemplateBody=(ROOT / "infra" / "template.yaml").read_text(),
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "Transform AWS::Serverless-2016-10-31 is not run" in refused.value.response["Error"]["Message"]


def test_every_type_the_transformed_template_uses_is_supported():
    """A new resource type in infra/template.yaml needs a model here (or the deploy fails): this says which."""
    from samtranslator.yaml_helper import yaml_parse

    source = yaml_parse((ROOT / "infra" / "template.yaml").read_text())
    packaged = json.loads(json.dumps(source))
    for resource in packaged["Resources"].values():
        props = resource.get("Properties", {})
        if "CodeUri" in props:
            props["CodeUri"] = "s3://bucket/code"
        if "DefinitionUri" in props:
            props["DefinitionUri"] = {"Bucket": "bucket", "Key": "asl"}

    class NoIam:  # the template names no SAM policy templates: the managed policy map is never asked for
        pass

    transformed = stack.sam_transform(packaged, {"LabScheduleExpression": "rate(1 day)"}, "us-east-1", NoIam())
    from peerlab_local.cloudformation.resources import problems

    assert problems(transformed) == []
    assert {r["Type"] for r in transformed["Resources"].values()} <= set(SUPPORTED)


@pytest.mark.skipif(not all(os.path.isfile(os.path.join(BUILT, c)) for c in CRATES),
                    reason="needs the built functions in PEERLAB_LAMBDA_DIR (make build-functions)")
def test_the_deployed_stack_runs_a_lab_with_the_cargo_build(aws):
    outputs = deploy(aws, lambda_dir=BUILT)
    ids = by_logical_id(aws, "peerlab")
    lam = aws.client("lambda")
    bad = json.loads((ROOT / "tests" / "events" / "bad-unknown-field.json").read_text())
    answer = lam.invoke(FunctionName=ids["ValidateInputFunction"], Payload=json.dumps(
        {"input": bad, "execution_name": "direct", "start_time": "2026-11-28T00:00:00Z"}))
    error = json.loads(answer["Payload"].read())
    # the function's own error vocabulary (style: InvalidInput), so its code ran, not a stand-in
    assert answer.get("FunctionError") == "Unhandled" and error["errorType"] == "InvalidInput", error
    # a whole lab on the deployed stack: the definition with the stack's function ARNs, the functions with their
    # environment (the stack's instance profile), built, pinged and torn down
    sfn = aws.client("stepfunctions")
    run = sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name="lab-1",
                              input=(ROOT / "tests" / "events" / "tutorial.json").read_text())
    ended = wait_for(lambda: (d := sfn.describe_execution(executionArn=run["executionArn"]))["status"] != "RUNNING"
                     and d, timeout=400, interval=0.5)
    assert ended["status"] == "SUCCEEDED", ended
    assert aws.get("/peerlab/resources?tag=peerlab:lab-id=lab-1")["count"] == 0
