"""CreateStateMachine and UpdateStateMachine refuse a definition as AWS does, for the reasons below: `InvalidDefinition`
("The provided Amazon States Language definition is not valid", Step Functions API reference), nothing created or
changed.

Modelled (a subset of what AWS validates; each with the answer AWS is recorded giving):
- MISSING_TRANSITION_TARGET: a `StartAt`, `Next`, `Default`, a Choice rule's or a Catcher's `Next` naming no state of
  its own `States` (a Parallel branch's and a Map's `States` are scopes of their own). AWS answers "Invalid State
  Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: <name> at /States/<state>/Next'" (the message
  as CloudFormation relays it in public FAQs and emulators' tests; a branch's scope: a changelog whose AWS deploy
  failed on it).
- INVALID_STATE_NAME: a state name of more than 80 characters: "Invalid State Machine Definition: 'INVALID_STATE_NAME:
  Invalid State name: State '<name>' exceeds the 80-character limit allowed by the service at /States/<name>'" (AWS's
  answer quoted in ChristopheBougere/asl-validator#69 and aws-cloudformation/cfn-lint#4079).
Several problems are listed in one message, separated by ", ".

moto's executing backend checks only that its parser reads the definition (a missing target or a long name passed,
and failed, if ever, at run time), and its own refusals reached the client with an empty error code (its parser's
`InvalidDefinition` is not one of the exceptions moto's responses serialise): they are now `InvalidDefinition` too.
"""

from __future__ import annotations

import json

from moto.core.exceptions import AWSError
from moto.stepfunctions.parser.api import InvalidDefinition as ParserInvalidDefinition
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from peerlab_local.core.patching import once, wrap

MAX_STATE_NAME = 80


class InvalidDefinition(AWSError):
    TYPE = "InvalidDefinition"
    STATUS = 400


def _scope(states: dict, start_at, where: str) -> list[str]:
    """Problems of one `States` object (at JSON pointer `where`) and of the scopes nested in it."""
    problems = []
    if isinstance(start_at, str) and start_at not in states:
        problems.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {start_at} at {where}/StartAt")
    for name, state in states.items():
        at = f"{where}/States/{name}"
        if len(name) > MAX_STATE_NAME:
            problems.append(f"INVALID_STATE_NAME: Invalid State name: State '{name}' exceeds the "
                            f"{MAX_STATE_NAME}-character limit allowed by the service at {at}")
        if not isinstance(state, dict):
            continue
        targets = [(state.get("Next"), f"{at}/Next"), (state.get("Default"), f"{at}/Default")]
        targets += [(rule.get("Next"), f"{at}/Choices[{i}]/Next")
                    for i, rule in enumerate(state.get("Choices") or []) if isinstance(rule, dict)]
        targets += [(catcher.get("Next"), f"{at}/Catch[{i}]/Next")
                    for i, catcher in enumerate(state.get("Catch") or []) if isinstance(catcher, dict)]
        problems += [f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {pointer}"
                     for target, pointer in targets if isinstance(target, str) and target not in states]
        for i, branch in enumerate(state.get("Branches") or []):
            if isinstance(branch, dict) and isinstance(branch.get("States"), dict):
                problems += _scope(branch["States"], branch.get("StartAt"), f"{at}/Branches[{i}]")
        for key in ("ItemProcessor", "Iterator"):
            inner = state.get(key)
            if isinstance(inner, dict) and isinstance(inner.get("States"), dict):
                problems += _scope(inner["States"], inner.get("StartAt"), f"{at}/{key}")
    return problems


def problems(definition: str) -> list[str]:
    """What AWS would refuse in this definition, among the reasons modelled; [] if none (or if it is not JSON with
    a `States` object: moto's parser refuses that itself)."""
    try:
        document = json.loads(definition)
    except ValueError:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("States"), dict):
        return []
    return _scope(document["States"], document.get("StartAt"), "")


def _validate(original, definition: str) -> None:
    found = problems(definition)
    if found:
        raise InvalidDefinition("Invalid State Machine Definition: '" + ", ".join(found) + "'")
    try:
        original(definition)
    except ParserInvalidDefinition as refused:
        raise InvalidDefinition(refused.message or str(refused)) from refused


@once
def install() -> None:
    wrap(StepFunctionsParserBackend, "_validate_definition")(_validate)
