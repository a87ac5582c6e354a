"""CreateStateMachine and UpdateStateMachine refuse a definition as AWS does
(peerlab_local/stepfunctions/definition.py): a transition to no state of its scope (MISSING_TRANSITION_TARGET), a
state name past 80 characters (INVALID_STATE_NAME), and what moto's own parser refuses, all `InvalidDefinition`;
nothing is created or changed."""

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from peerlab_local.stepfunctions.definition import problems

ROOT = Path(__file__).resolve().parents[4]
ROLE = "arn:aws:iam::123456789012:role/any"
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def refused(call, **kwargs) -> str:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    assert error.value.response["Error"]["Code"] == "InvalidDefinition"
    return error.value.response["Error"]["Message"]


def test_a_next_to_no_state_is_refused_naming_it(aws):
    sfn = aws.client("stepfunctions")
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    message = refused(sfn.create_state_machine, name="m", roleArn=ROLE, definition=json.dumps(definition))
    assert message == ("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
                       "Nowhere at /States/A/Next'")
    assert sfn.list_state_machines()["stateMachines"] == []


def test_a_branch_is_a_scope_of_its_own(aws):
    """A Catch inside a Parallel branch cannot go to a state of the machine around it."""
    sfn = aws.client("stepfunctions")
    inner = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], "End": True}
    definition = {"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Branches": [{"StartAt": "Inner", "States": {"Inner": inner}}], "End": True},
        "Failed": {"Type": "Fail", "Error": "Failed"}}}
    message = refused(sfn.create_state_machine, name="m", roleArn=ROLE, definition=json.dumps(definition))
    assert "Missing 'Next' target: Failed at /States/Both/Branches[0]/States/Inner/Catch[0]/Next" in message


def test_a_start_at_choice_default_and_every_problem_are_named(aws):
    sfn = aws.client("stepfunctions")
    definition = {"StartAt": "Z", "States": {"A": {"Type": "Choice", "Default": "X", "Choices": [
        {"Variable": "$.a", "IsPresent": True, "Next": "Y"}]}}}
    message = refused(sfn.create_state_machine, name="m", roleArn=ROLE, definition=json.dumps(definition))
    assert message == ("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at "
                       "/StartAt, MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/A/Default, "
                       "MISSING_TRANSITION_TARGET: Missing 'Next' target: Y at /States/A/Choices[0]/Next'")


def test_a_state_name_of_81_characters_is_refused_and_80_is_taken(aws):
    sfn = aws.client("stepfunctions")
    long = "S" * 81
    message = refused(sfn.create_state_machine, name="m", roleArn=ROLE, definition=json.dumps(
        {"StartAt": long, "States": {long: {"Type": "Pass", "End": True}}}))
    assert message == (f"Invalid State Machine Definition: 'INVALID_STATE_NAME: Invalid State name: State '{long}' "
                       f"exceeds the 80-character limit allowed by the service at /States/{long}'")
    sfn.create_state_machine(name="m", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "S" * 80, "States": {"S" * 80: {"Type": "Pass", "End": True}}}))


def test_an_update_to_an_invalid_definition_changes_nothing(aws):
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name="m", roleArn=ROLE, definition=json.dumps(PASS))["stateMachineArn"]
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}
    refused(sfn.update_state_machine, stateMachineArn=arn, definition=json.dumps(bad))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == PASS


def test_what_moto_refuses_itself_is_invalid_definition_too(aws):
    sfn = aws.client("stepfunctions")
    definition = {"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
        "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "A"}], "End": True}}}
    refused(sfn.create_state_machine, name="m", roleArn=ROLE, definition=json.dumps(definition))


@pytest.mark.parametrize("machine", ["peering-lab", "workshop", "backstop"])
def test_the_projects_state_machines_are_valid(machine):
    assert problems((ROOT / "statemachine" / f"{machine}.asl.json").read_text()) == []
