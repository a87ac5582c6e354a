"""Lambda invokes run the project's real Rust functions; Step Functions names their errors by errorType, so
Retry and Catch on `NotReady` behave as on AWS. Needs the built functions (make test builds them first)."""

import json
import os
from pathlib import Path

import pytest

from conftest import function_zip, trust, wait_for

LAMBDA_DIR = os.environ.get("PEERLAB_LAMBDA_DIR", "")


@pytest.fixture
def functions(start_local):
    if not (Path(LAMBDA_DIR) / "accept-peering").is_file():
        pytest.fail(f"PEERLAB_LAMBDA_DIR={LAMBDA_DIR!r} has no built functions: run `make build-functions` first")
    aws = start_local("--lambda-dir", LAMBDA_DIR)
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))["Role"]["Arn"]
    arns = {}
    for name in ("validate-input", "accept-peering"):
        arns[name] = lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler=name,
                                         Code={"ZipFile": function_zip()}, Timeout=20)["FunctionArn"]
    return aws, arns


def invoke(aws, name: str, payload: dict):
    response = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_invoke_runs_the_rust_function(functions):
    aws, _ = functions
    error, plan = invoke(aws, "validate-input", {"input": {}, "execution_name": "Demo"})
    assert error is None
    assert plan["lab_id"] == "demo" and plan["vpc_b"]["cidr"] == "10.1.0.0/16"


def test_handler_error_is_unhandled_with_its_error_type(functions):
    aws, _ = functions
    error, body = invoke(aws, "validate-input", {"input": {"vpc_a": {"cidr": "8.8.8.0/24"}}, "execution_name": "x"})
    assert error == "Unhandled"
    assert body["errorType"] == "InvalidInput"
    assert "vpc_a.cidr: 8.8.8.0/24 is not inside a private" in body["errorMessage"]


def test_step_functions_retries_and_catches_a_named_error(functions):
    aws, arns = functions
    _, plan = invoke(aws, "validate-input", {"input": {}, "execution_name": "sfn-test"})
    side = {"side": "a", "region": "us-east-1", "vpc_id": "vpc-1", "cidr": "10.0.0.0/16", "subnet_id": "subnet-1",
            "security_group_id": "sg-1", "instance_id": "i-1", "private_ip": "10.0.1.4", "endpoint_ids": []}
    definition = {
        "StartAt": "Accept the peering",
        "States": {
            "Accept the peering": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arns["accept-peering"], "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["NotReady"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
                "Catch": [{"ErrorEquals": ["NotReady"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="retry-catch", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    event = {"lab": plan, "vpc_a": side, "vpc_b": dict(side, side="b"), "peering_id": "pcx-0123456789abcdef0"}
    execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input=json.dumps(event))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                    timeout=60, interval=0.2)
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["error"]["Error"] == "NotReady"
    assert "pcx-0123456789abcdef0 is not visible yet" in json.loads(output["error"]["Cause"])["errorMessage"]
    events = sfn.get_execution_history(executionArn=execution)["events"]
    failures = [e for e in events if e["type"] == "TaskFailed"]
    assert len(failures) == 3  # the first attempt and two retries
    assert {e["taskFailedEventDetails"]["error"] for e in failures} == {"NotReady"}
    assert events[-1]["type"] == "ExecutionSucceeded"
