"""Requests AWS refuses by its service models' constraints (peerlab_local/core/validation.py; the table:
core/VALIDATION.md). moto serves every request below. The clients skip botocore's own client-side validation
(`parameter_validation=False`), as the Rust SDK checks nothing but required members: the local AWS must refuse
what AWS refuses, whatever the client checked."""

import boto3
import pytest
from botocore.exceptions import ClientError

from peerlab_local.core import validation
from peerlab_local.tools import launch

UNCHECKED = boto3.session.Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})


def unchecked(aws, service: str):
    return launch.LocalAws.client(aws, service, UNCHECKED)


def refusal(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_ec2_refuses_a_missing_required_member_and_a_max_results_out_of_the_models_range(aws):
    """EC2 service model: CreateSubnet requires VpcId; DescribeVpcs' MaxResults is 5-1000 (DescribeVpcs API
    reference, "Valid Range: Minimum value of 5. Maximum value of 1000."). EC2's answers: MissingParameter,
    InvalidParameterValue "Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5."
    (aws/aws-sdk-ruby#2575). moto creates a subnet without a VPC (an error of its own kind) and pages by 1."""
    ec2 = unchecked(aws, "ec2")
    status, code, message = refusal(lambda: ec2.create_subnet(CidrBlock="10.0.0.0/24"))
    assert (status, code, message) == (400, "MissingParameter", "The request must contain the parameter vpcId")
    status, code, message = refusal(lambda: ec2.describe_vpcs(MaxResults=1))
    assert (status, code) == (400, "InvalidParameterValue")
    assert message == "Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5."
    status, code, _ = refusal(lambda: ec2.describe_vpcs(MaxResults=1001))
    assert (status, code) == (400, "InvalidParameterValue")
    assert ec2.describe_vpcs(MaxResults=5)["Vpcs"]  # in range: served


def test_ssm_send_command_limits_answer_the_frameworks_validation_exception(aws):
    """SSM service model, SendCommand: Comment at most 100 characters, TimeoutSeconds 30-2592000, InstanceIds at
    most 50, each `(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)` (SendCommand API reference, the same constraints).
    AWS: HTTP 400 ValidationException, "N validation error(s) detected: Value '...' at 'member' failed to satisfy
    constraint: Member must ..." (as SSM answers it: flanksource/config-db#35). All are counted in one message."""
    ssm = unchecked(aws, "ssm")
    status, code, message = refusal(lambda: ssm.send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=["i-0123456789abcdef0"], Comment="x" * 101,
        TimeoutSeconds=10, Parameters={"commands": ["true"]}))
    assert (status, code) == (400, "ValidationException")
    assert message == ("2 validation errors detected: Value '10' at 'timeoutSeconds' failed to satisfy constraint: "
                       "Member must have value greater than or equal to 30; Value '" + "x" * 101 + "' at 'comment' "
                       "failed to satisfy constraint: Member must have length less than or equal to 100")
    ids = [f"i-{n:017x}" for n in range(51)]
    status, code, message = refusal(lambda: ssm.send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=ids, Parameters={"commands": ["true"]}))
    assert code == "ValidationException"
    assert "at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50" in message
    status, code, message = refusal(lambda: ssm.send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=["web-1"], Parameters={"commands": ["true"]}))
    assert message.startswith("1 validation error detected: Value 'web-1' at 'instanceIds.1.member' failed to "
                              "satisfy constraint: Member must satisfy regular expression pattern: ")


def test_ssm_get_command_invocation_needs_a_36_character_command_id(aws):
    """SSM service model, GetCommandInvocation: CommandId is 36 characters (min and max), InstanceId required. moto
    (and the local SSM before) answered InvocationDoesNotExist."""
    ssm = unchecked(aws, "ssm")
    status, code, message = refusal(lambda: ssm.get_command_invocation(CommandId="abc", InstanceId="i-12345678"))
    assert (status, code) == (400, "ValidationException")
    assert message == ("1 validation error detected: Value 'abc' at 'commandId' failed to satisfy constraint: "
                       "Member must have length greater than or equal to 36")


def test_sts_assume_role_session_name_and_duration(aws):
    """STS service model, AssumeRole: RoleSessionName 2-64 characters of `[\\w+=,.@-]*`, DurationSeconds
    900-43200 (AssumeRole API reference, the same). STS (query protocol) answers HTTP 400 ValidationError."""
    sts = unchecked(aws, "sts")
    role = "arn:aws:iam::123456789012:role/anything"
    status, code, message = refusal(lambda: sts.assume_role(RoleArn=role, RoleSessionName="lab 1"))
    assert (status, code) == (400, "ValidationError")
    assert message == ("1 validation error detected: Value 'lab 1' at 'roleSessionName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
    _, _, message = refusal(lambda: sts.assume_role(RoleArn=role, RoleSessionName="s" * 65))
    assert "Member must have length less than or equal to 64" in message
    _, _, message = refusal(lambda: sts.assume_role(RoleArn=role, RoleSessionName="lab-1", DurationSeconds=100))
    assert message.endswith("at 'durationSeconds' failed to satisfy constraint: Member must have value greater "
                            "than or equal to 900")


def test_scheduler_names_and_flexible_time_window(aws):
    """EventBridge Scheduler service model, CreateSchedule: Name 1-64 characters of `[0-9a-zA-Z-_.]+`,
    FlexibleTimeWindow required, its Mode OFF or FLEXIBLE, MaximumWindowInMinutes 1-1440 (CreateSchedule API
    reference, the same). Scheduler (REST-JSON) answers HTTP 400 ValidationException."""
    scheduler = unchecked(aws, "scheduler")
    target = {"Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:x",
              "RoleArn": "arn:aws:iam::123456789012:role/r"}

    def create(**kwargs):
        args = {"Name": "lab-1", "ScheduleExpression": "at(2030-01-01T00:00:00)", "Target": target,
                "FlexibleTimeWindow": {"Mode": "OFF"}}
        return lambda: scheduler.create_schedule(**{**args, **kwargs})

    status, code, message = refusal(create(Name="lab 1"))
    assert (status, code) == (400, "ValidationException")
    assert message == ("1 validation error detected: Value 'lab 1' at 'name' failed to satisfy constraint: Member "
                       "must satisfy regular expression pattern: [0-9a-zA-Z-_.]+")
    _, _, message = refusal(create(FlexibleTimeWindow={"Mode": "SOMETIMES"}))
    assert message == ("1 validation error detected: Value 'SOMETIMES' at 'flexibleTimeWindow.mode' failed to "
                       "satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]")
    _, _, message = refusal(create(FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 2000}))
    assert "Member must have value less than or equal to 1440" in message
    _, _, message = refusal(lambda: scheduler.get_schedule(Name="x" * 65))
    assert "Member must have length less than or equal to 64" in message


def test_lambda_invoke_function_name_and_invocation_type(aws):
    """Lambda service model, Invoke: FunctionName's pattern (a name, an ARN or a partial ARN, with an optional
    qualifier), InvocationType one of Event, RequestResponse, DryRun. Lambda (REST-JSON) answers HTTP 400
    ValidationException. moto answers a name with "/" ResourceNotFoundException and ignores the type."""
    lam = unchecked(aws, "lambda")
    status, code, message = refusal(lambda: lam.invoke(FunctionName="no such/function"))
    assert (status, code) == (400, "ValidationException")
    assert "Value 'no such/function' at 'functionName' failed to satisfy constraint" in message
    status, code, message = refusal(lambda: lam.invoke(FunctionName="f", InvocationType="Later"))
    assert (status, code) == (400, "ValidationException")
    assert message.endswith("Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy "
                            "enum value set: [Event, RequestResponse, DryRun]")


def test_the_rest_routes_find_the_operation_and_its_labels():
    """A REST service's operation is found from its method and path, the most specific route first, labels
    decoded after matching (a label may hold an encoded "/")."""
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/2015-03-31/functions/a%2Fb/invocations?x=1"}
    found = validation.operation_of("lambda", environ, "")
    assert found is not None
    operation, labels = found
    assert (operation.name, labels) == ("Invoke", {"FunctionName": "a/b"})
    found = validation.operation_of("scheduler", {"REQUEST_METHOD": "GET", "RAW_URI": "/schedules/s1"}, "")
    assert found is not None and found[0].name == "GetSchedule"
    assert validation.operation_of("lambda", {"REQUEST_METHOD": "GET", "RAW_URI": "/nowhere"}, "") is None


def test_patterns_are_java_regexes_matched_whole():
    """The models' patterns are Java's (\\p{L}, \\u0009) and constrain the whole value."""
    model = validation.get_service_model("sts")
    shape = model.operation_model("AssumeRole").input_shape
    found = list(validation.check({"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "ok-1",
                                   "Tags": [{"Key": "Größe", "Value": "x y"}]}, shape, "", "query"))
    assert found == []  # \p{L} takes letters of any script, \p{Z} a space
    found = list(validation.check({"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "ok-1",
                                   "Tags": [{"Key": "a*b", "Value": ""}]}, shape, "", "query"))
    assert [v.path for v in found] == ["tags.1.member.key"]
