"""Fault injection (--fault-rate R --seed N): which calls fail, and how, reproducibly.

Call n of a service's action fails iff sha256(seed:service:action:n) < R, as before; a second hash,
sha256(seed:service:action:n:kind), picks the kind of fault among those the call can meet on AWS, with equal
weights (AWS publishes no frequencies for them; equal weights make each kind appear at a high rate). So the same
seed and the same calls give the same faults, of the same kinds.

The kinds, each answered as AWS answers it:
  ec2  any action   RequestLimitExceeded   HTTP 503  "Request limit exceeded."
                    InternalError          HTTP 500  "An internal error has occurred"
       RunInstances InsufficientInstanceCapacity HTTP 500 "We currently do not have sufficient <type> capacity in
                    the Availability Zone you requested (<az>). Our system will be working on provisioning additional
                    capacity. You can currently get <type> capacity by not specifying an Availability Zone in your
                    request or choosing <other zones>."
  ssm  any action   ThrottlingException    HTTP 400  "Rate exceeded"
  lambda Invoke     TooManyRequestsException HTTP 429 (Step Functions: Lambda.TooManyRequestsException)
                    ServiceException       HTTP 500  (Step Functions: Lambda.ServiceException)
                    Sandbox.Timedout       the function runs (its side effects happen) for its whole timeout, then
                                           the invoke answers the function error Sandbox.Timedout
                    Lambda.Unknown         the function runs, then the invoke answers a function error with no
                                           errorType ({"errorMessage":"<time> <request id> Task timed out after N
                                           seconds"}), which Step Functions names Lambda.Unknown
Sources are cited beside each below and in core/README.md ("Faults").
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
import uuid
from collections import Counter, defaultdict

from peerlab_local.core.world import LOCK, ec2

# --- the kinds ------------------------------------------------------------------------------------------------

THROTTLING = ("RequestLimitExceeded", "ThrottlingException", "TooManyRequestsException")
# every kind --fault-kinds accepts
KINDS = ("RequestLimitExceeded", "InternalError", "InsufficientInstanceCapacity", "ThrottlingException",
         "TooManyRequestsException", "ServiceException", "Sandbox.Timedout", "Lambda.Unknown")
# kinds that let the call through and change its answer afterwards (the Lambda function runs)
DEFERRED = ("Sandbox.Timedout", "Lambda.Unknown")


def kinds_for(service: str, action: str) -> tuple[str, ...]:
    """The faults AWS can answer this call with, in a fixed order (the second hash indexes it)."""
    if service == "ec2":
        # EC2 API error codes: RequestLimitExceeded (throttling, 503) and the server error InternalError (500) can
        # answer any action; InsufficientInstanceCapacity answers RunInstances (and StartInstances).
        if action == "RunInstances":
            return ("RequestLimitExceeded", "InternalError", "InsufficientInstanceCapacity")
        return ("RequestLimitExceeded", "InternalError")
    if service == "ssm":
        return ("ThrottlingException",)
    if service == "lambda":
        return ("TooManyRequestsException", "ServiceException", "Sandbox.Timedout", "Lambda.Unknown")
    return ()


def parse_kinds(text: str) -> tuple[str, ...] | None:
    """--fault-kinds: 'all' (None) or a comma-separated list of KINDS; 'throttling' is the three throttles."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part == "all":
            return None
        if part == "throttling":
            names.extend(THROTTLING)
        elif part in KINDS:
            names.append(part)
        else:
            raise ValueError(f"unknown fault kind {part!r} (known: all, throttling, {', '.join(KINDS)})")
    return tuple(dict.fromkeys(names))


def _fraction(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


class Faults:
    """Which call fails and with which fault: reproducible by seed (see the module's docstring)."""

    def __init__(self, rate: float, seed: int, kinds: tuple[str, ...] | None = None):
        self.rate, self.seed = rate, seed
        self.allowed = kinds  # None: every kind
        self.calls: Counter = Counter()
        self.injected: Counter = Counter()  # service:action -> faults injected (any kind)
        self.by_kind: dict[str, Counter] = defaultdict(Counter)  # service:action -> kind -> count
        self._lock = threading.Lock()

    def draw(self, service: str, action: str) -> str | None:
        """The fault for this call (a kind name), or None when it goes through."""
        if self.rate <= 0:
            return None
        kinds = [k for k in kinds_for(service, action) if self.allowed is None or k in self.allowed]
        if not kinds:
            return None
        with self._lock:
            n = self.calls[(service, action)]
            self.calls[(service, action)] += 1
        if _fraction(f"{self.seed}:{service}:{action}:{n}") >= self.rate:
            return None
        kind = kinds[min(int(_fraction(f"{self.seed}:{service}:{action}:{n}:kind") * len(kinds)), len(kinds) - 1)]
        with self._lock:
            self.injected[f"{service}:{action}"] += 1
            self.by_kind[f"{service}:{action}"][kind] += 1
        return kind

    def hit(self, service: str, action: str) -> bool:
        """Kept for callers of the throttling-only interface: True when the call fails (any kind)."""
        return self.draw(service, action) is not None

    def report(self) -> dict:
        with self._lock:
            return {"rate": self.rate, "seed": self.seed,
                    "kinds": list(self.allowed) if self.allowed is not None else "all",
                    "injected": dict(self.injected),
                    "by_kind": {key: dict(counts) for key, counts in self.by_kind.items()}}


# --- the answers ----------------------------------------------------------------------------------------------


def _ec2_error(code: str, message: str, status: int):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")
    return status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()


def _json_error(code: str, body: dict, status: int, content_type: str = "application/x-amz-json-1.1"):
    # AWS always sends a request id; moto's Step Functions engine reads it when naming a Lambda.* error
    return status, {"Content-Type": content_type, "x-amzn-ErrorType": code,
                    "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(body).encode()


def capacity_message(params: dict, region: str) -> str:
    """InsufficientInstanceCapacity's message as EC2 words it (seen verbatim in hashicorp/terraform-provider-aws#1496,
    scylladb/scylla-cluster-tests#5119, commonwarexyz/monorepo#2859)."""
    itype = (params.get("InstanceType") or ["m1.small"])[0]
    zone = (params.get("Placement.AvailabilityZone") or [""])[0]
    if not zone:
        zone = _subnet_zone((params.get("SubnetId") or [""])[0]) or f"{region}a"
    others = ", ".join(f"{region}{letter}" for letter in "abcdf" if f"{region}{letter}" != zone)
    return (f"We currently do not have sufficient {itype} capacity in the Availability Zone you requested ({zone}). "
            f"Our system will be working on provisioning additional capacity. You can currently get {itype} "
            f"capacity by not specifying an Availability Zone in your request or choosing {others}.")


def _subnet_zone(subnet_id: str) -> str | None:
    if not subnet_id:
        return None
    try:
        with LOCK:
            return ec2().get_subnet(subnet_id).availability_zone
    except Exception:  # an unknown subnet: RunInstances will say so itself on a later attempt
        return None


def response(kind: str, params: dict | None = None, region: str = "us-east-1"):
    """(status, headers, body) for a fault answered at once, without calling the service."""
    if kind == "RequestLimitExceeded":
        # EC2 API reference, "Request throttling": RequestLimitExceeded, HTTP 503
        return _ec2_error("RequestLimitExceeded", "Request limit exceeded.", 503)
    if kind == "InternalError":
        # EC2 API reference, "Error codes" (server errors are 5xx): InternalError, "An internal error has occurred"
        # (verbatim response bodies in aws/aws-cli#384 and #610)
        return _ec2_error("InternalError", "An internal error has occurred", 500)
    if kind == "InsufficientInstanceCapacity":
        # a server error of EC2 (HTTP 500: statusCode 500 in nib-health-funds/hammertime#29; SDKs retry it)
        return _ec2_error("InsufficientInstanceCapacity", capacity_message(params or {}, region), 500)
    if kind == "ThrottlingException":
        return _json_error("ThrottlingException", {"__type": "ThrottlingException", "message": "Rate exceeded"}, 400)
    if kind == "TooManyRequestsException":
        # Lambda Invoke API reference: TooManyRequestsException, HTTP 429, with Type and Reason
        return _json_error("TooManyRequestsException",
                           {"Type": "User", "message": "Rate Exceeded.",
                            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}, 429, "application/json")
    if kind == "ServiceException":
        # Lambda Invoke API reference: ServiceException, "The AWS Lambda service encountered an internal error.",
        # HTTP 500 (botocore's model: members Type, Message); the message as Lambda sent it in mentum/lambdaws#49.
        # Step Functions names it Lambda.ServiceException ("Handle Lambda service exceptions").
        return _json_error("ServiceException",
                           {"Type": "Service", "Message": "An error occurred and the request cannot be processed."},
                           500, "application/json")
    raise ValueError(f"{kind} is not answered at once")


# --- deferred Lambda faults: the function runs, its answer changes -----------------------------------------------

_deferred = threading.local()  # set by the middleware around the request it lets through; read by lambda_bridge


def defer(kind: str | None) -> None:
    _deferred.kind = kind


def take_deferred() -> str | None:
    kind = getattr(_deferred, "kind", None)
    _deferred.kind = None
    return kind


def function_error(kind: str, timeout: float) -> dict:
    """The error payload Lambda answers for a deferred fault."""
    request_id = str(uuid.uuid4())
    if kind == "Sandbox.Timedout":
        # Lambda kills the function at its timeout; OS-only runtimes (provided.al2023) answer this errorType
        # (the same payload lambda_bridge gives a real overrun)
        return {"errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"}
    if kind == "Lambda.Unknown":
        # A function error without errorType, as Lambda has answered timeouts (payloads quoted with Step Functions'
        # "Lambda.Unknown" and "The cause could not be determined because Lambda did not return an error type");
        # Step Functions docs ("Handle Lambda service exceptions"): unhandled errors such as out-of-memory errors
        # and function timeouts are reported as Lambda.Unknown.
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return {"errorMessage": f"{now} {request_id} Task timed out after {timeout:.2f} seconds"}
    raise ValueError(f"{kind} is not a deferred fault")
