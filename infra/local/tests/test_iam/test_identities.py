"""Under `--iam enforce` every caller on the AWS side signs as the identity AWS uses (peerlab_local/iam/identities.py):
Step Functions tasks as the state machine's role, EventBridge rule and Scheduler targets with the target's role,
Lambda's log and trace delivery with the function's execution role."""

import io
import json
import sys
import time
import zipfile

import botocore.exceptions
import pytest

from conftest import LocalAws, policy, trust, wait_for

ACCOUNT = "123456789012"
REGION = "us-east-1"

# a custom runtime (Lambda Runtime API) that writes two log lines per event and answers {"ok": true}
BOOTSTRAP = f"""#!{sys.executable}
import os, sys, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(api + "/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
    print("hello from " + request_id, flush=True)
    print("to stderr " + request_id, file=sys.stderr, flush=True)
    urllib.request.urlopen(urllib.request.Request(api + "/" + request_id + "/response", data=b'{{"ok": true}}',
                                                  method="POST")).read()
"""


@pytest.fixture(scope="module")
def aws():
    local = LocalAws("--iam", "enforce")
    yield local
    local.stop()


class Lab:
    def __init__(self, aws: LocalAws):
        self.aws = aws
        self.iam, self.lam, self.sfn = aws.client("iam"), aws.client("lambda"), aws.client("stepfunctions")
        self.logs = aws.client("logs")

    def role(self, name: str, service: str, *statements) -> str:
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
        if statements:
            self.iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
        return arn

    def function(self, name: str, role: str, **kwargs) -> str:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o755 << 16
            z.writestr(info, BOOTSTRAP)
        return self.lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                                        Code={"ZipFile": archive.getvalue()}, Timeout=30, **kwargs)["FunctionArn"]

    def machine(self, name: str, role: str, resource: str, parameters: dict | None = None, **kwargs) -> str:
        task = {"Type": "Task", "Resource": resource, "End": True}
        if parameters:
            task["Parameters"] = parameters
        return self.sfn.create_state_machine(name=name, roleArn=role, definition=json.dumps(
            {"StartAt": "Call", "States": {"Call": task}}), **kwargs)["stateMachineArn"]

    def run(self, machine: str, name: str) -> dict:
        arn = self.sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
        return wait_for(lambda: (d := self.sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                        timeout=60)

    def denied(self) -> list[dict]:
        return self.aws.get("/peerlab/iam")["denied"]


@pytest.fixture(scope="module")
def lab(aws) -> Lab:
    return Lab(aws)


INVOKE = "arn:aws:states:::lambda:invoke"


def test_a_task_invokes_as_the_state_machines_role(lab):
    fn_role = lab.role("worker-role", "lambda.amazonaws.com")
    fn = lab.function("worker", fn_role)
    allowed = lab.role("machine-may", "states.amazonaws.com",
                       {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn})
    refused = lab.role("machine-may-not", "states.amazonaws.com",
                       {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn + "-other"})
    good = lab.run(lab.machine("invokes", allowed, INVOKE, {"FunctionName": fn, "Payload.$": "$"}), "ok")
    assert good["status"] == "SUCCEEDED", good
    assert json.loads(good["output"])["Payload"] == {"ok": True}

    for name, machine in (("service", lab.machine("cannot-invoke", refused, INVOKE,
                                                  {"FunctionName": fn, "Payload.$": "$"})),
                          ("direct", lab.machine("cannot-invoke-direct", refused, fn))):
        bad = lab.run(machine, name)
        assert bad["status"] == "FAILED", bad
        # what AWS reports (awslabs/aws-deployment-framework#460)
        assert bad["error"] == "Lambda.AWSLambdaException", bad
        assert "assumed-role/machine-may-not/" in bad["cause"]
        assert f"is not authorized to perform: lambda:InvokeFunction on resource: {fn}" in bad["cause"]
        assert "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException;" in bad["cause"]
    denials = [d for d in lab.denied() if d["action"] == "lambda:InvokeFunction"]
    assert denials and all(d["resource"] == fn for d in denials)
    assert all(d["principal"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/machine-may-not/") for d in denials)
    session = denials[0]["principal"].rsplit("/", 1)[1]
    assert len(session) == 32 and session.isalpha()  # as Step Functions' session names look


def test_a_state_machine_needs_a_role_step_functions_can_assume(lab):
    lambdas_only = lab.role("not-for-states", "lambda.amazonaws.com")
    for role in (lambdas_only, f"arn:aws:iam::{ACCOUNT}:role/nobody"):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            lab.machine("untrusting", role, "arn:aws:states:::lambda:invoke", {"FunctionName": "x"})
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        assert err.value.response["Error"]["Message"].startswith(
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized")


def test_a_role_no_longer_assumable_fails_the_task(lab):
    fn = lab.function("worker-2", lab.role("worker-2-role", "lambda.amazonaws.com"))
    role = lab.role("machine-then-not", "states.amazonaws.com",
                    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn})
    machine = lab.machine("then-not", role, INVOKE, {"FunctionName": fn})
    assert lab.run(machine, "first")["status"] == "SUCCEEDED"
    lab.iam.update_assume_role_policy(RoleName="machine-then-not", PolicyDocument=trust("lambda.amazonaws.com"))
    done = lab.run(machine, "second")
    assert done["status"] == "FAILED" and done["error"] == "States.TaskFailed", done
    assert "Neither the global service principal states.amazonaws.com" in done["cause"]


def test_logging_needs_the_log_delivery_permissions(lab):
    lab.logs.create_log_group(logGroupName="/aws/vendedlogs/states/idtest")
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/idtest:*"
    logging = {"level": "ALL", "includeExecutionData": True,
               "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]}
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    mute = lab.role("machine-mute", "states.amazonaws.com")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        lab.sfn.create_state_machine(name="mute", roleArn=mute, definition=definition, loggingConfiguration=logging)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["Error"]["Message"] == ("The state machine IAM Role is not authorized to access the "
                                                      "Log Destination")
    assert any(d["action"].startswith("logs:") and "machine-mute" in d["principal"] for d in lab.denied())
    # the template's LogDelivery statement
    speaking = lab.role("machine-speaks", "states.amazonaws.com", {
        "Effect": "Allow", "Resource": "*", "Action": [
            "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups"]})
    made = lab.sfn.create_state_machine(name="speaks", roleArn=speaking, definition=definition,
                                        loggingConfiguration=logging)["stateMachineArn"]
    # and an update to a role without them is refused too
    with pytest.raises(botocore.exceptions.ClientError):
        lab.sfn.update_state_machine(stateMachineArn=made, roleArn=mute)


def events_of(lab, group: str) -> list[str]:
    streams = lab.logs.describe_log_streams(logGroupName=group)["logStreams"]
    found = []
    for stream in streams:
        found += [e["message"] for e in lab.logs.get_log_events(logGroupName=group,
                                                                logStreamName=stream["logStreamName"])["events"]]
    return found


def test_lambda_sends_the_functions_logs_with_its_execution_role(lab):
    logs_of_stream = {"Effect": "Allow", "Action": "logs:CreateLogStream",
                      "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/quiet:*"}
    lab.function("quiet", lab.role("quiet-role", "lambda.amazonaws.com", logs_of_stream),
                 TracingConfig={"Mode": "Active"})
    lab.logs.create_log_group(logGroupName="/aws/lambda/quiet")
    answer = lab.lam.invoke(FunctionName="quiet", Payload=b"{}")
    assert answer.get("FunctionError") is None and json.loads(answer["Payload"].read()) == {"ok": True}
    denied = wait_for(lambda: {d["action"] for d in lab.denied() if "quiet-role" in d["principal"]} >= {
        "logs:PutLogEvents", "xray:PutTraceSegments"}, timeout=30)
    assert denied
    assert events_of(lab, "/aws/lambda/quiet") == []  # AWS drops them
    putting = [d for d in lab.denied() if d["action"] == "logs:PutLogEvents" and "quiet-role" in d["principal"]]
    assert putting[0]["resource"].startswith(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/quiet:log-stream:")
    assert putting[0]["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/quiet-role/quiet"

    # with the template's Logs statement: the group holds the invocation's lines
    loud_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/loud:*"
    lab.function("loud", lab.role("loud-role", "lambda.amazonaws.com", {
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": loud_group}))
    lab.logs.create_log_group(logGroupName="/aws/lambda/loud")
    for _ in range(2):
        lab.lam.invoke(FunctionName="loud", Payload=b"{}")
    # sent after each invocation, as Lambda's are: on a busy machine seconds later (as the denials above)
    lines = wait_for(lambda: len(found := events_of(lab, "/aws/lambda/loud")) >= 10 and found, timeout=30)
    assert sum(line.startswith("hello from ") for line in lines) == 2
    assert sum(line.startswith("to stderr ") for line in lines) == 2
    # and Lambda's own platform lines of each invocation, printed or not
    for platform in ("START RequestId: ", "END RequestId: ", "REPORT RequestId: "):
        assert sum(line.startswith(platform) for line in lines) == 2, lines
    report = next(line for line in lines if line.startswith("REPORT"))
    assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB\tMax Memory Used: " in report, report
    streams = lab.logs.describe_log_streams(logGroupName="/aws/lambda/loud")["logStreams"]
    assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]  # one warm environment
    assert not [d for d in lab.denied() if "loud-role" in d["principal"]]


def test_an_eventbridge_target_starts_with_its_role(lab, aws):
    events = aws.client("events")
    quiet = lab.role("ends-quietly", "states.amazonaws.com")
    failing = lab.sfn.create_state_machine(name="fails", roleArn=quiet, definition=json.dumps(
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}))["stateMachineArn"]
    catcher = lab.sfn.create_state_machine(name="catches", roleArn=quiet, definition=json.dumps(
        {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    may = lab.role("rule-may", "events.amazonaws.com",
                   {"Effect": "Allow", "Action": "states:StartExecution", "Resource": catcher})
    may_not = lab.role("rule-may-not", "events.amazonaws.com")
    states_only = lab.role("rule-untrusted", "states.amazonaws.com",
                           {"Effect": "Allow", "Action": "states:StartExecution", "Resource": catcher})
    events.put_rule(Name="ended", EventPattern=json.dumps({
        "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED"], "stateMachineArn": [failing]}}))
    events.put_targets(Rule="ended", Targets=[{"Id": "refused", "Arn": catcher, "RoleArn": may_not},
                                              {"Id": "untrusted", "Arn": catcher, "RoleArn": states_only}])
    lab.run(failing, "first")
    failures = wait_for(lambda: len(f := aws.get("/peerlab/events")["failures"]) >= 2 and f, timeout=10)
    assert {f["role"]: f["error_code"] for f in failures} == {may_not: "AccessDeniedException",
                                                             states_only: "AccessDenied"}
    assert any(d["action"] == "states:StartExecution" and d["resource"] == catcher and "rule-may-not" in d["principal"]
               for d in lab.denied())
    time.sleep(0.5)
    assert lab.sfn.list_executions(stateMachineArn=catcher)["executions"] == []

    events.put_targets(Rule="ended", Targets=[{"Id": "allowed", "Arn": catcher, "RoleArn": may}])
    lab.run(failing, "second")
    assert wait_for(lambda: lab.sfn.list_executions(stateMachineArn=catcher)["executions"], timeout=10)


def test_a_schedule_starts_its_target_with_its_role(lab, aws):
    scheduler = aws.client("scheduler")
    quiet = lab.role("scheduled-machine", "states.amazonaws.com")
    machine = lab.sfn.create_state_machine(name="scheduled", roleArn=quiet, definition=json.dumps(
        {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    may_not = lab.role("schedule-may-not", "scheduler.amazonaws.com",
                       {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine + "-other"})
    soon = time.strftime("at(%Y-%m-%dT%H:%M:%S)", time.gmtime(time.time() + 3))  # instant profile: real time
    scheduler.create_schedule(Name="refused", ScheduleExpression=soon, FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": machine, "RoleArn": may_not, "RetryPolicy": {"MaximumRetryAttempts": 0}})
    failed = wait_for(lambda: [a for a in aws.get("/peerlab/scheduler")["failures"]
                               if a["schedule_arn"].endswith("/refused")], timeout=15)
    assert failed[0]["error_code"] == "AccessDeniedException"
    assert any(d["action"] == "states:StartExecution" and d["resource"] == machine
               and "schedule-may-not" in d["principal"] for d in lab.denied())
    assert lab.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_a_traced_state_machine_puts_its_trace_with_its_role(lab):
    untraced = lab.role("machine-no-xray", "states.amazonaws.com")
    machine = lab.sfn.create_state_machine(
        name="traced", roleArn=untraced, tracingConfiguration={"enabled": True},
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    assert lab.run(machine, "traced")["status"] == "SUCCEEDED"  # a dropped trace changes nothing
    assert wait_for(lambda: [d for d in lab.denied() if d["action"] == "xray:PutTraceSegments"
                             and "/machine-no-xray/" in d["principal"]], timeout=10)
