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
  the service principal of a service that assumes the role — and its Action and Condition hold (iam_eval.py) with
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
moment Lambda assumes the role, lambda_bridge._role_credentials) fails so. `service_trust(role_arn, service)` is
the same judgement for other services (Step Functions' states.amazonaws.com, ...).

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
from dataclasses import dataclass, field

from peerlab_local.core.patching import once, wrap
from peerlab_local.iam import enforce as iam_enforce
from peerlab_local.iam.evaluation import Match, matching_statements
from peerlab_local.iam.model import Request

log = logging.getLogger("peerlab.iam")

MANAGEMENT_ACCOUNT = "123456789012"  # moto's DEFAULT_ACCOUNT_ID: the lab's account, the organization's management
ACCESS_ROLE = "OrganizationAccountAccessRole"  # Organizations' default name for the member account's admin role
ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(.+)$")
LAMBDA_CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
TRUST_POLICY = "role trust policy"

_LOCK = threading.Lock()


# ---- the trust policy ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asks to assume the role: a role session (account, its role's ARN, its session ARN) or a service."""
    account: str | None = None
    arns: tuple[str, ...] = ()  # ARNs that name the caller itself: (role ARN, session ARN)
    service: str | None = None  # "lambda.amazonaws.com"

    @property
    def description(self) -> str:
        return self.service or (self.arns[-1] if self.arns else "anonymous")


@dataclass
class Trust:
    allowed: bool
    explicit: bool  # an applicable Deny
    direct: str | None = None  # "session" / "role": an allowing statement names the caller itself, not its account
    matches: list[Match] = field(default_factory=list)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _names(principal, caller: Caller) -> str | None:
    """Whether a Principal element names the caller: None (no), "account" (via "*", the account or its root),
    "role" (the role's ARN) or "session" (the session's ARN)."""
    if principal == "*":
        return "account"
    if not isinstance(principal, dict):
        return None
    if caller.service is not None:
        return "service" if caller.service in _as_list(principal.get("Service")) else None
    best = None
    for value in _as_list(principal.get("AWS")):
        value = str(value)
        if value == "*":
            best = best or "account"
        elif caller.account and (value == caller.account
                                 or re.fullmatch(rf"arn:aws[a-z-]*:iam::{caller.account}:root", value)):
            best = best or "account"
        elif len(caller.arns) > 1 and value == caller.arns[1]:
            return "session"
        elif caller.arns and value == caller.arns[0]:
            best = "role"
    return best


def evaluate(document, caller: Caller, request: Request) -> Trust:
    """A role's trust policy (`document`, as IAM stores it) for `request` (an sts:* action on the role's ARN, with
    the caller's and the call's condition keys) made by `caller`."""
    document = iam_enforce._document(document) if document else {"Statement": []}
    statements = _as_list(document.get("Statement"))
    version = document.get("Version", "2008-10-17")
    allows, denies, direct = [], [], None
    for index, statement in enumerate(statements):
        if "Principal" in statement:
            named = _names(statement["Principal"], caller)
        elif "NotPrincipal" in statement:
            named = None if _names(statement["NotPrincipal"], caller) else "account"
        else:
            continue
        if named is None:
            continue
        # Action and Condition as in any policy; the resource is the role itself (a trust policy has no Resource)
        body = {k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal", "Resource",
                                                                 "NotResource")}
        body["Resource"] = "*"
        for match in matching_statements([(TRUST_POLICY, {"Version": version, "Statement": [body]})], request):
            match = Match(TRUST_POLICY, index, match.sid, match.effect, statement)
            if match.effect == "Deny":
                denies.append(match)
            else:
                allows.append(match)
                if named in ("session", "role") and direct != "session":
                    direct = named
    if denies:
        return Trust(False, True, None, denies)
    return Trust(bool(allows), False, direct if allows else None, allows)


def _role(role_arn: str, partition: str = "aws"):
    from moto.iam.models import iam_backends

    match = ROLE_ARN.match(role_arn or "")
    if not match:
        return None
    ensure_access_role(role_arn)
    try:
        return iam_backends[match.group(2)][partition].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises IAMNotFoundException
        return None


def service_trust(role_arn: str, service: str, context: dict | None = None, action: str = "sts:AssumeRole",
                  partition: str = "aws") -> str | None:
    """None if `service` (e.g. "lambda.amazonaws.com") may assume the role, else why not. `context`: the condition
    keys the service sends (e.g. aws:SourceAccount / aws:SourceArn where its guide says it does)."""
    role = _role(role_arn, partition)
    if role is None:
        return f"{role_arn} does not exist"
    trust = evaluate(role.assume_role_policy_document, Caller(service=service),
                     Request(action, role_arn, dict(context or {})))
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


def _other_layers(session, requests: list[Request], region: str):
    """iam_enforce.authorize without the identity-based policies: the permissions boundary and the session policy."""
    boundary = iam_enforce.boundary_policy(session)
    base = iam_enforce.principal_context(session, region)
    layers = []
    if boundary is not None:
        layers.append(("permissions boundary", [boundary]))
    if session.session_policy is not None:
        layers.append(("session policy", [("session policy", session.session_policy)]))
    for request in requests:
        request = Request(request.action, request.resource, {**base, **request.context})
        for kind, policies in layers:
            matches = matching_statements(policies, request)
            if any(m.effect == "Deny" for m in matches):
                return iam_enforce.Denial(request, True, kind, matches)
            if not any(m.effect == "Allow" for m in matches):
                return iam_enforce.Denial(request, False, kind, matches)
    return None


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
        trust = evaluate(role.assume_role_policy_document, caller,
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
    rest = _other_layers(session, requests, region)  # named by role ARN: still within boundary and session policy
    if rest is None:
        return Verdict(True, role_arn=role_arn, trust=trust)
    return Verdict(False, denial=rest, action=rest.request.action, role_arn=role_arn, trust=trust)


def trust_message(caller_arn: str, action: str, role_arn: str) -> str:
    return f"User: {caller_arn} is not authorized to perform: {action} on resource: {role_arn}"


def _record(principal: str, action: str, resource: str, explicit: bool, policy_type: str = TRUST_POLICY) -> None:
    with iam_enforce._LOCK:
        iam_enforce.DENIED.append({"principal": principal, "action": action, "resource": resource,
                                   "explicit": explicit, "policy_type": policy_type})
        del iam_enforce.DENIED[:-100]


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


def _check(original, access_key: str, service: str, operation: str, params: dict, region: str, protocol: str):
    """iam_enforce.check, with sts:AssumeRole judged on both sides."""
    if not (iam_enforce.enabled() and service == "sts" and operation == "AssumeRole"):
        return original(access_key, service, operation, params, region, protocol)
    session = iam_enforce.session_for(access_key, region)
    role = _role(params.get("RoleArn") or "", session.partition if session else "aws")
    too_long = duration_error(role, params, chained=session is not None)
    if too_long:
        return iam_enforce._query_error("sts", "ValidationError", too_long, 400)
    if session is None:  # administrator credentials
        return None
    verdict = judge(session, params, region)
    if verdict.allowed:
        return None
    if verdict.by_trust:
        text = trust_message(session.arn, verdict.action, verdict.role_arn)
        _record(session.arn, verdict.action, verdict.role_arn, bool(verdict.trust and verdict.trust.explicit))
        log.info("iam: denied %s (role trust policy)", text)
        return iam_enforce._query_error("sts", "AccessDenied", text, 403)
    assert verdict.denial is not None  # refused, not by the trust policy: by the caller's own policies
    iam_enforce.record(session, verdict.denial)
    log.info("iam: denied %s", iam_enforce.message(session, verdict.denial))
    return iam_enforce.answer(protocol, service, session, verdict.denial)


# ---- Lambda assuming a function's execution role ---------------------------------------------------------------


def _lambda_role_credentials(original, fn):
    if iam_enforce.enabled() and fn.role:
        reason = service_trust(fn.role, "lambda.amazonaws.com")
        if reason is not None:
            from moto.awslambda.exceptions import InvalidParameterValueException

            _record("lambda.amazonaws.com", "sts:AssumeRole", fn.role, "denies" in reason)
            log.info("iam: Lambda cannot assume %s for %s: %s", fn.role, fn.function_name, reason)
            raise InvalidParameterValueException(LAMBDA_CANNOT_ASSUME)
    return original(fn)


# ---- member accounts -------------------------------------------------------------------------------------------


def access_role_document(management: str = MANAGEMENT_ACCOUNT, partition: str = "aws") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": f"arn:{partition}:iam::{management}:root"}}]}


def ensure_access_role(role_arn: str) -> None:
    """Create a member account's OrganizationAccountAccessRole the first time it is asked for (see the docstring)."""
    match = ROLE_ARN.match(role_arn or "")
    if not match or match.group(3) != ACCESS_ROLE or match.group(2) == MANAGEMENT_ACCOUNT:
        return
    from moto.iam.models import iam_backends

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
    """Hooks (once): iam_enforce.check judges sts:AssumeRole on both sides; Lambda's execution-role assumption
    checks the trust policy; STS AssumeRole of a member account's OrganizationAccountAccessRole finds it there."""
    from moto.sts.models import STSBackend

    from peerlab_local.lambda_ import runtime as lambda_bridge

    wrap(iam_enforce, "check")(_check)
    wrap(lambda_bridge, "_role_credentials")(_lambda_role_credentials)
    wrap(STSBackend, "assume_role")(_assume_role)
