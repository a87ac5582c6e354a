"""The IAM core (peerlab_local/iam/README.md): one reader of policy documents (policy.py), one evaluator of identity and
trust policies (evaluation.py), hooked into our other modules through their registration points. The defects issue
21 found are test_iam_defects.py's."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import pytest

from peerlab_local.core import patching
from peerlab_local.iam import policy, trust
from peerlab_local.iam.evaluation import Caller, evaluate_trust
from peerlab_local.iam.model import Request

PACKAGE = Path(policy.__file__).resolve().parents[1]  # peerlab_local/
V = "2012-10-17"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/target"


# ---- one reader of policy documents -------------------------------------------------------------------------------

DOCUMENT = {"Version": V, "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
                                         "Principal": {"Service": "lambda.amazonaws.com"}}}


@pytest.mark.parametrize("form", [
    DOCUMENT,  # a dict
    json.dumps(DOCUMENT),  # moto's stored JSON
    urllib.parse.quote(json.dumps(DOCUMENT)),  # as IAM's API returns documents: URL-encoded (RFC 3986)
    json.dumps(DOCUMENT).encode(),
])
def test_the_reader_takes_every_form_a_document_comes_in(form):
    assert policy.read(form) == DOCUMENT
    # "The Statement element can contain a single statement or an array of individual statements"
    assert policy.statements(form) == [DOCUMENT["Statement"]]


def test_no_document_is_a_policy_without_statements_and_garbage_is_an_error():
    assert policy.statements(None) == [] and policy.statements("") == []
    with pytest.raises(ValueError):
        policy.read("not a policy")
    with pytest.raises(ValueError):
        policy.read("[1, 2]")


# ---- one evaluator for trust policies --------------------------------------------------------------------------


def _trust(*statements: dict, caller: Caller, **context):
    return evaluate_trust(json.dumps({"Version": V, "Statement": list(statements)}), caller,
                          Request("sts:AssumeRole", ROLE, dict(context)))


SCHEDULER = {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}


def test_a_service_principal_is_named_exactly_or_by_its_regional_name():
    # "You cannot use a wildcard to match part of a principal name or ARN" (AWS JSON policy elements: Principal)
    assert _trust(SCHEDULER, caller=Caller.service("scheduler.amazonaws.com")).allowed
    assert not _trust(dict(SCHEDULER, Principal={"Service": "scheduler.*"}),
                      caller=Caller.service("scheduler.amazonaws.com")).allowed
    regional = dict(SCHEDULER, Principal={"Service": "states.us-east-1.amazonaws.com"})
    assert _trust(regional, caller=Caller.service("states.amazonaws.com", "us-east-1")).allowed
    assert not _trust(regional, caller=Caller.service("states.amazonaws.com")).allowed
    assert _trust(dict(SCHEDULER, Principal="*"), caller=Caller.service("scheduler.amazonaws.com")).allowed
    assert _trust(dict(SCHEDULER, Principal={"AWS": "*"}), caller=Caller.service("scheduler.amazonaws.com")).allowed


@pytest.mark.parametrize("condition", [
    {"StringNotEquals": {"aws:SourceAccount": "111122223333"}},
    {"ArnNotLike": {"aws:SourceArn": f"arn:aws:scheduler:*:{ACCOUNT}:schedule/default/other"}},
    {"StringLike": {"aws:SourceArn": "arn:aws:scheduler:*"}},
])
def test_an_explicit_deny_in_a_trust_policy_wins_whatever_its_operator(condition):
    deny = dict(SCHEDULER, Effect="Deny", Condition=condition)
    context = {"aws:SourceAccount": ACCOUNT,
               "aws:SourceArn": f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/mine"}
    decided = _trust(SCHEDULER, deny, caller=Caller.service("scheduler.amazonaws.com"), **context)
    assert not decided.allowed and decided.explicit


def test_service_trusts_judges_a_roles_trust_policy_for_the_services_keys():
    role = SimpleNamespace(arn=ROLE, assume_role_policy_document=urllib.parse.quote(json.dumps({
        "Version": V, "Statement": [dict(SCHEDULER, Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})]})))
    assert trust.service_trusts(role, "scheduler.amazonaws.com", {"aws:SourceAccount": ACCOUNT}).allowed
    assert not trust.service_trusts(role, "scheduler.amazonaws.com", {"aws:SourceAccount": "111122223333"}).allowed
    assert not trust.service_trusts(role, "lambda.amazonaws.com", {"aws:SourceAccount": ACCOUNT}).allowed


def test_a_role_session_named_by_its_role_arn_is_named_directly_even_beside_a_wildcard():
    caller = Caller(ACCOUNT, (f"arn:aws:iam::{ACCOUNT}:role/caller",
                              f"arn:aws:sts::{ACCOUNT}:assumed-role/caller/s"))
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ["*", caller.arns[0]]}}
    assert _trust(statement, caller=caller).direct == "role"
    assert _trust(dict(statement, Principal={"AWS": caller.arns[1]}), caller=caller).direct == "session"
    assert _trust(dict(statement, Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), caller=caller).direct is None


# ---- the IAM package's shape ----------------------------------------------------------------------------------------


RECORD = """
import dataclasses, json
from peerlab_local.__main__ import install_patches
from peerlab_local.core import patching
install_patches("enforce")
print(json.dumps([dataclasses.asdict(p) for p in patching.PATCHES]))
"""


def test_the_iam_package_hooks_into_our_modules_through_their_registration_points_not_patches():
    # trust.py wrapped enforce.check and lambda_.runtime._role_credentials; now enforce.judge_calls_of and
    # runtime.on_execution_role / on_invocation_end are where the IAM package takes part
    done = subprocess.run([sys.executable, "-c", RECORD], cwd=PACKAGE.parent, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    patches = [patching.Patch(**p) for p in json.loads(done.stdout)]
    ours = [dataclasses.asdict(p) for p in patches if p.module.startswith("peerlab_local")
            and p.by.startswith("peerlab_local.iam")]
    assert ours == []
    assert {p.by for p in patches} >= {"peerlab_local.iam.identities", "peerlab_local.iam.enforce",
                                       "peerlab_local.iam.trust"}
