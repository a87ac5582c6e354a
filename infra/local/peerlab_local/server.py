"""The HTTP front of the local AWS: moto's app behind a middleware that adds time, faults, eventual consistency,
SSM Run Command and an inventory of live resources (GET /peerlab/resources)."""

from __future__ import annotations

import functools
import io
import json
import re
import time
import urllib.parse
import uuid

from peerlab_local import inventory, ssm
from peerlab_local.core import caller, faults, validation
from peerlab_local.core.config import REALISTIC
from peerlab_local.core.world import LOCK, world
from peerlab_local.ec2 import consistency, limits
from peerlab_local.events import rules as events
from peerlab_local.events import scheduler
from peerlab_local.iam import context as iam_context
from peerlab_local.iam import enforce as iam_enforce  # --iam enforce; moto's own request path is hooked there
from peerlab_local.lambda_ import runtime as lambda_runtime
from peerlab_local.stepfunctions import timing as sfn_time

CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
ACCESS_KEY = re.compile(r"Credential=([^/]+)/")


def ec2_error(code: str, message: str, status: int = 400):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")
    return status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()


def json_error(code: str, message: str, status: int = 400):
    body = json.dumps({"__type": code, "message": message}).encode()
    # AWS always sends a request id; moto's Step Functions engine reads it when naming a Lambda.* error
    return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code,
                    "x-amzn-RequestId": str(uuid.uuid4())}, body


class Middleware:
    def __init__(self, app):
        self.app = app
        cfg = world().config
        self.faults = faults.Faults(cfg.fault_rate, cfg.seed, cfg.fault_kinds)
        self.limits = limits.RateLimits(cfg.ec2_rate_limits, time_scale=cfg.time_scale)
        self.calls = limits.Calls()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/peerlab/"):
            return self._respond(start_response, *self._own(path, environ))
        key = ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
        # a function's call is served in the local AWS's time, not the function's: except an Invoke, which runs
        # another function (its run time is a caller's on AWS too)
        caller_key = key.group(1) if key and not path.endswith("/invocations") else ""
        task = environ.get("HTTP_X_PEERLAB_TASK", "")  # a Step Functions Task's Invoke (stepfunctions/timing.py)
        with lambda_runtime.serving(caller_key), lambda_runtime.for_task(task), self.calls.serving(caller_key):
            result = self._serve(environ, start_response)
            try:
                return list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()

    def _serve(self, environ, start_response):
        if world().config.latency:
            time.sleep(world().config.latency)  # --latency: the local AWS's own time (lambda_/runtime.serving)
        world().tick()
        body = self._body(environ)
        service, action, params = self._identify(environ, body)
        key = ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
        self.calls.count(key.group(1) if key else "", service, action)
        if service == "ec2" and not self.limits.allow(action, params):
            return self._respond(start_response, *ec2_error("RequestLimitExceeded", "Request limit exceeded.", 503))
        # what AWS refuses before serving (core/validation.py: the service models' constraints and the rules the
        # service packages register), for the SSM calls answered here and those moto serves alike
        invalid = validation.refusal(service, action, environ, body)
        if invalid is not None:
            return self._respond(start_response, *invalid)
        fault = None
        if service in ("ec2", "ssm") or (service == "lambda" and action == "Invoke"):
            fault = self.faults.draw(service, action or "?")
            if fault is not None and fault not in faults.DEFERRED:
                return self._respond(start_response, *faults.response(fault, params, world().config.region))
        if fault is not None:  # Sandbox.Timedout, Lambda.Unknown: the function runs, then its answer is the fault
            faults.defer(fault)
            try:
                return self._buffered(environ, start_response)
            finally:
                faults.defer(None)
        if service == "ssm" and action in ssm.HANDLERS and iam_enforce.enabled():  # answered here, not by moto
            refused = iam_enforce.check(key.group(1) if key else "", "ssm", action, self._json(body),
                                        caller.region_of(environ, world().config.region), "json")
            if refused:
                return self._respond(start_response, *refused)
        if service == "ssm" and action in ssm.HANDLERS:
            return self._respond(start_response, *self._ssm(action, body, caller.account_of(environ),
                                                            caller.region_of(environ, world().config.region)))
        rewrite = None
        if service == "ec2" and not consistency.internal(key.group(1) if key else None):
            # eventual consistency (consistency.py): ids not propagated yet are NotFound, listings leave them out
            not_yet = consistency.refusal(action, params)
            if not_yet:
                return self._respond(start_response, *ec2_error(*not_yet))
            if action == "DeleteVpcEndpoints":
                kept, too_new = consistency.split_endpoint_deletion(params)
                if too_new:
                    return self._respond(start_response, *self._delete_endpoints(environ, kept, too_new))
            rewrite = functools.partial(consistency.filter_listing, action)
        if service in ("ec2", "ssm"):
            with LOCK:
                return self._buffered(environ, start_response, rewrite)
        return self.app(environ, start_response)

    # ---- helpers ------------------------------------------------------------------------------------------

    def _buffered(self, environ, start_response, rewrite=None):
        # consume the response inside the lock: moto renders lazily
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(self.app(environ, capture))
        headers = captured["headers"]
        if rewrite is not None and captured["status"].startswith("200"):
            changed = rewrite(chunks)
            if changed is not None:
                chunks = changed
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(chunks))))
        start_response(captured["status"], headers)
        return [chunks]

    def _delete_endpoints(self, environ, kept: dict, too_new: list[str]):
        """DeleteVpcEndpoints naming endpoints not propagated yet: the others are deleted, those are reported in
        `unsuccessful` with InvalidVpcEndpointId.NotFound, as AWS does for a bulk request."""
        if any(name.startswith("VpcEndpointId.") for name in kept):
            body = consistency.encode(kept)
            environ = dict(environ, QUERY_STRING="", CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)})
            with LOCK:
                self._buffered(environ, lambda status, headers, exc_info=None: None)
        return 200, {"Content-Type": "text/xml;charset=UTF-8"}, consistency.endpoint_deletion_response(too_new)

    @staticmethod
    def _body(environ) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        data = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        return data

    @staticmethod
    def _identify(environ, body: bytes):
        match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(2) if match else ""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        params: dict[str, list[str]] = {}
        action = ""
        if target:
            action = target.rsplit(".", 1)[-1]
        elif service == "lambda":
            if re.search(r"/functions/[^/]+/invocations$", environ.get("PATH_INFO", "")):
                action = "Invoke"
        else:
            params = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            if (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded"):
                params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
            action = (params.get("Action") or [""])[0]
        return service, action, params

    @staticmethod
    def _json(body: bytes) -> dict:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _ssm(action: str, body: bytes, account: str, region: str):
        try:
            request = json.loads(body or b"{}")
            with LOCK:
                result = ssm.handle(action, request, account, region)
        except ssm.SsmError as err:
            return json_error(err.code, err.message, err.status)
        except ValueError:
            return json_error("SerializationException", "the request body is not JSON")
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(result).encode()

    def _own(self, path: str, environ):
        if path == "/peerlab/health":
            return 200, {"Content-Type": "application/json"}, b'{"status":"ok"}'
        if path == "/peerlab/iam":  # --iam: mode, actions evaluated on "*" (unmodelled), recent denials
            return 200, {"Content-Type": "application/json"}, json.dumps(iam_enforce.report()).encode()
        if path == "/peerlab/iam/evaluated":  # --iam enforce: every evaluated call, its requests and statements
            since = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("since", ["0"])[0]
            data = iam_enforce.evaluated(int(since) if since.isdigit() else 0)
            return 200, {"Content-Type": "application/json"}, json.dumps(data, default=str).encode()
        if path == "/peerlab/resources":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            world().tick()
            with LOCK:
                listing = inventory.resources(include_default=query.get("all", ["0"])[0] in ("1", "true"),
                                              tag=(query.get("tag") or [None])[0])
            return 200, {"Content-Type": "application/json"}, json.dumps(listing, indent=1).encode()
        if path == "/peerlab/faults":
            data = self.faults.report()  # injected: faults by service:action; by_kind: and of which kind
            return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()
        if path == "/peerlab/calls":
            data = {"calls": self.calls.snapshot(), "served_seconds": self.calls.served_snapshot(),
                    "throttled": dict(self.limits.throttled),
                    "ec2_rate_limits": self.limits.enabled}
            return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()
        if path == "/peerlab/iam/requests":  # what a call touches, as IAM authorization requests
            body = self._body(environ)
            with LOCK:
                return iam_context.endpoint(body)
        if path == "/peerlab/scheduler":  # EventBridge Scheduler: next invocations, attempts, failures
            return 200, {"Content-Type": "application/json"}, json.dumps(scheduler.report(), indent=1).encode()
        if path == "/peerlab/events":  # EventBridge rules: targets that could not be invoked (events.py)
            return 200, {"Content-Type": "application/json"}, json.dumps(events.report()).encode()
        if path == "/peerlab/config":
            cfg = world().config
            data = {"profile": cfg.profile, "time_scale": cfg.time_scale, "fault_rate": cfg.fault_rate,
                    "seed": cfg.seed, "region": cfg.region,
                    "delays": {name: cfg.delay(name) for name in REALISTIC},  # scaled medians (compatibility)
                    # per name: median and p99, unscaled and scaled, and the basis (delays.py)
                    "distributions": {name: cfg.distribution(name) for name in REALISTIC},
                    "median_delays": cfg.median_delays}
            # Wait/Retry/timeouts of Step Functions last AWS seconds x this (sfn_time.py); 1.0 is real time
            data["stepfunctions_time_scale"] = cfg.time_scale if sfn_time.installed() else 1.0
            data["iam"] = iam_enforce.report()["mode"]  # --iam: off | enforce (iam_enforce.py)
            return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()
        return 404, {"Content-Type": "application/json"}, b'{"message":"unknown peerlab endpoint"}'

    @staticmethod
    def _respond(start_response, status: int, headers: dict, body: bytes):
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 413: "Request Entity Too Large",
                  429: "Too Many Requests",
                  500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "")
        start_response(f"{status} {reason}", list(headers.items()) + [("Content-Length", str(len(body)))])
        return [body]
