"""STS AssumeRole judged as AWS judges it: the caller's permissions AND the role's trust policy (`--iam enforce`),
and the member accounts' administrator role (always).

**Who may assume a role** ("Cross-account policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html; "How IAM
roles differ from resource-based policies", .../id_roles_compare-resource-policies.html; "Policy evaluation logic",
.../reference_policies_evaluation-logic.html, "Evaluating identity-based policies with resource-based policies"):
- The role's trust policy is a resource-based policy that must always allow the caller: "IAM role trust policies and
  KMS key policies are exceptions to this logic, because they must explicitly allow access for principals" — a
  caller whose identity policy allows sts:AssumeRole on the role is still refused when the trust policy does not
  name it (or its account), and a role that does not exist is refused the same way (STS does not say which).
- Across accounts, the caller's identity-based policies (with its permissions boundary and session policy) must
  allow sts:AssumeRole on the role as well: "the principal must be allowed in both accounts".
- In the role's own account, a trust policy that names the caller itself suffices: naming the role session ARN
  allows whatever the caller's identity policies, boundary and session policy say; naming the caller's role ARN
  allows despite its identity policies but not beyond its permissions boundary or session policy ("Policy
  evaluation logic": a resource-based policy naming the session principal is not limited by an implicit deny;
  naming a role ARN is still limited by a boundary or a session policy). Naming only the account
  (`arn:aws:iam::ACCOUNT:root`, "ACCOUNT", or "*") delegates to the identity policies, which must allow.
- An explicit Deny in either wins. A statement applies when its Principal (or NotPrincipal) names the caller —
  "AWS": "*", the account's root ARN or bare id, the role's ARN or the session's ARN ("AWS JSON policy elements:
  Principal", .../reference_policies_elements_principal.html: no partial wildcards in a principal); "Service":
  the service principal of a service that assumes the role — and its Action and Condition hold (evaluation.py's
  `evaluate_trust`, the one evaluator of identity and trust policies) with
  the caller's keys (aws:PrincipalArn is the role's ARN for a role session, aws:PrincipalAccount, aws:PrincipalTag/*,
  ... as iam_enforce.principal_context gives them) and the call's (sts:ExternalId, sts:RoleSessionName,
  sts:SourceIdentity, aws:RequestTag/* for session tags: iam_context's sts:AssumeRole request).
- Session tags need sts:TagSession and a source identity sts:SetSourceIdentity, in the trust policy and (across
  accounts) in the caller's policies ("Passing session tags in AWS STS", .../id_session-tags.html, "Permissions
  required to add session tags"; "Monitor and control actions taken with assumed roles", .../id_credentials_temp_
  control-access_monitor.html).
- A refusal for the trust policy (or a missing role) answers as STS does, 403 AccessDenied "User: <caller ARN> is not
  authorized to perform: sts:AssumeRole on resource: <role ARN>" — without a "because ..." clause: AWS adds the
  policy type only for policies of the caller's own account/organization ("Enhanced access denied error messages
  with policy ARNs", AWS Security Blog; the cross-account refusal as quoted in countless reports, e.g. HackTricks'
  "aws-iam-and-sts-unauthenticated-enum": the same text whether the role exists or not). A refusal by the caller's
  own policies keeps iam_enforce's message ("... because no identity-based policy allows the sts:AssumeRole action").
- Administrator credentials (the tests', `make deploy`'s) stay allowed, trust policy or not, as iam_enforce leaves
  them: only role sessions are judged.

**Services assuming roles**: Lambda assumes a function's execution role only if its trust policy lets the service
principal lambda.amazonaws.com call sts:AssumeRole (Lambda developer guide, "Defining Lambda function permissions
with an execution role": "the role's trust policy must specify the Lambda service principal
(lambda.amazonaws.com) as a trusted service"). When it cannot, Lambda answers InvalidParameterValueException (HTTP
400) "The role defined for the function cannot be assumed by Lambda." — the error the Lambda API gives for a role
it cannot assume (Lambda API reference, Invoke/CreateFunction errors: InvalidParameterValueException, "One of the
parameters in the request is not valid"; the message as reported e.g. in alexcasalboni/aws-lambda-power-tuning#69
and serverless/serverless#6876). Here the function's invocation that needs a new execution environment (the
moment Lambda assumes the role: lambda_.runtime's execution-role check, which `install` sets) fails so.
`service_trusts(role, service, ...)` is the same judgement for every service that assumes a role (Step Functions,
EventBridge, Lambda's log delivery: identities.py; EventBridge Scheduler: events/scheduler.py).

**Member accounts** (always on): the local AWS's default account (moto's 123456789012, the lab's) is the
organization's management account, every other account id a member account created by AWS Organizations, which
"automatically creates an IAM role that is by default named OrganizationAccountAccessRole" that "grants
administrator permissions to IAM users in the management account who can assume the role" (Organizations user
guide, "Accessing member accounts in an organization", .../organizations/latest/userguide/orgs_manage_accounts_
access.html, and "Creating OrganizationAccountAccessRole for an invited account", ..._create-cross-account-role.html:
trust the management account's 12-digit id, administrator permissions). The local AWS creates that role in a
member account the first time someone asks STS for it (`arn:aws:iam::<member>:role/OrganizationAccountAccessRole`):
trust {"AWS": "arn:aws:iam::123456789012:root"}, an inline policy AdministratorAccess allowing "*" on "*". That is
how `python -m peerlab_local.tools.stack deploy --account <member>` acts as the member account's administrator.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaFunction
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend

from peerlab_local.core.patching import once, wrap
from peerlab_local.iam import enforce as iam_enforce
from peerlab_local.iam.evaluation import TRUST_POLICY, Caller, Trust, evaluate_trust
from peerlab_local.iam.model import Request
from peerlab_local.lambda_ import runtime as lambda_runtime

log = logging.getLogger("peerlab.iam")

MANAGEMENT_ACCOUNT = "123456789012"  # moto's DEFAULT_ACCOUNT_ID: the lab's account, the organization's management
ACCESS_ROLE = "OrganizationAccountAccessRole"  # Organizations' default name for the member account's admin role
ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(.+)$")
LAMBDA_CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."

_LOCK = threading.Lock()


# ---- the trust policy of a role a service assumes --------------------------------------------------------------


def _role(role_arn: str, partition: str = "aws"):
    match = ROLE_ARN.match(role_arn or "")
    if not match:
        return None
    ensure_access_role(role_arn)
    try:
        return iam_backends[match.group(2)][partition].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises IAMNotFoundException
        return None


def service_trusts(role, service: str, context: dict | None = None, region: str | None = None,
                   action: str = "sts:AssumeRole") -> Trust:
    """The trust policy of `role` (moto's Role) for `service` (e.g. "states.amazonaws.com") calling `action` on it,
    with the condition keys the service sends (`context`: aws:SourceAccount / aws:SourceArn where its guide says
    it does). With `region`, the service's regional principal name counts too (evaluation.Caller.service)."""
    return evaluate_trust(role.assume_role_policy_document, Caller.service(service, region),
                          Request(action, role.arn, dict(context or {})))


def service_trust(role_arn: str, service: str, context: dict | None = None, action: str = "sts:AssumeRole",
                  partition: str = "aws") -> str | None:
    """None if `service` (e.g. "lambda.amazonaws.com") may assume the role, else why not (`service_trusts`)."""
    role = _role(role_arn, partition)
    if role is None:
        return f"{role_arn} does not exist"
    trust = service_trusts(role, service, context, action=action)
    if trust.explicit:
        return f"the trust policy of {role_arn} denies {service} {action}"
    if not trust.allowed:
        return f"the trust policy of {role_arn} does not allow {service} to call {action}"
    return None


# ---- STS AssumeRole by a role session (the HTTP path) ----------------------------------------------------------


def _actions(params: dict) -> list[str]:
    actions = ["sts:AssumeRole"]
    if params.get("Tags") or params.get("TransitiveTagKeys"):
        actions.append("sts:TagSession")
    if params.get("SourceIdentity"):
        actions.append("sts:SetSourceIdentity")
    return actions


@dataclass
class Verdict:
    allowed: bool
    by_trust: bool = False  # refused by the role's trust policy (or the role is missing)
    denial: iam_enforce.Denial | None = None  # the refusal by the caller's own policies
    action: str = "sts:AssumeRole"
    role_arn: str = ""
    trust: Trust | None = None


def judge(session, params: dict, region: str) -> Verdict:
    """May this role session call AssumeRole with `params` (RoleArn, RoleSessionName, ExternalId, Tags, ...)?"""
    role_arn = params.get("RoleArn") or ""
    actions = _actions(params)
    base = iam_enforce.principal_context(session, region)
    # iam_context's sts:AssumeRole request (the role's ARN, sts:ExternalId, sts:RoleSessionName, session tags, the
    # role's tags), once per action the call needs
    modelled = iam_enforce.requests_for("sts:AssumeRole", params, session.account, region) or [
        Request("sts:AssumeRole", role_arn or "*", {})]
    requests = [Request(action, r.resource, r.context) for action in actions for r in modelled]
    role = _role(role_arn, session.partition)
    caller = Caller(session.account, (session.role_arn, session.arn))
    trust = None
    for request in requests:
        if role is None:
            return Verdict(False, True, action=request.action, role_arn=role_arn)
        trust = evaluate_trust(role.assume_role_policy_document, caller,
                               Request(request.action, request.resource, {**base, **request.context}))
        if not trust.allowed:
            return Verdict(False, True, action=request.action, role_arn=role_arn, trust=trust)
    trace: list = []
    identity = iam_enforce.authorize(session, requests, region, trace)
    # the identity side is recorded (GET /peerlab/iam/evaluated) where it decides: allowed, or the refusal; not when
    # a same-account trust policy naming the caller allows it on its own (removing a statement changes nothing then)
    if identity is None:
        iam_enforce.remember(session, "sts:AssumeRole", region, trace, None)
        return Verdict(True, role_arn=role_arn, trust=trust)
    named = ROLE_ARN.match(role_arn)
    same_account = named is not None and named.group(2) == session.account
    if identity.explicit or not same_account or trust is None or trust.direct is None:
        iam_enforce.remember(session, "sts:AssumeRole", region, trace, identity)
        return Verdict(False, denial=identity, action=identity.request.action, role_arn=role_arn, trust=trust)
    if trust.direct == "session":
        return Verdict(True, role_arn=role_arn, trust=trust)
    # named by role ARN: still within its permissions boundary and session policy
    rest = iam_enforce.authorize(session, requests, region, identity=False)
    if rest is None:
        return Verdict(True, role_arn=role_arn, trust=trust)
    return Verdict(False, denial=rest, action=rest.request.action, role_arn=role_arn, trust=trust)


def trust_message(caller_arn: str, action: str, role_arn: str) -> str:
    return f"User: {caller_arn} is not authorized to perform: {action} on resource: {role_arn}"


def duration_error(role, params: dict, chained: bool) -> str | None:
    """STS API reference, AssumeRole, DurationSeconds: 900 s up to the role's maximum session duration, and at most
    one hour when a role session assumes a role ("role chaining", IAM User Guide, "Roles terms and concepts");
    above that "the operation fails" with a ValidationError."""
    try:
        duration = int(params.get("DurationSeconds") or 0)
    except (TypeError, ValueError):
        return None
    if not duration:
        return None
    if chained and duration > 3600:
        return "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    maximum = int(getattr(role, "max_session_duration", None) or 3600) if role is not None else None
    if maximum and duration > maximum:
        return "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    return None


def check_assume_role(access_key: str, service: str, operation: str, params: dict, region: str, protocol: str):
    """The refusal of an sts:AssumeRole call, or None (`--iam enforce`; enforce.check hands AssumeRole here): the
    duration within the role's maximum, then the caller's policies and the role's trust policy (`judge`)."""
    session = iam_enforce.session_for(access_key, region)
    role = _role(params.get("RoleArn") or "", session.partition if session else "aws")
    too_long = duration_error(role, params, chained=session is not None)
    if too_long:
        return iam_enforce.query_error("sts", "ValidationError", too_long, 400)
    if session is None:  # administrator credentials
        return None
    verdict = judge(session, params, region)
    if verdict.allowed:
        return None
    if verdict.by_trust:
        text = trust_message(session.arn, verdict.action, verdict.role_arn)
        iam_enforce.record_denial(session.arn, verdict.action, verdict.role_arn,
                                  bool(verdict.trust and verdict.trust.explicit), TRUST_POLICY)
        log.info("iam: denied %s (role trust policy)", text)
        return iam_enforce.query_error("sts", "AccessDenied", text, 403)
    assert verdict.denial is not None  # refused, not by the trust policy: by the caller's own policies
    iam_enforce.record(session, verdict.denial)
    log.info("iam: denied %s", iam_enforce.message(session, verdict.denial))
    return iam_enforce.answer(protocol, service, session, verdict.denial)


# ---- Lambda assuming a function's execution role ---------------------------------------------------------------


def check_lambda_role(fn: LambdaFunction) -> None:
    """Before Lambda assumes a function's execution role (lambda_.runtime calls it, `install` sets it): refused with
    InvalidParameterValueException when its trust policy does not let lambda.amazonaws.com assume it (`--iam
    enforce`; module docstring)."""
    if not (iam_enforce.enabled() and fn.role):
        return
    reason = service_trust(fn.role, "lambda.amazonaws.com")
    if reason is not None:
        iam_enforce.record_denial("lambda.amazonaws.com", "sts:AssumeRole", fn.role, "denies" in reason, TRUST_POLICY)
        log.info("iam: Lambda cannot assume %s for %s: %s", fn.role, fn.function_name, reason)
        raise InvalidParameterValueException(LAMBDA_CANNOT_ASSUME)


# ---- member accounts -------------------------------------------------------------------------------------------


def access_role_document(management: str = MANAGEMENT_ACCOUNT, partition: str = "aws") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": f"arn:{partition}:iam::{management}:root"}}]}


def ensure_access_role(role_arn: str) -> None:
    """Create a member account's OrganizationAccountAccessRole the first time it is asked for (see the docstring)."""
    match = ROLE_ARN.match(role_arn or "")
    if not match or match.group(3) != ACCESS_ROLE or match.group(2) == MANAGEMENT_ACCOUNT:
        return
    partition, account = match.group(1), match.group(2)
    with _LOCK:
        iam = iam_backends[account][partition]
        if any(role.name == ACCESS_ROLE for role in iam.get_roles()):
            return
        iam.create_role(role_name=ACCESS_ROLE, assume_role_policy_document=json.dumps(
            access_role_document(MANAGEMENT_ACCOUNT, partition)), path="/", permissions_boundary=None,
            description="Administrator access to this member account from the management account (created by AWS "
                        "Organizations with the account)", tags=[], max_session_duration="3600")
        iam.put_role_policy(ACCESS_ROLE, "AdministratorAccess", json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        log.info("member account %s: created %s", account, ACCESS_ROLE)


def _assume_role(original, backend, *args, **kwargs):
    ensure_access_role(kwargs.get("role_arn") or (args[2] if len(args) > 2 else ""))
    return original(backend, *args, **kwargs)


@once
def install() -> None:
    """Once: enforcement hands sts:AssumeRole calls to `check_assume_role` (both sides judged); Lambda checks the
    execution role's trust policy before it assumes it (`check_lambda_role`); STS AssumeRole of a member account's
    OrganizationAccountAccessRole finds it there (moto's STSBackend wrapped)."""
    iam_enforce.judge_calls_of("sts", "AssumeRole", check_assume_role)
    lambda_runtime.on_execution_role(check_lambda_role)
    wrap(STSBackend, "assume_role")(_assume_role)
