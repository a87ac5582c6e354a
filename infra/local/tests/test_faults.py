"""Fault injection: throttling at a rate, reproducible by seed, with each service's own error."""


from botocore.exceptions import ClientError
from conftest import Lab


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
    assert set(first) == {"ok", "503 RequestLimitExceeded"}
    assert 4 <= first.count("503 RequestLimitExceeded") <= 20  # about 30% of 40


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
    aws = start_local("--fault-rate", "1", "--seed", "1")
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
