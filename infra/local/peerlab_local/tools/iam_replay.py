"""Which recorded call each policy statement is needed for: the calls `--iam enforce` evaluated (GET
/peerlab/iam/evaluated, iam/enforce.py's remember) evaluated again, with the local AWS's one evaluator
(iam/evaluation.py), against the role's policies with one statement removed; the policies are read back from IAM
and read by iam/policy.py, as enforcement reads them.

    python -m peerlab_local.tools.iam_replay --endpoint URL [--stack NAME] [--json]

prints, for each statement (role, Sid) of the stack's roles, the first recorded call of that role the policies
without it deny (the action and resource IAM would name in the denial), or that no recorded call needs it.

Why this says what a real removal would: a call is allowed when every Request it makes is allowed, and AWS's
evaluation of one Request depends only on the policies and the Request's context ("Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). Removing an Allow
statement cannot make another statement apply or stop applying, so a recorded Request is denied without the
statement exactly when no other Allow of the identity-based policies matches it. The replay re-evaluates each
recorded Request (its full context, as enforcement built it) with `evaluation.evaluate` — the same evaluation the
local AWS ran — instead of trusting the recorded matches. What it cannot see: calls the workflow would have made
after the first denial (a real run stops or goes another way there), so the first denied call is what a real run
with the statement removed is refused first *among the calls this run made in this order*; infra/local/tests/
test_statements.py runs a few real removals to show the two agree.

A statement no recorded call needs is either not needed (another statement allows all its calls) or not exercised by
the labs that ran (e.g. SideBInThePeerAccount is used only by peer-account inputs): `covered_by` tells which.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import urllib.request
from dataclasses import dataclass, field

from peerlab_local.iam import policy
from peerlab_local.iam.evaluation import evaluate, glob_match, matching_statements
from peerlab_local.iam.model import Request


@dataclass
class Statement:
    role: str  # role name (the deployed physical name)
    policy: str  # inline policy name, or a managed policy's ARN (as iam_enforce names them)
    index: int
    sid: str | None
    document: dict = field(repr=False, default_factory=dict)

    @property
    def label(self) -> str:
        return self.sid or f"#{self.index} of {self.policy}"


@dataclass
class Needed:
    """What removing one statement does to the recorded calls of its role."""
    statement: Statement
    first: dict | None  # the first recorded call denied: seq, session, call action, action, resource
    denied_calls: int  # how many recorded calls would have been denied
    calls_of_role: int  # how many recorded (allowed) calls the role made
    covered_by: list[str]  # statements that still allow every recorded request this one matched (not needed)
    actions_unused: list[str]  # actions the statement grants that no recorded request matched through it

    def as_dict(self) -> dict:
        return {"role": self.statement.role, "policy": self.statement.policy, "index": self.statement.index,
                "sid": self.statement.sid, "first_denied": self.first, "denied_calls": self.denied_calls,
                "calls_of_role": self.calls_of_role, "covered_by": self.covered_by,
                "actions_unused": self.actions_unused}


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def role_policies(iam, name: str) -> list[tuple[str, dict]]:
    """A role's identity-based policies as iam_enforce evaluates them: inline ones by name, attached managed ones by
    ARN (their default version), read with an administrator's IAM client."""
    found = []
    for inline in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=inline)["PolicyDocument"]
        found.append((inline, policy.read(document)))
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        found.append((arn, policy.read(document)))
    return found


def statements(role: str, policies: list[tuple[str, dict]]) -> list[Statement]:
    found = []
    for name, document in policies:
        for index, statement in enumerate(policy.statements(document)):
            found.append(Statement(role, name, index, statement.get("Sid"), statement))
    return found


def without(policies: list[tuple[str, dict]], statement: Statement) -> list[tuple[str, dict]]:
    """The policies with that one statement removed."""
    changed = []
    for name, document in policies:
        if name == statement.policy:
            listed = copy.deepcopy(policy.statements(document))
            del listed[statement.index]
            document = policy.with_statements(document, listed)
        changed.append((name, document))
    return changed


def requests_of(call: dict) -> list[Request]:
    """The call's Requests with the context enforcement evaluated (the principal's keys merged in)."""
    base = call.get("principal_context") or {}
    return [Request(r["action"], r["resource"], {**base, **(r.get("context") or {})}) for r in call["requests"]]


def calls_of(calls: list[dict], role: str) -> list[dict]:
    """The role's recorded calls that were allowed (a denied one proves nothing about a statement)."""
    return [c for c in calls if role_name(c["role"]) == role and c.get("allowed")]


def _actions(statement: dict) -> list[str]:
    return [str(a) for a in policy.as_list(statement.get("Action"))]


def needed(statement: Statement, policies: list[tuple[str, dict]], calls: list[dict]) -> Needed:
    """Evaluate every recorded call of the statement's role against the policies without it."""
    reduced = without(policies, statement)
    mine = calls_of(calls, statement.role)
    first, denied, covered, matched_actions = None, 0, set(), set()
    for call in mine:
        refused = None
        for request in requests_of(call):
            if any(m.policy == statement.policy and m.index == statement.index
                   for m in matching_statements([(statement.policy, _policy(policies, statement.policy))], request)):
                matched_actions.add(request.action.lower())
                decision = evaluate(reduced, request)
                if decision.allowed:
                    covered.add(decision.statement or "?")
            else:
                decision = evaluate(reduced, request)
            if not decision.allowed and refused is None:
                refused = request
        if refused is not None:
            denied += 1
            if first is None:
                first = {"seq": call.get("seq"), "session": call.get("session"), "principal": call.get("principal"),
                         "call": call["action"], "action": refused.action, "resource": refused.resource}
    unused = [a for a in _actions(statement.document)
              if not any(glob_match(a, seen, ignore_case=True) for seen in matched_actions)]
    return Needed(statement, first, denied, len(mine), sorted(covered) if first is None else [], unused)


def _policy(policies: list[tuple[str, dict]], name: str) -> dict:
    return next(document for n, document in policies if n == name)


def replay(calls: list[dict], roles: dict[str, list[tuple[str, dict]]]) -> list[Needed]:
    """For each statement of each role ({role name: policies}), what removing it does to the recorded calls."""
    return [needed(s, policies, calls) for role, policies in roles.items() for s in statements(role, policies)]


# ---- against a running local AWS ---------------------------------------------------------------------------------


def fetch_evaluated(endpoint: str, since: int = 0) -> dict:
    with urllib.request.urlopen(f"{endpoint.rstrip('/')}/peerlab/iam/evaluated?since={since}", timeout=60) as r:
        return json.loads(r.read())


def stack_roles(endpoint: str, stack: str, region: str = "us-east-1") -> dict[str, str]:
    """{logical id: role name} of the stack's AWS::IAM::Role resources."""
    import boto3

    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                       aws_secret_access_key="test")
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
            if r["ResourceType"] == "AWS::IAM::Role"}


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(prog="python -m peerlab_local.tools.iam_replay",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", default="peerlab")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    iam = boto3.client("iam", endpoint_url=args.endpoint, region_name=args.region, aws_access_key_id="test",
                       aws_secret_access_key="test")
    logical = stack_roles(args.endpoint, args.stack, args.region)
    roles = {name: role_policies(iam, name) for name in logical.values()}
    names = {name: lid for lid, name in logical.items()}
    data = fetch_evaluated(args.endpoint)
    found = replay(data["calls"], roles)
    if args.json:
        print(json.dumps({"dropped": data["dropped"], "statements": [
            dict(n.as_dict(), logical_id=names[n.statement.role]) for n in found]}, indent=1))
        return 0
    if data["dropped"]:
        print(f"note: {data['dropped']} older calls were no longer kept", file=sys.stderr)
    for n in found:
        where = f"{names[n.statement.role]}/{n.statement.label}"
        if n.first:
            print(f"{where:60} needed: {n.first['action']} on {n.first['resource']} ({n.denied_calls} of "
                  f"{n.calls_of_role} calls)")
        elif n.covered_by:
            print(f"{where:60} NOT NEEDED: its requests are allowed by {', '.join(n.covered_by)}")
        else:
            print(f"{where:60} not exercised by the recorded calls")
        if n.actions_unused and n.first:
            print(f"{'':60}   actions never used through it: {', '.join(n.actions_unused)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
