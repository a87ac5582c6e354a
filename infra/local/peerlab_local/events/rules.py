"""EventBridge as the deployed stack uses it: when an execution ends, Step Functions sends a "Step Functions
Execution Status Change" event to the default bus, and rules whose pattern matches start their Step Functions
targets with the event as input. moto's Step Functions sends no events and its rules cannot target a state
machine; this adds both (other targets stay moto's). The deployed stack (stack.py) creates the backstop's rule
from the template."""

from __future__ import annotations

import datetime
import json
import os
import threading
import uuid

import boto3
from botocore.exceptions import ClientError
from moto.events.models import Rule, events_backends
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from peerlab_local.core.patching import once, wrap
from peerlab_local.iam import enforce as iam_enforce
from peerlab_local.iam import identities


def _ms(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


def status_change(execution) -> dict:
    """The event AWS sends for an execution that changed status."""
    status = getattr(execution.exec_status, "value", str(execution.exec_status))
    output = json.dumps(execution.output) if execution.output is not None else None
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": execution.account_id,
        "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name, "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
            "name": execution.name, "status": status,
            "startDate": _ms(execution.start_date), "stopDate": _ms(execution.stop_date),
            "input": json.dumps(execution.input_data), "inputDetails": {"included": True},
            "output": output, "outputDetails": {"included": True} if output is not None else None,
            "error": execution.error, "cause": execution.cause,
        },
    }


FAILURES: list[dict] = []  # GET /peerlab/events: targets EventBridge could not invoke (newest last)


def _start(target: dict, event: dict, region: str, rule_arn: str | None = None):
    """Start the target through the local AWS's own API, off the ending execution's thread, with the target's
    RoleArn session as EventBridge does: it assumes the role as events.amazonaws.com ("Using IAM roles to invoke
    targets", EventBridge user guide: a Step Functions target needs a role that allows states:StartExecution;
    aws:SourceArn is the rule, aws:SourceAccount its account). A role it cannot assume, or a refused StartExecution,
    is a failed invocation: EventBridge drops the event (or sends it to the target's dead-letter queue) without
    retrying a missing permission ("Using dead-letter queues to process undelivered events", rule-dlq.html); recorded
    in FAILURES. With --iam off, a target whose role cannot be assumed (tests' placeholder roles) is started with the
    local AWS's administrator keys, as before."""
    account = event["account"]
    context = {"aws:SourceAccount": account}
    if rule_arn:
        context["aws:SourceArn"] = rule_arn
    keys = {"aws_access_key_id": "events", "aws_secret_access_key": "events"}
    failure = {"rule": rule_arn, "target": target.get("Arn"), "role": target.get("RoleArn"), "event": event["id"]}
    try:
        creds = identities.service_session(target.get("RoleArn") or "", identities.EVENTS, region, context)
        keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"]}
    except identities.NotAssumable as err:
        if iam_enforce.enabled():
            FAILURES.append({**failure, "error_code": "AccessDenied", "error_message": str(err)})
            del FAILURES[:-100]
            return
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{os.environ['MOTO_PORT']}",
                       region_name=region, **keys)
    try:
        sfn.start_execution(stateMachineArn=target["Arn"], name=f"event-{event['id']}", input=json.dumps(event))
    except ClientError as err:
        error = err.response.get("Error", {})
        FAILURES.append({**failure, "error_code": error.get("Code"), "error_message": error.get("Message")})
        del FAILURES[:-100]


def report() -> dict:
    return {"failures": list(FAILURES)}


def deliver(event: dict):
    """Every enabled rule of the default bus whose pattern matches: its state machine targets started."""
    bus = events_backends[event["account"]][event["region"]].event_buses.get("default")
    if bus is None:
        return
    for rule in list(bus.rules.values()):
        # the event dict, as moto's own PutEvents passes it (EventMessageType is its TypedDict of the same keys)
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):  # type: ignore[arg-type]
            continue
        for target in rule.targets:
            if ":states:" in target["Arn"] and ":stateMachine:" in target["Arn"]:
                threading.Thread(target=_start, args=(target, event, event["region"], rule.arn),
                                 daemon=True).start()


def _terminated_and_told(original, self) -> None:
    original(self)
    deliver(status_change(self.execution))


def _send_to_other_targets(original, self, original_event, transform_input=True):
    """moto's delivery for the targets it knows; state machines are started by `deliver`."""
    states = [t for t in self.targets if ":states:" in t["Arn"]]
    if not states:
        return original(self, original_event, transform_input)
    kept = self.targets
    try:
        self.targets = [t for t in kept if t not in states]
        return original(self, original_event, transform_input)
    finally:
        self.targets = kept


@once
def install() -> None:
    wrap(BaseExecutionWorkerCommunication, "terminated")(_terminated_and_told)
    wrap(Rule, "send_to_targets")(_send_to_other_targets)
