"""The peer account as AWS has it: infra/peer-account.yaml deployed as a stack of its own in the second account (as
that member account's administrator, `stack.deploy(..., account=...)`), and STS AssumeRole judged on both sides under
`--iam enforce`: the caller's policies and the role's trust policy (peerlab_local/iam/trust.py).

Before: moto let any session assume any role ARN, existing or not (a cross-account lab "worked" with a role nobody
had created, and the accepter's session then had no policies at all), and a template could only be deployed into the
default account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import LocalAws, policy, python_runtime, wait_for
from peerlab_local.tools import stack

ROOT = Path(__file__).resolve().parents[4]
HOME, PEER = "123456789012", "210987654321"
PEER_TEMPLATE = ROOT / "infra" / "peer-account.yaml"
CRATES = ["validate-input", "create-vpc", "request-peering", "accept-peering", "add-routes", "update-sg",
          "ping-test", "teardown"]
BUILT = os.environ.get("PEERLAB_LAMBDA_DIR", "")
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "lambda.amazonaws.com"}}]}
needs_build = pytest.mark.skipif(not all(os.path.isfile(os.path.join(BUILT, c)) for c in CRATES),
                                 reason="needs the built functions in PEERLAB_LAMBDA_DIR (make build-functions)")


def quiet(*_args):
    pass


def credentials_client(creds: dict, service: str, url: str, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=url, region_name=region, config=NO_RETRY,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


class Accounts:
    """Administrators of the home (default) account and of the member account PEER."""

    def __init__(self, aws: LocalAws):
        self.aws = aws
        self.sts = aws.client("sts")
        self.peer_admin = self.sts.assume_role(RoleArn=f"arn:aws:iam::{PEER}:role/OrganizationAccountAccessRole",
                                               RoleSessionName="admin")["Credentials"]

    def iam(self, account: str):
        if account == HOME:
            return self.aws.client("iam")
        return credentials_client(self.peer_admin, "iam", self.aws.url)

    def role(self, account: str, name: str, trust: dict, *statements) -> str:
        arn = self.iam(account).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if statements:
            self.iam(account).put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
        return arn

    def session(self, role_arn: str, name: str = "s1", **kwargs) -> dict:
        return self.sts.assume_role(RoleArn=role_arn, RoleSessionName=name, **kwargs)["Credentials"]


def assume_error(creds: dict, url: str, **kwargs) -> dict:
    sts = credentials_client(creds, "sts", url)
    with pytest.raises(sts.exceptions.ClientError) as info:
        sts.assume_role(RoleSessionName="hop", **kwargs)
    return info.value.response


def caller_arn(creds: dict, url: str) -> str:
    return credentials_client(creds, "sts", url).get_caller_identity()["Arn"]


# ---- AssumeRole on both sides (local AWS with --iam enforce; no functions needed) --------------------------------


@pytest.fixture(scope="module")
def enforced():
    local = LocalAws("--iam", "enforce")
    yield local
    local.stop()


@pytest.fixture(scope="module")
def accounts(enforced) -> Accounts:
    return Accounts(enforced)


def trusting(*principals, condition=None) -> dict:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": list(principals)}}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def may_assume(resource: str) -> dict:
    return {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource}


def test_the_member_accounts_administrator_role_is_there_for_the_management_account(accounts, enforced):
    assert caller_arn(accounts.peer_admin, enforced.url) == \
        f"arn:aws:sts::{PEER}:assumed-role/OrganizationAccountAccessRole/admin"
    role = accounts.iam(PEER).get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{HOME}:root"}
    # an administrator there: IAM calls of that account are evaluated against its policy (Allow * on *) and pass
    assert accounts.iam(PEER).list_roles()["Roles"]
    # the default account is the management account: it has no such role
    with pytest.raises(enforced.client("iam").exceptions.NoSuchEntityException):
        enforced.client("iam").get_role(RoleName="OrganizationAccountAccessRole")


def test_cross_account_needs_the_callers_policy_and_the_trust_policy(accounts, enforced):
    target = accounts.role(PEER, "xa-target", trusting(f"arn:aws:iam::{HOME}:root"))
    allowed = accounts.session(accounts.role(HOME, "xa-allowed", LAMBDA_TRUST, may_assume(target)))
    hop = credentials_client(allowed, "sts", enforced.url).assume_role(RoleArn=target, RoleSessionName="hop")
    assert hop["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{PEER}:assumed-role/xa-target/hop"

    # the trust policy allows the home account, the caller's own policy does not allow the call
    unallowed = accounts.session(accounts.role(HOME, "xa-unallowed", LAMBDA_TRUST,
                                               may_assume(f"arn:aws:iam::{PEER}:role/other")))
    refused = assume_error(unallowed, enforced.url, RoleArn=target)
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403 and refused["Error"]["Code"] == "AccessDenied"
    assert refused["Error"]["Message"] == (
        f"User: arn:aws:sts::{HOME}:assumed-role/xa-unallowed/s1 is not authorized to perform: sts:AssumeRole on "
        f"resource: {target} because no identity-based policy allows the sts:AssumeRole action")

    # the caller's policy allows it, the trust policy names another account: STS gives no reason
    elsewhere = accounts.role(PEER, "xa-elsewhere", trusting("arn:aws:iam::111122223333:root"))
    refused = assume_error(allowed, enforced.url, RoleArn=elsewhere)
    assert refused["Error"]["Message"] == (f"User: arn:aws:sts::{HOME}:assumed-role/xa-allowed/s1 is not authorized to "
                                           f"perform: sts:AssumeRole on resource: {elsewhere}")
    # a role that does not exist: the same answer (STS does not tell)
    missing = f"arn:aws:iam::{PEER}:role/nobody"
    refused = assume_error(accounts.session(accounts.role(HOME, "xa-any", LAMBDA_TRUST, may_assume("*"))),
                           enforced.url, RoleArn=missing)
    assert refused["Error"]["Message"].endswith(f"is not authorized to perform: sts:AssumeRole on resource: {missing}")
    denied = enforced.get("/peerlab/iam")["denied"]
    assert {"principal": f"arn:aws:sts::{HOME}:assumed-role/xa-allowed/s1", "action": "sts:AssumeRole",
            "resource": elsewhere, "explicit": False, "policy_type": "role trust policy"} in denied


def test_trust_policy_conditions_principal_arn_and_external_id(accounts, enforced):
    target = accounts.role(PEER, "cond-target", trusting(f"arn:aws:iam::{HOME}:root", condition={
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{HOME}:role/lab-*"},
        "StringEquals": {"sts:ExternalId": "shared"}}))
    lab = accounts.session(accounts.role(HOME, "lab-fn", LAMBDA_TRUST, may_assume(target)))
    credentials_client(lab, "sts", enforced.url).assume_role(RoleArn=target, RoleSessionName="hop",
                                                             ExternalId="shared")
    assert assume_error(lab, enforced.url, RoleArn=target)["Error"]["Code"] == "AccessDenied"  # no ExternalId
    assert assume_error(lab, enforced.url, RoleArn=target, ExternalId="guess")["Error"]["Code"] == "AccessDenied"
    other = accounts.session(accounts.role(HOME, "not-lab", LAMBDA_TRUST, may_assume(target)))
    assert assume_error(other, enforced.url, RoleArn=target, ExternalId="shared")["Error"]["Code"] == "AccessDenied"

    # an explicit Deny in the trust policy wins over its Allow
    denying = accounts.role(PEER, "deny-target", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{HOME}:root"}},
        {"Effect": "Deny", "Action": "sts:*", "Principal": {"AWS": f"arn:aws:iam::{HOME}:role/lab-fn"}}]})
    accounts.iam(HOME).put_role_policy(RoleName="lab-fn", PolicyName="more", PolicyDocument=policy(
        may_assume(denying)))
    assert assume_error(lab, enforced.url, RoleArn=denying)["Error"]["Code"] == "AccessDenied"

    # session tags need sts:TagSession in the trust policy too
    tagged = accounts.role(PEER, "tag-target", trusting(f"arn:aws:iam::{HOME}:root"))
    accounts.iam(HOME).put_role_policy(RoleName="lab-fn", PolicyName="tags", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": tagged}))
    refused = assume_error(lab, enforced.url, RoleArn=tagged, Tags=[{"Key": "team", "Value": "net"}])
    assert "sts:TagSession" in refused["Error"]["Message"]


def test_session_duration_within_the_roles_maximum_and_one_hour_when_chained(accounts, enforced):
    target = accounts.role(PEER, "long-target", trusting(f"arn:aws:iam::{HOME}:root"))
    accounts.iam(PEER).update_role(RoleName="long-target", MaxSessionDuration=7200)
    sts = enforced.client("sts")
    sts.assume_role(RoleArn=target, RoleSessionName="admin", DurationSeconds=7200)
    refused = error_of(lambda: sts.assume_role(RoleArn=target, RoleSessionName="admin", DurationSeconds=7201))
    assert refused["Error"] == {"Type": "Sender", "Code": "ValidationError", "Message":
                                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}
    chained = accounts.session(accounts.role(HOME, "chainer", LAMBDA_TRUST, may_assume(target)))
    refused = assume_error(chained, enforced.url, RoleArn=target, DurationSeconds=3601)
    assert refused["Error"]["Message"] == \
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    credentials_client(chained, "sts", enforced.url).assume_role(RoleArn=target, RoleSessionName="hop",
                                                                 DurationSeconds=3600)


def error_of(call) -> dict:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_same_account_trust_naming_the_role_suffices_naming_the_account_does_not(accounts, enforced):
    caller_arn_ = accounts.role(HOME, "same-caller", LAMBDA_TRUST)  # no policy at all
    caller = accounts.session(caller_arn_)
    named = accounts.role(HOME, "same-named", trusting(caller_arn_))
    credentials_client(caller, "sts", enforced.url).assume_role(RoleArn=named, RoleSessionName="hop")
    by_account = accounts.role(HOME, "same-account", trusting(f"arn:aws:iam::{HOME}:root"))
    refused = assume_error(caller, enforced.url, RoleArn=by_account)
    assert refused["Error"]["Message"].endswith("because no identity-based policy allows the sts:AssumeRole action")
    # the role's own policy is enough once the trust policy names the account
    accounts.iam(HOME).put_role_policy(RoleName="same-caller", PolicyName="p", PolicyDocument=policy(
        may_assume(by_account)))
    credentials_client(caller, "sts", enforced.url).assume_role(RoleArn=by_account, RoleSessionName="hop")
    # ... and never without the trust policy: a role trusting only Lambda cannot be assumed by a session
    lambda_only = accounts.role(HOME, "same-lambda-only", LAMBDA_TRUST)
    accounts.iam(HOME).put_role_policy(RoleName="same-caller", PolicyName="p2", PolicyDocument=policy(
        may_assume(lambda_only)))
    refused = assume_error(caller, enforced.url, RoleArn=lambda_only)
    assert refused["Error"]["Message"].endswith(f"on resource: {lambda_only}")


BOOTSTRAP = python_runtime("sts", 'answer = "ran"')


def test_lambda_cannot_run_a_function_whose_role_does_not_trust_lambda(accounts, enforced):
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, BOOTSTRAP)
    lam = enforced.client("lambda")  # conftest: no retries
    good = accounts.role(HOME, "fn-good", LAMBDA_TRUST)
    bad = accounts.role(HOME, "fn-bad", trusting(f"arn:aws:iam::{HOME}:root"))
    for name, role in (("trusting", good), ("not-trusting", bad)):
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                            Code={"ZipFile": archive.getvalue()}, Timeout=30)
    assert json.loads(lam.invoke(FunctionName="trusting", Payload=b"{}")["Payload"].read()) == "ran"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.invoke(FunctionName="not-trusting", Payload=b"{}")
    assert refused.value.response["Error"]["Message"] == \
        "The role defined for the function cannot be assumed by Lambda."
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert {"principal": "lambda.amazonaws.com", "action": "sts:AssumeRole", "resource": bad, "explicit": False,
            "policy_type": "role trust policy"} in enforced.get("/peerlab/iam")["denied"]


def test_stack_deploy_into_the_member_account(accounts, enforced, tmp_path):
    """infra/peer-account.yaml as a stack of the peer account, from the command line (what the e2e tests run)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "infra" / "local")}
    done = subprocess.run([sys.executable, "-m", "peerlab_local.tools.stack", "deploy", "--endpoint", enforced.url,
                           "--account", PEER, "--stack", "peerlab-accepter", "--template", str(PEER_TEMPLATE),
                           "--capabilities", "CAPABILITY_NAMED_IAM", "--parameter", f"HomeAccountId={HOME}",
                           "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"AccepterRoleArn": f"arn:aws:iam::{PEER}:role/peerlab-accepter"}
    role = accounts.iam(PEER).get_role(RoleName="peerlab-accepter")["Role"]
    assert role["MaxSessionDuration"] == 3600
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{HOME}:role/peerlab-*"}}
    assert "side-b" in accounts.iam(PEER).list_role_policies(RoleName="peerlab-accepter")["PolicyNames"]
    # the stack is the member account's, not the default account's
    assert stack.outputs(enforced.url, "peerlab-accepter") == {}
    assert stack.outputs(enforced.url, "peerlab-accepter", account=PEER) == json.loads(done.stdout)
    with pytest.raises(enforced.client("iam").exceptions.NoSuchEntityException):
        enforced.client("iam").get_role(RoleName="peerlab-accepter")
    stack.delete(enforced.url, "peerlab-accepter", account=PEER, out=quiet)
    with pytest.raises(accounts.iam(PEER).exceptions.NoSuchEntityException):
        accounts.iam(PEER).get_role(RoleName="peerlab-accepter")


def test_a_named_role_needs_capability_named_iam(accounts, enforced):
    """peer-account.yaml names its role: CloudFormation refuses it without CAPABILITY_NAMED_IAM (moto ignored
    Capabilities), and an unnamed IAM resource without CAPABILITY_IAM."""
    with pytest.raises(stack.DeployError) as refused:
        stack.deploy(enforced.url, "peerlab-accepter", template=PEER_TEMPLATE, account=PEER, out=quiet,
                     parameters={"HomeAccountId": HOME})  # CAPABILITY_IAM only
    assert str(refused.value) == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    assert stack.outputs(enforced.url, "peerlab-accepter", account=PEER) == {}
    cfn = enforced.client("cloudformation")
    unnamed = json.dumps({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": LAMBDA_TRUST}}}})
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException) as info:
        cfn.create_stack(StackName="unnamed", TemplateBody=unnamed)
    assert info.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    cfn.create_stack(StackName="unnamed", TemplateBody=unnamed, Capabilities=["CAPABILITY_IAM"])
    cfn.delete_stack(StackName="unnamed")


# ---- whole cross-account labs: both stacks deployed, both sides evaluated ----------------------------------------


@pytest.fixture(scope="module")
def labs():
    local = LocalAws("--iam", "enforce", "--profile", "instant", "--lambda-dir", BUILT)
    try:
        # the home stack told about the peer account (PeerAccountIds), as a deployer of cross-account labs sets it
        home = stack.deploy(local.url, "peerlab", lambda_dir=BUILT, out=quiet, parameters={"PeerAccountIds": PEER})
        peer = stack.deploy(local.url, "peerlab-accepter", template=PEER_TEMPLATE, account=PEER, out=quiet,
                            parameters={"HomeAccountId": HOME}, capabilities=["CAPABILITY_NAMED_IAM"])
        local.home, local.peer, local.accounts = home, peer, Accounts(local)  # type: ignore[attr-defined]
        yield local
    finally:
        local.stop()


def run_lab(aws: LocalAws, name: str, event: str) -> dict:
    lab = json.loads((ROOT / "tests" / "events" / event).read_text())
    # the input names the role the peer stack made (its RoleName is fixed, so the input files hold as they are)
    assert lab["peer"]["accepter_role_arn"] == aws.peer["AccepterRoleArn"]  # type: ignore[attr-defined]
    # one lab id per run: the functions derive their RunInstances ClientTokens from it, and EC2 answers a reused
    # token with the instance it launched before (here: the earlier lab's, terminated)
    lab["lab_id"] = name
    sfn = aws.client("stepfunctions")
    machine = aws.home["StateMachineArn"]  # type: ignore[attr-defined]  # set by the labs fixture
    run = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(lab))
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=run["executionArn"]))["status"] != "RUNNING"
                    and d, timeout=600, interval=0.5)


def left(aws: LocalAws) -> list:
    return aws.get("/peerlab/resources")["resources"]


@needs_build
@pytest.mark.parametrize("event", ["peer-account.json", "peer-account-same-region.json"])
def test_a_cross_account_lab_succeeds_through_the_accepter_stack(labs, event):
    done = run_lab(labs, event.split(".")[0], event)
    assert done["status"] == "SUCCEEDED", done
    report = json.loads(done["output"])
    assert report["ping"]["reachable"] is True and report["teardown"]["remaining"] == []
    assert left(labs) == []  # in either account, any region
    assert labs.get("/peerlab/iam")["denied"] == []


@needs_build
def test_a_trust_policy_not_naming_the_labs_roles_fails_the_lab(labs):
    iam = labs.accounts.iam(PEER)
    role = iam.get_role(RoleName="peerlab-accepter")["Role"]
    original = role["AssumeRolePolicyDocument"]
    other = json.loads(json.dumps(original).replace(":role/peerlab-*", ":role/otherstack-*"))
    iam.update_assume_role_policy(RoleName="peerlab-accepter", PolicyDocument=json.dumps(other))
    try:
        done = run_lab(labs, "untrusted", "peer-account-same-region.json")
    finally:
        iam.update_assume_role_policy(RoleName="peerlab-accepter", PolicyDocument=json.dumps(original))
    assert done["status"] == "FAILED", done
    cause = done.get("cause", "") + done.get("error", "")
    assert "AccessDenied" in cause and (f"is not authorized to perform: sts:AssumeRole on resource: "
                                        f"{labs.peer['AccepterRoleArn']}") in cause, cause
    denied = [d for d in labs.get("/peerlab/iam")["denied"] if d["resource"] == labs.peer["AccepterRoleArn"]]
    assert denied and all(d["policy_type"] == "role trust policy" and
                          d["principal"].startswith(f"arn:aws:sts::{HOME}:assumed-role/peerlab-") for d in denied)
    assert left(labs) == []


@needs_build
def test_the_accepter_role_missing_a_statement_is_denied_in_the_peer_account(labs):
    iam = labs.accounts.iam(PEER)
    original = iam.get_role_policy(RoleName="peerlab-accepter", PolicyName="side-b")["PolicyDocument"]
    # without OnlyPeeringsFromTheHomeAccount side B may not accept the peering (A's side withdraws it at teardown)
    fewer = dict(original, Statement=[s for s in original["Statement"]
                                      if s.get("Sid") != "OnlyPeeringsFromTheHomeAccount"])
    iam.put_role_policy(RoleName="peerlab-accepter", PolicyName="side-b", PolicyDocument=json.dumps(fewer))
    try:
        done = run_lab(labs, "unallowed", "peer-account-same-region.json")
    finally:
        iam.put_role_policy(RoleName="peerlab-accepter", PolicyName="side-b", PolicyDocument=json.dumps(original))
    assert done["status"] == "FAILED", done
    denied = [d for d in labs.get("/peerlab/iam")["denied"] if d["principal"].startswith(
        f"arn:aws:sts::{PEER}:assumed-role/peerlab-accepter/")]
    assert denied, (done, labs.get("/peerlab/iam"))
    first = denied[0]
    assert first["action"] == "ec2:AcceptVpcPeeringConnection", first
    assert first["policy_type"] == "identity-based policy" and not first["explicit"], first
    assert first["resource"].startswith(f"arn:aws:ec2:us-east-1:{PEER}:vpc-peering-connection/pcx-"), first
    cause = done.get("cause", "")
    assert "UnauthorizedOperation" in cause and "ec2:AcceptVpcPeeringConnection" in cause, cause
    assert first["resource"] in cause, cause
    assert left(labs) == []


# ---- the narrowed grants (issue 23): AMIs only Amazon's, accepter roles only in the accounts the stack is told about


def stack_role_session(aws: LocalAws, logical_id: str, account: str = HOME) -> dict:
    """A session of a role of the home stack (or of the peer stack in `account`), assumed with administrator keys
    (which may assume anything): the role's own policies judge what it does, as for the function using it."""
    cfn = aws.client("cloudformation") if account == HOME else credentials_client(
        aws.accounts.peer_admin, "cloudformation", aws.url)  # type: ignore[attr-defined]
    name = "peerlab" if account == HOME else "peerlab-accepter"
    listed = cfn.describe_stack_resources(StackName=name)["StackResources"]
    role = next(r["PhysicalResourceId"] for r in listed if r["LogicalResourceId"] == logical_id)
    return aws.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                         RoleSessionName="grants")["Credentials"]


def lab_place(ec2) -> tuple[str, str]:
    """A subnet and a group of a lab (tagged as create-vpc tags them), made by the account's administrator."""
    tags = [{"Key": "peerlab:lab-id", "Value": "grants"}]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])
    vpc_id = vpc["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1a",
                               TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}])["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc_id, GroupName="grants", Description="grants",
                                      TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}])
    return subnet, group["GroupId"]


def run_from(ec2, image: str, subnet: str, group: str):
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                             SecurityGroupIds=[group], TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                 {"Key": "peerlab:lab-id", "Value": "grants"}]}])


@needs_build
@pytest.mark.parametrize("account,role", [(HOME, "CreateVpcRole"), (PEER, "AccepterRole")])
def test_an_instance_only_from_amazons_images(labs, account, role):
    """RunOnlyAmazonsImages (both templates): the AMI must be Amazon's (ec2:Owner amazon); one the account made
    itself (CreateImage) is refused on the image, as AWS names it; the AL2023 image the lab's SSM parameter resolves
    to is Amazon's and allowed."""
    admin_ec2 = labs.client("ec2") if account == HOME else credentials_client(
        labs.accounts.peer_admin, "ec2", labs.url)
    subnet, group = lab_place(admin_ec2)
    amazons = labs.client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    seed = run_from(admin_ec2, amazons, subnet, group)["Instances"][0]["InstanceId"]
    own = admin_ec2.create_image(InstanceId=seed, Name=f"not-amazons-{account}")["ImageId"]
    assert admin_ec2.describe_images(ImageIds=[own])["Images"][0]["OwnerId"] == account
    ec2 = credentials_client(stack_role_session(labs, role, account), "ec2", labs.url)
    with pytest.raises(ClientError) as refused:
        run_from(ec2, own, subnet, group)
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Code"] == "UnauthorizedOperation", error
    assert (f"is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1::image/{own} "
            "because no identity-based policy allows the ec2:RunInstances action") in error["Message"], error
    launched = run_from(ec2, amazons, subnet, group)["Instances"][0]["InstanceId"]
    admin_ec2.terminate_instances(InstanceIds=[launched, seed])


@needs_build
def test_accepter_roles_only_in_the_accounts_the_stack_is_told_about(labs):
    """SideBInThePeerAccount: sts:AssumeRole on PeerRoleNamePrefix* only where aws:ResourceAccount is listed in
    PeerAccountIds (PEER here) or the stack's own. A third account holding the same accepter stack, trusting the
    home stack's roles, is still refused by the caller's own policy."""
    third = "444455556666"
    done = stack.deploy(labs.url, "peerlab-accepter", template=PEER_TEMPLATE, account=third, out=quiet,
                        parameters={"HomeAccountId": HOME}, capabilities=["CAPABILITY_NAMED_IAM"])
    stranger = done["AccepterRoleArn"]
    assert stranger == f"arn:aws:iam::{third}:role/peerlab-accepter"
    try:
        for role in ("CreateVpcRole", "AcceptPeeringRole", "TeardownRole"):
            creds = stack_role_session(labs, role)
            sts = credentials_client(creds, "sts", labs.url)
            listed = sts.assume_role(RoleArn=labs.peer["AccepterRoleArn"], RoleSessionName="side-b")
            assert listed["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{PEER}:assumed-role/peerlab-accepter/")
            response = assume_error(creds, labs.url, RoleArn=stranger)
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert response["Error"]["Code"] == "AccessDenied", response
            assert (f"is not authorized to perform: sts:AssumeRole on resource: {stranger} because no "
                    "identity-based policy allows the sts:AssumeRole action") in response["Error"]["Message"], response
        denied = [d for d in labs.get("/peerlab/iam")["denied"] if d["resource"] == stranger]
        assert denied and all(d["policy_type"] == "identity-based policy" for d in denied), denied
    finally:
        stack.delete(labs.url, "peerlab-accepter", account=third, out=quiet)
