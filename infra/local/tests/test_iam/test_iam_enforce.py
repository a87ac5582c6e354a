"""`--iam enforce`: calls signed with a role session's credentials (STS AssumeRole) are evaluated against the role's
policies as AWS evaluates them, and refused as AWS refuses them (peerlab_local/iam/enforce.py).

The calls used here authorize on resource "*" (Describe*, List*: the Service Authorization Reference lists no
resource type for them), so they hold whether iam_context models them or not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import LocalAws, Patient, policy, trust

ACCOUNT = "123456789012"
TRUST = trust("lambda.amazonaws.com")
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def aws():
    local = LocalAws("--iam", "enforce")
    yield local
    local.stop()


class Roles:
    def __init__(self, aws: LocalAws):
        self.aws = aws
        self.iam = aws.client("iam")
        self.sts = aws.client("sts")

    def make(self, name: str, *statements, managed: tuple[str, ...] = (), boundary: str | None = None, tags=None):
        kwargs: dict[str, object] = {"PermissionsBoundary": boundary} if boundary else {}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, **kwargs)
        if statements:
            self.iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
        for arn in managed:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return name

    def session(self, name: str, session_policy: str | None = None) -> boto3.Session:
        kwargs = {"Policy": session_policy} if session_policy else {}
        creds = self.sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="s1",
                                     **kwargs)["Credentials"]
        return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"], region_name="us-east-1")

    def client(self, name: str, service: str, session_policy: str | None = None):
        return self.session(name, session_policy).client(service, endpoint_url=self.aws.url, config=NO_RETRY)


@pytest.fixture(scope="module")
def roles(aws) -> Roles:
    return Roles(aws)


def error(call):
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_off_by_default_a_role_session_may_do_anything(start_local):
    aws = start_local()
    assert aws.get("/peerlab/config")["iam"] == "off"
    local = Roles(aws)
    local.make("nothing")
    local.client("nothing", "ec2").describe_vpcs()
    assert aws.get("/peerlab/iam")["mode"] == "off"


def test_config_shows_enforce(aws):
    assert aws.get("/peerlab/config")["iam"] == "enforce"


def test_allowed_action_passes_and_other_actions_are_unauthorized_operation(aws, roles):
    roles.make("describer", {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})
    ec2 = roles.client("describer", "ec2")
    ec2.describe_vpcs()
    ec2.describe_subnets()
    admin = aws.client("ec2")
    before = len(admin.describe_vpcs()["Vpcs"])
    response = error(lambda: ec2.create_vpc(CidrBlock="10.9.0.0/16"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "UnauthorizedOperation"
    text = response["Error"]["Message"]
    assert re.fullmatch(
        rf"You are not authorized to perform this operation\. User: arn:aws:sts::{ACCOUNT}:assumed-role/describer/s1 "
        r"is not authorized to perform: ec2:CreateVpc( on resource: \S+)? because no identity-based policy allows "
        r"the ec2:CreateVpc action\. Encoded authorization failure message: [A-Za-z0-9_=-]+", text), text
    assert len(admin.describe_vpcs()["Vpcs"]) == before  # refused before moto ran it


def test_administrator_credentials_stay_allowed(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    assert vpc.startswith("vpc-")


def test_encoded_message_decodes_with_sts(aws, roles):
    roles.make("decoder", {"Effect": "Allow", "Action": ["ec2:DescribeVpcs", "sts:DecodeAuthorizationMessage"],
                           "Resource": "*"})
    ec2 = roles.client("decoder", "ec2")
    text = error(lambda: ec2.describe_subnets())["Error"]["Message"]
    encoded = text.rsplit("Encoded authorization failure message: ", 1)[1]
    for sts in (aws.client("sts"), roles.client("decoder", "sts")):
        decoded = json.loads(sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
        assert decoded["allowed"] is False and decoded["explicitDeny"] is False
        assert decoded["matchedStatements"] == {"items": []} and decoded["failures"] == {"items": []}
        context = decoded["context"]
        assert context["action"] == "ec2:DescribeSubnets" and context["resource"] == "*"
        assert context["principal"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/decoder/s1"
        keys = {item["key"]: item["values"]["items"][0]["value"] for item in context["conditions"]["items"]}
        assert keys["aws:PrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:role/decoder"
        assert keys["aws:RequestedRegion"] == "us-east-1"
    bad = error(lambda: aws.client("sts").decode_authorization_message(EncodedMessage="not-ours"))
    assert bad["Error"]["Code"] == "InvalidAuthorizationMessageException"


def test_decoding_needs_permission_too(aws, roles):
    roles.make("nodecode", {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    sts = roles.client("nodecode", "sts")
    response = error(lambda: sts.decode_authorization_message(EncodedMessage="x"))
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "is not authorized to perform: sts:DecodeAuthorizationMessage because no identity-based policy allows" \
        in response["Error"]["Message"]
    sts.get_caller_identity()  # needs no permission on AWS


def test_explicit_deny_wins_and_is_decoded(aws, roles):
    roles.make("denied", {"Sid": "All", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
               {"Sid": "NoSubnets", "Effect": "Deny", "Action": "ec2:DescribeSubnets", "Resource": "*"})
    ec2 = roles.client("denied", "ec2")
    ec2.describe_vpcs()
    text = error(lambda: ec2.describe_subnets())["Error"]["Message"]
    assert (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/denied/s1 is not authorized to perform: ec2:DescribeSubnets "
            "with an explicit deny in an identity-based policy.") in text
    decoded = json.loads(aws.client("sts").decode_authorization_message(
        EncodedMessage=text.rsplit(": ", 1)[1])["DecodedMessage"])
    assert decoded["explicitDeny"] is True
    [statement] = decoded["matchedStatements"]["items"]
    assert statement["statementId"] == "NoSubnets" and statement["effect"] == "DENY"
    assert statement["actions"]["items"] == [{"value": "ec2:DescribeSubnets"}]


def test_json_service_answers_access_denied_exception(aws, roles):
    roles.make("nostates", {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    response = error(lambda: roles.client("nostates", "stepfunctions").list_state_machines())
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/nostates/s1 is not authorized to perform: "
        "states:ListStateMachines because no identity-based policy allows the states:ListStateMachines action")
    lam = error(lambda: roles.client("nostates", "lambda").list_functions())
    assert lam["Error"]["Code"] == "AccessDeniedException"
    assert lam["ResponseMetadata"]["HTTPStatusCode"] == 403
    report = aws.get("/peerlab/iam")
    assert report["mode"] == "enforce"
    assert any(d["action"] == "states:ListStateMachines" for d in report["denied"])


def test_unmodelled_action_is_evaluated_on_star_and_listed(aws, roles):
    """An action iam_context does not model (it names a resource) is judged on "*" and listed by GET /peerlab/iam."""
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:nowhere"
    roles.make("sfn-reader", {"Effect": "Allow", "Action": "states:List*", "Resource": "*"})
    sfn = roles.client("sfn-reader", "stepfunctions")
    sfn.list_state_machines()
    response = error(lambda: sfn.describe_state_machine(stateMachineArn=arn))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "states:DescribeStateMachine because no identity-based policy allows" in response["Error"]["Message"]
    assert aws.get("/peerlab/iam")["unmodelled"]["states:DescribeStateMachine"] >= 1
    roles.make("sfn-all", {"Effect": "Allow", "Action": "states:*", "Resource": "*"})
    missing = error(lambda: roles.client("sfn-all", "stepfunctions").describe_state_machine(stateMachineArn=arn))
    assert missing["Error"]["Code"] == "StateMachineDoesNotExist"  # allowed: moto answers


def test_query_service_answers_access_denied(aws, roles):
    roles.make("noiam", {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    response = error(lambda: roles.client("noiam", "iam").list_roles())
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "is not authorized to perform: iam:ListRoles" in response["Error"]["Message"]


def test_managed_policy_and_ssm_answered_by_the_local_aws(aws, roles):
    """AmazonSSMManagedInstanceCore (an AWS managed policy) allows ssm:UpdateInstanceInformation but not
    DescribeInstanceInformation, which the local AWS answers itself (server.py), not moto."""
    roles.make("instance", managed=["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"])
    ssm = roles.client("instance", "ssm")
    response = error(lambda: ssm.describe_instance_information())
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "ssm:DescribeInstanceInformation because no identity-based policy allows" in response["Error"]["Message"]
    roles.make("operator", {"Effect": "Allow", "Action": "ssm:DescribeInstanceInformation", "Resource": "*"})
    roles.client("operator", "ssm").describe_instance_information()


def test_permissions_boundary_must_also_allow(aws, roles):
    boundary = aws.client("iam").create_policy(PolicyName="only-vpcs", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}))["Policy"]["Arn"]
    roles.make("bounded", {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}, boundary=boundary)
    ec2 = roles.client("bounded", "ec2")
    ec2.describe_vpcs()
    text = error(lambda: ec2.describe_subnets())["Error"]["Message"]
    assert "because no permissions boundary allows the ec2:DescribeSubnets action" in text


def test_session_policy_must_also_allow(aws, roles):
    roles.make("wide", {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
    narrow = policy({"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    ec2 = roles.client("wide", "ec2", session_policy=narrow)
    ec2.describe_vpcs()
    text = error(lambda: ec2.describe_subnets())["Error"]["Message"]
    assert "because no session policy allows the ec2:DescribeSubnets action" in text
    roles.client("wide", "ec2").describe_subnets()  # the role itself may


def test_principal_tags_and_variables_in_context(aws, roles):
    roles.make("blue", {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue",
                                                       "aws:PrincipalAccount": "${aws:PrincipalAccount}"}}},
               tags={"team": "blue"})
    roles.client("blue", "ec2").describe_vpcs()
    roles.make("red", {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}, tags={"team": "red"})
    assert error(lambda: roles.client("red", "ec2").describe_vpcs())["Error"]["Code"] == "UnauthorizedOperation"


CONTEXT_MODULE = Path(__file__).resolve().parents[2] / "peerlab_local" / "iam" / "context.py"


@pytest.mark.skipif(not CONTEXT_MODULE.exists(), reason="needs iam_context.py (what a call touches), merged separately")
def test_resource_level_permissions_with_tags(aws, roles):
    """With iam_context: CreateVpc authorizes on arn:...:vpc/* with the request's tags, and its TagSpecifications as
    ec2:CreateTags with ec2:CreateAction (EC2 User Guide, "Grant permission to tag Amazon EC2 resources during
    creation"); DeleteVpc on the VPC with its tags as aws:ResourceTag."""
    roles.make("tagger",
               {"Effect": "Allow", "Action": "ec2:CreateVpc", "Resource": "arn:aws:ec2:*:*:vpc/*",
                "Condition": {"StringEquals": {"aws:RequestTag/lab": "yes"}}},
               {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVpc"}}},
               {"Effect": "Allow", "Action": "ec2:DeleteVpc", "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/lab": "yes"}}})
    ec2 = roles.client("tagger", "ec2")

    def create(value):
        return ec2.create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "lab", "Value": value}]}])["Vpc"]["VpcId"]

    mine = create("yes")
    text = error(lambda: create("no"))["Error"]["Message"]
    assert f"ec2:CreateVpc on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/* because no identity-based policy" in text
    other = aws.client("ec2").create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    denied = error(lambda: ec2.delete_vpc(VpcId=other))
    assert denied["Error"]["Code"] == "UnauthorizedOperation"
    assert f"on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{other}" in denied["Error"]["Message"]
    patient = Patient(ec2)
    patient.delete_vpc(VpcId=mine)


def test_in_process_assume_gives_a_session_the_enforcement_judges():
    """iam_enforce.assume(): what the local Lambda/Step Functions/Scheduler give their code (their role's session)."""
    from moto import mock_aws

    from peerlab_local.iam import enforce as iam_enforce
    from peerlab_local.iam.model import Request

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(RoleName="fn", PolicyName="p", PolicyDocument=policy(
            {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}))
        creds = iam_enforce.assume(f"arn:aws:iam::{ACCOUNT}:role/fn", "peerlab-fn", "us-east-1")
        assert creds["AccessKeyId"] and creds["SessionToken"]
        session = iam_enforce.session_for(creds["AccessKeyId"])
        assert session is not None
        assert session.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn/peerlab-fn"
        assert iam_enforce.authorize(session, [Request("ec2:DescribeVpcs", "*")], "us-east-1") is None
        denial = iam_enforce.authorize(session, [Request("ec2:DescribeSubnets", "*")], "us-east-1")
        assert denial is not None and not denial.explicit and denial.policy_type == "identity-based policy"
        assert iam_enforce.session_for("test") is None  # administrator keys


def test_network_acl_calls_are_judged_on_the_acl_with_its_tags_and_none_is_unmodelled(aws, roles):
    """The break-and-fix exercise's calls (iam_context: the SAR's network-acl rows): a role allowed them only on a
    lab-tagged ACL (aws:RequestTag at creation, aws:ResourceTag after) may make and unmake one, and not an untagged
    one; each is judged on its ACL, so none is evaluated on "*" as unmodelled."""
    lab = {"StringEquals": {"aws:ResourceTag/lab": "yes"}}
    roles.make("acl-maker",
               {"Effect": "Allow", "Action": "ec2:CreateNetworkAcl", "Resource": "arn:aws:ec2:*:*:network-acl/*",
                "Condition": {"StringEquals": {"aws:RequestTag/lab": "yes"}}},
               {"Effect": "Allow", "Action": "ec2:CreateNetworkAcl", "Resource": "arn:aws:ec2:*:*:vpc/*"},
               {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*:*:network-acl/*",
                "Condition": {"StringEquals": {"ec2:CreateAction": "CreateNetworkAcl"}}},
               {"Effect": "Allow", "Action": ["ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAclEntry",
                                              "ec2:ReplaceNetworkAclAssociation", "ec2:DeleteNetworkAcl"],
                "Resource": "arn:aws:ec2:*:*:network-acl/*", "Condition": lab},
               {"Effect": "Allow", "Action": "ec2:ReplaceNetworkAclAssociation",
                "Resource": "arn:aws:ec2:*:*:subnet/*"},
               {"Effect": "Allow", "Action": "ec2:DescribeNetworkAcls", "Resource": "*"})
    admin = Patient(aws.client("ec2"))
    vpc = admin.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    subnet = admin.create_subnet(VpcId=vpc, CidrBlock="10.5.1.0/24")["Subnet"]["SubnetId"]
    ec2 = Patient(roles.client("acl-maker", "ec2"))

    def create(value):
        return ec2.create_network_acl(VpcId=vpc, TagSpecifications=[
            {"ResourceType": "network-acl", "Tags": [{"Key": "lab", "Value": value}]}])["NetworkAcl"]["NetworkAclId"]

    acl = create("yes")
    refused = error(lambda: create("no"))
    assert refused["Error"]["Code"] == "UnauthorizedOperation"
    assert f"ec2:CreateNetworkAcl on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:network-acl/*" in \
        refused["Error"]["Message"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Protocol="1", RuleAction="deny", Egress=False,
                                 CidrBlock="10.6.0.0/16", IcmpTypeCode={"Type": -1, "Code": -1})
    ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Egress=False)

    def association() -> str:
        found = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
        return next(a["NetworkAclAssociationId"] for n in found["NetworkAcls"] for a in n["Associations"]
                    if a["SubnetId"] == subnet)

    ec2.replace_network_acl_association(AssociationId=association(), NetworkAclId=acl)
    default = next(n["NetworkAclId"] for n in ec2.describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}])["NetworkAcls"])
    back = error(lambda: ec2.replace_network_acl_association(AssociationId=association(), NetworkAclId=default))
    assert back["Error"]["Code"] == "UnauthorizedOperation"  # the default ACL is not tagged lab=yes
    assert f"on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:network-acl/{default}" in back["Error"]["Message"]
    admin.replace_network_acl_association(AssociationId=association(), NetworkAclId=default)
    ec2.delete_network_acl(NetworkAclId=acl)
    unmodelled = aws.get("/peerlab/iam")["unmodelled"]
    assert not [a for a in unmodelled if "NetworkAcl" in a], unmodelled
