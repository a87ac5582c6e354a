"""Run Command: SendCommand to the instances named (Online ones only), then each invocation is not visible for
the delivery delay (InvocationDoesNotExist), InProgress while the script runs, then Success or Failed;
GetCommandInvocation, ListCommands, ListCommandInvocations. A command belongs to its account and region.

Output as AWS truncates it: GetCommandInvocation's StandardOutputContent is "The first 24,000 characters written by
the plugin to stdout", StandardErrorContent "The first 8,000 characters written by the plugin to stderr"; a
ListCommandInvocations plugin's Output at most 2,500 (SSM API reference; the service model's `max` of each member,
read from it here).  Requests themselves are checked against the model before they get here (core/validation.py)."""

from __future__ import annotations

import time
import uuid

from moto.core.utils import get_service_model

from peerlab_local.core.world import world
from peerlab_local.ssm.backend import SsmBackend, SsmError
from peerlab_local.ssm.documents import DOCUMENTS, run_script
from peerlab_local.ssm.managed import instances_of, status


def _limit(shape: str, member: str) -> int:
    return int(get_service_model("ssm").shape_for(shape).members[member].metadata["max"])


STDOUT_MAX = _limit("GetCommandInvocationResult", "StandardOutputContent")  # 24,000
STDERR_MAX = _limit("GetCommandInvocationResult", "StandardErrorContent")  # 8,000
PLUGIN_OUTPUT_MAX = _limit("CommandPlugin", "Output")  # 2,500


def send_command(backend: SsmBackend, body: dict) -> dict:
    document = body.get("DocumentName")
    if document not in DOCUMENTS:
        raise SsmError("InvalidDocument", f"Document with name {document} does not exist.")
    if body.get("Targets"):
        raise SsmError("InvalidParameters", "peerlab's local AWS supports SendCommand with InstanceIds only.")
    instance_ids = body.get("InstanceIds") or []
    if not instance_ids:
        raise SsmError("InvalidParameters", "InstanceIds is required.")
    commands = (body.get("Parameters") or {}).get("commands")
    if not commands or not isinstance(commands, list):
        raise SsmError("InvalidParameters", "Parameter \"commands\" is required by AWS-RunShellScript.")
    by_id = {i.id: i for _, _, i in instances_of(backend.account_id, backend.region_name)}
    invalid = [i for i in instance_ids if i not in by_id or not status(by_id[i])[0]]
    if invalid:
        raise SsmError("InvalidInstanceId",
                       f"Instances [[{', '.join(invalid)}]] not in a valid state for account {backend.account_id}")
    w = world()
    now = time.time()
    command_id = str(uuid.uuid4())
    invocations = {}
    for instance_id in instance_ids:
        stdout, stderr, code, duration = run_script(by_id[instance_id], commands)
        visible = w.now() + w.config.delay("command_delivery", key=f"{command_id}:{instance_id}")
        invocations[instance_id] = {
            "visible_at": visible,
            "done_at": visible + w.config.simulated(duration),
            "requested": now,
            "stdout": stdout, "stderr": stderr, "code": code,
        }
    command = {
        "CommandId": command_id,
        "DocumentName": document,
        "DocumentVersion": "$DEFAULT",
        "Comment": body.get("Comment", ""),
        "Parameters": body.get("Parameters") or {},
        "InstanceIds": instance_ids,
        "Targets": [],
        "RequestedDateTime": now,
        "ExpiresAfter": now + float(body.get("TimeoutSeconds") or 3600),
        "OutputS3Region": "",
        "MaxConcurrency": "50", "MaxErrors": "0",
        "TargetCount": len(instance_ids),
        "TimeoutSeconds": int(body.get("TimeoutSeconds") or 3600),
    }
    backend.commands[command_id] = {"command": command, "invocations": invocations}
    return {"Command": _command_view(backend, command_id)}

def _invocation_status(inv: dict) -> str:
    now = world().now()
    if now < inv["visible_at"]:
        return "Pending"
    if now < inv["done_at"]:
        return "InProgress"
    return "Success" if inv["code"] == 0 else "Failed"

def _command_view(backend: SsmBackend, command_id: str) -> dict:
    entry = backend.commands[command_id]
    statuses = [_invocation_status(i) for i in entry["invocations"].values()]
    done = [s for s in statuses if s in ("Success", "Failed")]
    if len(done) < len(statuses):
        overall = "InProgress" if any(s != "Pending" for s in statuses) else "Pending"
    else:
        overall = "Success" if all(s == "Success" for s in statuses) else "Failed"
    return dict(entry["command"], Status=overall, StatusDetails=overall,
                CompletedCount=len(done), ErrorCount=statuses.count("Failed"), DeliveryTimedOutCount=0)

def _invocation_view(backend: SsmBackend, command_id: str, instance_id: str, details: bool) -> dict:
    entry = backend.commands[command_id]
    inv = entry["invocations"][instance_id]
    state = _invocation_status(inv)
    finished = state in ("Success", "Failed")
    view = {
        "CommandId": command_id,
        "InstanceId": instance_id,
        "Comment": entry["command"]["Comment"],
        "DocumentName": entry["command"]["DocumentName"],
        "DocumentVersion": "$DEFAULT",
        "RequestedDateTime": inv["requested"],
        "Status": state,
        "StatusDetails": state,
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
    }
    if details:
        view["CommandPlugins"] = [{
            "Name": "aws:runShellScript",
            "Status": state,
            "StatusDetails": state,
            "ResponseCode": inv["code"] if finished else -1,
            "Output": inv["stdout"][:PLUGIN_OUTPUT_MAX] if finished else "",
        }]
    return view

def get_command_invocation(backend: SsmBackend, body: dict) -> dict:
    command_id, instance_id = body.get("CommandId") or "", body.get("InstanceId")
    entry = backend.commands.get(command_id)
    if entry is None or instance_id not in entry["invocations"]:
        raise SsmError("InvocationDoesNotExist", "")
    inv = entry["invocations"][instance_id]
    state = _invocation_status(inv)
    if state == "Pending":
        raise SsmError("InvocationDoesNotExist", "")
    finished = state != "InProgress"
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"  # noqa: E731
    elapsed = max(0.0, inv["done_at"] - inv["visible_at"])
    return {
        "CommandId": command_id,
        "InstanceId": instance_id,
        "Comment": entry["command"]["Comment"],
        "DocumentName": entry["command"]["DocumentName"],
        "DocumentVersion": "$DEFAULT",
        "PluginName": "aws:runShellScript",
        "ResponseCode": inv["code"] if finished else -1,
        "ExecutionStartDateTime": iso(inv["requested"]),
        "ExecutionElapsedTime": f"PT{elapsed:.3f}S" if finished else "",
        "ExecutionEndDateTime": iso(inv["requested"] + elapsed) if finished else "",
        "Status": state,
        "StatusDetails": state,
        "StandardOutputContent": inv["stdout"][:STDOUT_MAX] if finished else "",
        "StandardOutputUrl": "",
        "StandardErrorContent": inv["stderr"][:STDERR_MAX] if finished else "",
        "StandardErrorUrl": "",
        "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
    }

def list_commands(backend: SsmBackend, body: dict) -> dict:
    wanted_id, wanted_instance = body.get("CommandId"), body.get("InstanceId")
    out = []
    for command_id, entry in backend.commands.items():
        if wanted_id and command_id != wanted_id:
            continue
        if wanted_instance and wanted_instance not in entry["invocations"]:
            continue
        out.append(_command_view(backend, command_id))
    if wanted_id and not out:
        raise SsmError("InvalidCommandId", "")
    return {"Commands": out}

def list_command_invocations(backend: SsmBackend, body: dict) -> dict:
    wanted_id, wanted_instance = body.get("CommandId"), body.get("InstanceId")
    details = bool(body.get("Details"))
    out = []
    for command_id, entry in backend.commands.items():
        if wanted_id and command_id != wanted_id:
            continue
        for instance_id, inv in entry["invocations"].items():
            if wanted_instance and instance_id != wanted_instance:
                continue
            if _invocation_status(inv) == "Pending":
                continue
            out.append(_invocation_view(backend, command_id, instance_id, details))
    return {"CommandInvocations": out}
