"""One rule for what a Lambda Task leaves in the state (issue 14, item 6): its function's output, never the
lambda:invoke envelope ({"Payload": ..., "StatusCode": ..., "ExecutedVersion": ...}).

ASL cannot place `$.Payload` itself at a ResultPath (a ResultSelector is an object template, not a path), so:
- `$.Payload` is read only by the Task that invoked the function: `OutputPath: "$.Payload"` where the Task's whole
  output is the function's output (the end of a branch or of a machine); else a ResultSelector each of whose
  entries is a field of the output under its own name, `"k.$": "$.Payload.k"` — or, with `ResultPath: "$"` (the
  state becomes the result), the whole output under one name, `"lab.$": "$.Payload"`.
- No other path names `Payload`: downstream reads the output's own fields, `$.routes.routes`, `$.ping.reachable`.
A field the ASL selects is the workflow's contract with the step; where a step's output goes whole into the
execution's report, the selection must be every field of its Rust output struct, so the report neither loses a
field a step adds nor names one serde may leave out (`skip_serializing_if`: an absent field fails the
ResultSelector with States.Runtime)."""

from __future__ import annotations

import json
import re

from asl import DESCRIBE_LAB, LAB, MACHINES, ROOT, START_LAB, WORKSHOP, load, states, tasks

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
PATH_FIELDS = ("InputPath", "OutputPath", "ResultPath", "Variable", "SecondsPath", "TimestampPath", "ItemsPath",
               "ErrorPath", "CausePath")

# Tasks whose output "Build the report" carries whole, and the Rust struct of that output (found by name anywhere
# in lab-core, so the struct may move between modules).
WHOLE_IN_THE_REPORT = {
    "Ping B from A before peering (expect no reply)": "PingOutput",
    "Ping B from A (expect replies)": "PingOutput",
    "Request the peering": "PeeringOutput",
    "Accept the peering": "PeeringOutput",
    "Add routes both ways": "RoutesOutput",
    "Tear the lab down": "TeardownOutput",
}


def paths(value, key: str = ""):
    """Every JSONPath a state's field holds: values of `*.$` keys in templates, and the path fields."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith(".$") and isinstance(v, str):
                yield v
            elif k in PATH_FIELDS and isinstance(v, str):
                yield v
            else:
                yield from paths(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from paths(v, key)


def mentions_payload(path: str) -> bool:
    return re.search(r"\.Payload\b", path) is not None


def struct_fields(name: str) -> tuple[list[str], set[str]]:
    """(fields, those serde may leave out) of `pub struct <name>` in lab-core's sources."""
    for source in sorted((ROOT / "functions" / "lab-core" / "src").rglob("*.rs")):
        found = re.search(rf"pub struct {name} \{{(.*?)\n\}}", source.read_text(), re.S)
        if found:
            fields, optional, pending = [], set(), False
            for line in found.group(1).splitlines():
                pending = pending or "skip_serializing_if" in line
                field = re.match(r"\s*pub (\w+):", line)
                if field:
                    fields.append(field.group(1))
                    if pending:
                        optional.add(field.group(1))
                    pending = False
            return fields, optional
    raise AssertionError(f"no pub struct {name} in functions/lab-core/src")


def lambda_tasks():
    for path in MACHINES:
        for name, state in tasks(load(path)):
            if path == WORKSHOP and state["Resource"] in (START_LAB, DESCRIBE_LAB):
                continue  # the child lab: test_the_workshop_records_each_lab_from_fields_every_outcome_has
            assert state["Resource"] == LAMBDA_INVOKE, f"{name}: a Task that is not a Lambda invoke"
            yield name, state


def test_the_workshop_records_each_lab_from_fields_every_outcome_has():
    # Inside the Map a path to a missing field is States.Runtime, which no Catch catches: it would fail the whole
    # workshop for one lab. A succeeded child's DescribeExecution always has ExecutionArn and Output (.sync:2: the
    # output as JSON), and its Output is what the lab's only successful end, "Build the report", writes: each
    # field the digest reads is one it writes from a step's ResultSelector that always sets it. A caught error is
    # recorded whole, as {Error, Cause}.
    workshop = dict(states(load(WORKSHOP)))
    lab = dict(states(load(LAB)))
    (starts,) = [s for s in workshop.values() if s.get("Resource") == START_LAB]
    assert starts["ResultSelector"]["execution.$"] == "$.ExecutionArn"
    report = lab["Build the report"]["Parameters"]
    read = [m for value in paths(starts["ResultSelector"]["digest"])
            for m in re.findall(r"\$\.Output\.(\w+)\.(\w+)", value)]
    assert len(read) == 5, read
    for part, field in read:
        assert report[f"{part}.$"] == f"$.{part}", part
        steps = [s for s in lab.values() if s.get("Type") == "Task" and s.get("ResultPath") == f"$.{part}"]
        assert steps and all(f"{field}.$" in s["ResultSelector"] for s in steps), (part, field)
    assert starts["Catch"] == [
        {"ErrorEquals": ["StepFunctions.ExecutionAlreadyExistsException"], "ResultPath": "$.error",
         "Next": "Find the lab of that name"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record the failure"}]
    assert workshop["Record the failure"]["Parameters"]["error.$"] == "$.error"
    assert workshop["Record the lab"]["Parameters"]["digest.$"] == "$.run.digest"
    # a lab of that name found succeeded: the same digest, read from its Output once parsed (DescribeExecution's
    # Output is a string; its other fields are read only through a Choice on IsPresent, or whole as JSON)
    found = workshop["Digest its report"]["Parameters"]
    assert found["execution.$"] == "$.found.ExecutionArn"
    assert json.dumps(found["digest"]) == json.dumps(starts["ResultSelector"]["digest"]).replace(
        "$.Output.", "$.found.Output.")
    assert workshop["Read its report"]["Parameters"]["Output.$"] == "States.StringToJson($.found.description.Output)"
    assert workshop["Record how it ended"]["Parameters"]["error"]["Cause.$"] == \
        "States.JsonToString($.found.description)"
    # the summary reads the records by the names summarize_workshop.rs's LabRecord gives them
    source = (ROOT / "functions/lab-core/src/summarize_workshop.rs").read_text()
    for field in ("lab_id", "execution", "digest", "error"):
        assert re.search(rf"\b{field}: ", source), field
    assert 'tag = "status", rename_all = "SCREAMING_SNAKE_CASE"' in source
    statuses = {workshop[name]["Parameters"]["status"]
                for name in ("Record the lab", "Record the failure", "Record how it ended")}
    assert statuses == {"SUCCEEDED", "FAILED"}


def test_a_lambda_task_reads_payload_itself_and_keeps_the_outputs_own_names():
    for name, state in lambda_tasks():
        selector = state.get("ResultSelector")
        if selector is None:
            assert state.get("OutputPath") == "$.Payload", f"{name}: neither a ResultSelector nor OutputPath $.Payload"
            assert state.get("End") and state.get("ResultPath", "$") == "$", \
                f"{name}: OutputPath $.Payload only where the Task's output is the output of its branch or machine"
            continue
        assert "OutputPath" not in state, f"{name}: both a ResultSelector and an OutputPath"
        for key, path in selector.items():
            assert key.endswith(".$"), f"{name}: a constant in the ResultSelector ({key})"
            field = key[:-2]
            assert field != "Payload", f"{name}: the envelope's Payload kept as a level of the state"
            whole = path == "$.Payload" and state.get("ResultPath") == "$" and len(selector) == 1
            assert whole or path == f"$.Payload.{field}", \
                f"{name}: {key} {path!r}: select a field of the output under its own name, \"{field}.$\": " \
                f"\"$.Payload.{field}\" (or, at ResultPath $, the whole output under one name)"


def test_no_path_downstream_names_the_payload():
    for path in MACHINES:
        for name, state in states(load(path)):
            own = set()
            if state["Type"] == "Task":  # the Task that invoked the function reads its envelope
                own = set(paths(state.get("ResultSelector", {}))) | {state.get("OutputPath")}
            for p in paths({k: v for k, v in state.items() if k not in ("Branches",)}):
                assert p in own or not mentions_payload(p), f"{name}: {p!r} reads the lambda:invoke envelope"


def test_what_the_report_carries_whole_is_every_field_of_the_steps_output():
    lab = dict(states(load(LAB)))
    for name, struct in WHOLE_IN_THE_REPORT.items():
        fields, optional = struct_fields(struct)
        selected = [key[:-2] for key in lab[name]["ResultSelector"]]
        assert sorted(selected) == sorted(set(fields) - optional), \
            f"{name}: selects {selected}; {struct} has {fields} (serde may leave out {sorted(optional)})"


def test_no_result_selector_names_a_field_serde_may_leave_out():
    optional = set()
    for struct in ("PingOutput", "PeeringOutput", "RoutesOutput", "SecurityGroupOutput", "TeardownOutput"):
        optional |= struct_fields(struct)[1]
    assert "left" in optional  # TeardownOutput.left: sweep only, skipped when empty (the parse is live)
    for name, state in lambda_tasks():
        for key in state.get("ResultSelector", {}):
            assert key[:-2] not in optional, f"{name}: {key} may be absent from the output (States.Runtime)"


def test_the_report_reads_the_outputs_as_the_steps_wrote_them():
    report = load(LAB)["States"]["Build the report"]["Parameters"]
    assert report["resources"]["routes.$"] == "$.routes.routes"
    assert (report["negative_control.$"], report["ping.$"], report["teardown.$"]) == \
        ("$.negative_control", "$.ping", "$.teardown")
