"""Fault injection: a rate of failing calls, reproducible by seed, each fault answered as its service answers it."""


from botocore.exceptions import ClientError

from conftest import MANY_VPCS, Lab


def outcomes(aws, calls: int = 40) -> list[str]:
    ec2 = aws.client("ec2")
    seen = []
    for _ in range(calls):
        try:
            ec2.describe_vpcs()
            seen.append("ok")
        except ClientError as err:
            seen.append(f"{err.response['ResponseMetadata']['HTTPStatusCode']} {err.response['Error']['Code']}")
    return seen


def test_same_seed_same_faults_other_seed_other_faults(start_local):
    first = outcomes(start_local("--fault-rate", "0.3", "--seed", "7"))
    again = outcomes(start_local("--fault-rate", "0.3", "--seed", "7"))
    other = outcomes(start_local("--fault-rate", "0.3", "--seed", "8"))
    assert first == again
    assert first != other
    # an EC2 call fails with throttling or with EC2's InternalError (faults.py), about 30% of 40 in all
    assert set(first) == {"ok", "503 RequestLimitExceeded", "500 InternalError"}
    assert 4 <= len(first) - first.count("ok") <= 20


def test_no_faults_by_default(aws):
    assert set(outcomes(aws, 20)) == {"ok"}


def test_ssm_is_throttled_with_its_own_error(start_local):
    aws = start_local("--fault-rate", "1", "--seed", "1")
    ssm = aws.client("ssm")
    try:
        ssm.describe_instance_information()
        raise AssertionError("expected throttling")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ThrottlingException"
    faults = aws.get("/peerlab/faults")
    assert list(faults["injected"]) == ["ssm:DescribeInstanceInformation"]
    assert faults["injected"]["ssm:DescribeInstanceInformation"] >= 1


def test_lambda_invoke_is_throttled_but_not_the_control_plane(start_local):
    aws = start_local("--fault-rate", "1", "--seed", "1", "--fault-kinds", "throttling")
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="f", Runtime="provided.al2023", Role=role, Handler="f",
                        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    try:
        lam.invoke(FunctionName="f", Payload=b"{}")
        raise AssertionError("expected throttling")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "TooManyRequestsException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_inventory_lists_live_resources_with_tags(aws):
    lab = Lab(aws).vpcs()
    lab.ec2.create_tags(Resources=[lab.vpc_a], Tags=[{"Key": "peerlab:lab-id", "Value": "x"}])
    listing = aws.get("/peerlab/resources")
    kinds = sorted(r["type"] for r in listing["resources"])
    assert kinds == ["security-group", "security-group", "subnet", "subnet", "vpc", "vpc"]
    tagged = aws.get("/peerlab/resources?tag=peerlab:lab-id=x")["resources"]
    assert [(r["id"], r["tags"]["peerlab:lab-id"]) for r in tagged] == [(lab.vpc_a, "x")]
    with_default = aws.get("/peerlab/resources?all=1")
    assert with_default["count"] > listing["count"]  # moto's default VPC, subnets and gateway


# --- faults beyond throttling (faults.py) ---------------------------------------------------------------------

import json  # noqa: E402

from conftest import function_zip, python_runtime, wait_for  # noqa: E402

# A function with a side effect on the local AWS: it creates a VPC named after its input, then answers. A Python
# `bootstrap` speaking the Lambda Runtime API, so these tests do not wait for the Rust build.
BOOTSTRAP = python_runtime("ec2", """
    vpc = client.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc",
                            "Tags": [{"Key": "Name", "Value": str(event.get("name", "f"))}]}])["Vpc"]["VpcId"]
    answer = {"vpc": vpc}
""")
LAMBDA_KINDS = "TooManyRequestsException,ServiceException,Sandbox.Timedout,Lambda.Unknown"


def once(aws, service: str):
    """A client that never retries, so that each call is one request (and one draw of the fault)."""
    import boto3

    return boto3.client(service, endpoint_url=aws.url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=boto3.session.Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def function(aws, name: str = "f") -> str:
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return aws.client("lambda").create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
                                                Handler="bootstrap", Code={"ZipFile": function_zip(BOOTSTRAP)},
                                                Timeout=3)["FunctionArn"]


def named_vpcs(aws) -> list[str]:
    vpcs = aws.client("ec2").describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["Name"]}])["Vpcs"]
    return sorted(t["Value"] for v in vpcs for t in v["Tags"] if t["Key"] == "Name")


def invoke_outcomes(aws, calls: int) -> list[str]:
    lam, seen = once(aws, "lambda"), []
    for n in range(calls):
        try:
            response = lam.invoke(FunctionName="f", Payload=json.dumps({"name": f"call-{n}"}).encode())
        except ClientError as err:
            seen.append(f"{err.response['ResponseMetadata']['HTTPStatusCode']} {err.response['Error']['Code']}")
            continue
        body = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            seen.append(f"function error {body.get('errorType', '(no errorType)')}: {body['errorMessage']}")
        else:
            seen.append("ok")
    return seen


def test_each_lambda_fault_kind_is_answered_as_lambda_does_and_counted(start_local):
    args = ("--fault-rate", "1", "--seed", "4", "--fault-kinds", LAMBDA_KINDS)  # EC2 calls of the function pass
    aws = start_local(*args, *MANY_VPCS)  # each invocation of the function makes a VPC
    function(aws)
    first = invoke_outcomes(aws, 12)
    kinds = {outcome.split(":")[0] for outcome in first}
    assert kinds == {"429 TooManyRequestsException", "500 ServiceException", "function error Sandbox.Timedout",
                     "function error (no errorType)"}, first
    timed_out = next(o for o in first if o.startswith("function error Sandbox.Timedout"))
    assert timed_out.endswith("Error: Task timed out after 3.00 seconds")
    unknown = next(o for o in first if o.startswith("function error (no errorType)"))
    assert unknown.endswith("Task timed out after 3.00 seconds")
    # the function ran for the two function errors (its VPC exists), not when the invoke itself was refused
    ran = sorted(f"call-{n}" for n, o in enumerate(first) if o.startswith("function error"))
    assert named_vpcs(aws) == ran
    counted = aws.get("/peerlab/faults")
    assert counted["injected"] == {"lambda:Invoke": 12}
    assert sum(counted["by_kind"]["lambda:Invoke"].values()) == 12
    assert set(counted["by_kind"]["lambda:Invoke"]) == set(LAMBDA_KINDS.split(","))
    assert "ec2:CreateVpc" not in counted["injected"]
    # same seed, same calls: the same faults of the same kinds
    again = start_local(*args, *MANY_VPCS)
    function(again)
    strip = [o.split(":")[0] for o in first]
    assert [o.split(":")[0] for o in invoke_outcomes(again, 12)] == strip


def test_ec2_faults_include_internal_error_and_insufficient_capacity(start_local):
    def launches(aws) -> list[tuple[int, str, str]]:
        ec2, seen = once(aws, "ec2"), []
        for _ in range(12):
            try:
                ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")
                seen.append((200, "ok", ""))
            except ClientError as err:
                seen.append((err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"],
                             err.response["Error"]["Message"]))
        return seen

    first = launches(start_local("--fault-rate", "1", "--seed", "2"))
    assert {(status, code) for status, code, _ in first} == {
        (503, "RequestLimitExceeded"), (500, "InternalError"), (500, "InsufficientInstanceCapacity")}, first
    capacity = next(m for _, code, m in first if code == "InsufficientInstanceCapacity")
    assert capacity.startswith("We currently do not have sufficient t3.micro capacity in the Availability Zone "
                               "you requested (us-east-1a). Our system will be working on provisioning additional "
                               "capacity. You can currently get t3.micro capacity by not specifying an "
                               "Availability Zone in your request or choosing us-east-1b"), capacity
    assert next(m for _, code, m in first if code == "InternalError") == "An internal error has occurred"
    aws = start_local("--fault-rate", "1", "--seed", "2")
    assert launches(aws) == first
    by_kind = aws.get("/peerlab/faults")["by_kind"]["ec2:RunInstances"]
    assert by_kind == {code: sum(1 for _, c, _ in first if c == code) for _, code, _ in first}


def test_fault_kinds_is_validated(start_local):
    import pytest

    with pytest.raises(RuntimeError, match="unknown fault kind 'Nope'"):
        start_local("--fault-kinds", "Nope")


def sfn_error(aws, kinds: str) -> dict:
    """The error Step Functions catches when its one Lambda task meets the given fault."""
    arn = function(aws)
    definition = {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": arn, "Payload": {"name": "from-sfn"}},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="one-task", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                    timeout=60, interval=0.2)
    assert done["status"] == "SUCCEEDED", done
    return json.loads(done["output"])["error"]


def test_step_functions_names_lambda_faults_as_on_aws(start_local):
    unknown = sfn_error(start_local("--fault-rate", "1", "--fault-kinds", "Lambda.Unknown"), "Lambda.Unknown")
    assert unknown["Error"] == "Lambda.Unknown"
    assert unknown["Cause"].startswith("The cause could not be determined because Lambda did not return an error "
                                       'type. Returned payload: {"errorMessage":"')
    timed_out = sfn_error(start_local("--fault-rate", "1", "--fault-kinds", "Sandbox.Timedout"), "")
    assert timed_out["Error"] == "Sandbox.Timedout"
    aws = start_local("--fault-rate", "1", "--fault-kinds", "ServiceException")
    service = sfn_error(aws, "")
    assert service["Error"] == "Lambda.ServiceException"
    assert "Status Code: 500; Error Code: ServiceException" in service["Cause"]
    assert named_vpcs(aws) == []  # the function never ran
