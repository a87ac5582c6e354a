"""Requests refused as AWS refuses them: every call to EC2, SSM, Lambda, EventBridge Scheduler and STS is checked,
before anything serves it, against the constraints its botocore service model declares - required members, enum
values, string and list lengths (min and max), numeric ranges (min and max), string patterns - and against the rules
a service package registers for what the model cannot say (`rule(service, operation)`: conflicting parameters,
documented limits). The table of what is checked per call, with sources, is VALIDATION.md beside this file.

Why not botocore's `ParamValidator` (botocore/validate.py), which the SDK runs on the client: it checks required
members and *minimums* only ("min" is in its VALIDATED_METADATA_ATTRS, "max", "enum" and "pattern" are not), it
names members by the SDK's names where AWS names the wire's (`maxResults`, `roleSessionName`), and it reports
unknown members, which a server's parser drops. Its model is reused (botocore.model shapes, via moto's
`get_service_model`), and moto's own request parsers (moto.core.parse) turn the request into members, as moto
does when it serves it.

How AWS answers (the wire names are the model's `locationName`s or lowerCamel member names):
- JSON and REST-JSON services (SSM, Lambda, Scheduler): HTTP 400 `ValidationException`, "N validation error(s)
  detected: Value 'x' at 'member.path' failed to satisfy constraint: Member must ..." - the AWS service framework's
  message, as SSM sends it (flanksource/config-db#35: "1 validation error detected: Value '100' at 'maxResults'
  failed to satisfy constraint: Member must have value less than or equal to 50") and Lambda, Scheduler likewise;
  a list member's path is `name.N.member` (1-based).
- STS (query): HTTP 400 `ValidationError` with the same message (STS API reference, AssumeRole's errors, and
  "Common Errors": ValidationError, "The input fails to satisfy the constraints specified by an AWS service").
- EC2 (its own query protocol): one error, the first: `MissingParameter` ("The request must contain the parameter
  X") or `InvalidParameterValue` (EC2 API reference, "Error codes for the Amazon EC2 API": "MissingParameter: The
  request is missing a required parameter", "InvalidParameterValue: A value specified in a parameter is not valid,
  is unsupported, or cannot be used"); a MaxResults below its minimum reads "Value ( 1 ) for parameter maxResults
  is invalid. Expecting a value greater than 5." (aws/aws-sdk-ruby#2575, quoting EC2). The other messages' wording
  is a judgement (MissingParameter's is the form of Amazon's query APIs, Exeu/Amazon-ECS-PHP-Library#32): clients
  act on the code.

Patterns: the models' are Java regular expressions (`\\p{L}`, `\\u0009`); they are matched whole with the `regex`
module (pinned in requirements.txt), which reads both; a pattern it cannot compile is skipped, not guessed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import regex  # type: ignore[import-untyped]  # no stubs pinned; used for compile and fullmatch only
from botocore.model import OperationModel, Shape
from moto.core.parse import PROTOCOL_PARSERS, RequestParserError
from moto.core.utils import get_service_model
from werkzeug.datastructures import EnvironHeaders, MultiDict

SERVICES = ("ec2", "ssm", "lambda", "scheduler", "sts")
Refusal = tuple[int, dict, bytes]


@dataclasses.dataclass(frozen=True)
class Violation:
    """One constraint a request breaks. `path` is the member's wire path (`maxResults`, `targets.1.member.key`)."""

    path: str
    value: Any
    constraint: str  # AWS's words after "Member must ...": "not be null", "have length less than or equal to 100"
    code: str = ""  # a rule's own error code (and message, status) where AWS answers other than by the framework's
    message: str = ""
    status: int = 400


# (service, operation) -> the rules the model cannot express; each returns the violations of one request
Rule = Callable[[dict], list[Violation]]
RULES: dict[tuple[str, str], list[Rule]] = {}


def rule(service: str, operation: str) -> Callable[[Rule], Rule]:
    """Register a check of `operation`'s parsed parameters (member names, as the SDK names them)."""

    def register(check: Rule) -> Rule:
        RULES.setdefault((service, operation), []).append(check)
        return check

    return register


# ---- which operation, and its parameters -----------------------------------------------------------------------


@functools.cache
def _routes(service: str) -> tuple[tuple[str, re.Pattern, int, str], ...]:
    """A REST service's operations as (method, path regex, literal characters, name), most specific first."""
    model = get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?", 1)[0]
        pattern, literal = "", 0
        for part in re.split(r"(\{[^}]+\})", uri):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                pattern += f"(?P<{label.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
            else:
                pattern += re.escape(part)
                literal += len(part)
        routes.append((http.get("method", "POST"), re.compile(pattern.rstrip("/") + "/?$"), literal, name))
    return tuple(sorted(routes, key=lambda r: -r[2]))


def operation_of(service: str, environ: dict, action: str) -> tuple[OperationModel, dict] | None:
    """The operation a request calls and its URI labels, or None when the model does not know it."""
    model = get_service_model(service)
    if model.protocol in ("rest-json", "rest-xml"):
        # the path as sent (a label may hold an encoded "/"), labels decoded after matching
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or urllib.parse.quote(environ.get("PATH_INFO", ""))
        path = raw.split("?", 1)[0]
        method = environ.get("REQUEST_METHOD", "GET")
        for verb, pattern, _, name in _routes(service):
            match = pattern.match(path)
            if verb == method and match:
                labels = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                return model.operation_model(name), labels
        return None
    if action not in model.operation_names:
        return None
    return model.operation_model(action), {}


def parse(operation: OperationModel, environ: dict, body: bytes, labels: dict) -> dict:
    """The request's members as moto's parser for the protocol reads them (what moto would serve)."""
    protocol = operation.service_model.protocol
    values: MultiDict = MultiDict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if protocol in ("query", "ec2"):
        values.update(MultiDict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        values = MultiDict({k: v for k, v in values.items() if k not in ("Action", "Version")})
    parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
    request = {"method": environ.get("REQUEST_METHOD", "POST"), "values": values,
               "headers": EnvironHeaders(environ), "body": body, "url_path": environ.get("PATH_INFO", "/"),
               "url_params": labels}
    return parser.parse(request)  # type: ignore[arg-type]


# ---- the model's constraints ------------------------------------------------------------------------------------


def _wire(shape: Shape, name: str, protocol: str) -> str:
    """A member's name in AWS's messages: EC2 and the query protocol use the model's locationName; the service
    framework of the JSON protocols names members in lowerCamelCase (`timeoutSeconds`, `roleSessionName`)."""
    if protocol == "ec2":
        return shape.serialization.get("name") or name[:1].lower() + name[1:]
    return name[:1].lower() + name[1:]


@functools.cache
def _compiled(pattern: str) -> Any:
    try:
        return regex.compile(pattern)
    except regex.error:
        return None


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def check(value: Any, shape: Shape, path: str, protocol: str) -> Iterator[Violation]:
    """Every constraint of `shape` that `value` breaks (values of the wrong type are the parser's business)."""
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name in meta.get("required", []):
            if value.get(name) is None:
                yield Violation(_join(path, _wire(shape.members[name], name, protocol)), None, "not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                yield from check(value[name], member, _join(path, _wire(member, name, protocol)), protocol)
    elif kind == "list" and isinstance(value, list):
        yield from _bounds(len(value), meta, path, value, "length")
        for index, item in enumerate(value, 1):
            yield from check(item, shape.member, f"{path}.{index}.member", protocol)
    elif kind == "map" and isinstance(value, dict):
        yield from _bounds(len(value), meta, path, value, "length")
    elif kind == "string" and isinstance(value, str):
        yield from _bounds(len(value), meta, path, value, "length")
        if shape.enum and value not in shape.enum:
            yield Violation(path, value, f"satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            yield Violation(path, value, f"satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        yield from _bounds(value, meta, path, value, "value")


def _bounds(measure: float, meta: dict, path: str, value: Any, what: str) -> Iterator[Violation]:
    if "min" in meta and measure < meta["min"]:
        yield Violation(path, value, f"have {what} greater than or equal to {_number(meta['min'])}")
    if "max" in meta and measure > meta["max"]:
        yield Violation(path, value, f"have {what} less than or equal to {_number(meta['max'])}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def violations(service: str, operation: OperationModel, params: dict) -> list[Violation]:
    """The model's violations, then the registered rules' (only when the model's pass: AWS checks shapes first)."""
    protocol = operation.service_model.protocol
    found = list(check(params, operation.input_shape, "", protocol)) if operation.input_shape else []
    if found:
        return found
    for extra in RULES.get((service, operation.name), []):
        found.extend(extra(params))
    return found


# ---- AWS's answer -----------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _number(value) if isinstance(value, (int, float)) else str(value)


def framework_message(found: list[Violation]) -> str:
    """The AWS service framework's message: "1 validation error detected: Value '...' at 'x' failed to ..."."""
    parts = [(f"Value null at '{v.path}'" if v.value is None else f"Value '{_shown(v.value)}' at '{v.path}'")
             + f" failed to satisfy constraint: Member must {v.constraint}" for v in found]
    count = len(found)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(parts)


def ec2_message(first: Violation) -> tuple[str, str]:
    if first.code:
        return first.code, first.message
    if first.value is None:
        return "MissingParameter", f"The request must contain the parameter {first.path}"
    if first.constraint.startswith("have value greater than"):
        minimum = first.constraint.rsplit(" ", 1)[-1]
        return ("InvalidParameterValue", f"Value ( {_shown(first.value)} ) for parameter {first.path} is invalid. "
                f"Expecting a value greater than {minimum}.")
    return ("InvalidParameterValue", f"Value ( {_shown(first.value)} ) for parameter {first.path} is invalid. "
            f"Member must {first.constraint}.")


def answer(protocol: str, found: list[Violation]) -> Refusal:
    request_id = str(uuid.uuid4())
    own = found[0] if found[0].code else None
    if protocol == "ec2":
        code, message = ec2_message(found[0])
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                f"<Message>{_xml(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
        return found[0].status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    if protocol == "query":
        body = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                f"<Code>{own.code if own else 'ValidationError'}</Code>"
                f"<Message>{_xml(own.message if own else framework_message(found))}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        return (own.status if own else 400), {"Content-Type": "text/xml"}, body.encode()
    code = own.code if own else "ValidationException"
    content = "application/json" if protocol == "rest-json" else "application/x-amz-json-1.1"
    payload = {"__type": code, "message": own.message if own else framework_message(found)}
    if protocol == "rest-json":
        payload["Message"] = payload["message"]  # Lambda's REST errors carry "Message" (Invoke API reference)
    headers = {"Content-Type": content, "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
    return (own.status if own else 400), headers, json.dumps(payload).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def refusal(service: str, action: str, environ: dict, body: bytes) -> Refusal | None:
    """AWS's refusal of this request, or None to serve it. Requests the model does not know, or that the
    parser cannot read, are left to moto (it answers those as it does)."""
    if service not in SERVICES:
        return None
    found_operation = operation_of(service, environ, action)
    if found_operation is None:
        return None
    operation, labels = found_operation
    try:
        params = parse(operation, environ, body, labels)
    except (RequestParserError, ValueError, KeyError, TypeError, AttributeError):
        return None
    found = violations(service, operation, params)
    return answer(operation.service_model.protocol, found) if found else None
