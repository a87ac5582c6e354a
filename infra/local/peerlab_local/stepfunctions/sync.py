"""Step Functions' integration with itself (`arn:aws:states:::states:startExecution[.sync[:2]]`) as AWS runs it:
the Task's Parameters are written in the integration's PascalCase (`StateMachineArn`, `Name`, `Input`: the Step
Functions developer guide's "Start a new AWS Step Functions state machine from a running execution"), and its result
comes back in the same casing (`ExecutionArn`, `StartDate`; for `.sync:2` the child's DescribeExecution: `Status`,
`Output` as JSON, ...; a failed child's cause is that DescribeExecution too).

moto 5.2.5 ported LocalStack's interpreter but left out the request and response normalisation of its
`StateTaskService` (`_normalise_parameters` and `_normalise_response` are no-ops there), which LocalStack does from
botocore's operation shapes: the StartExecution request lost `StateMachineArn` (botocore serialises only the
operation's own members) and the `.sync` resolver looked up `ExecutionArn` in a camelCase answer, so no child ever
started (a `KeyError` surfaced as States.Runtime). Here the two, for the `states` integration only (the Lambda
integration normalises its own), with the shapes' member names: PascalCase to the API's member on the way in,
the API's member to PascalCase on the way out, as LocalStack's `_to_boto_request` / `_from_boto_response` (still in
moto, unused) do."""

from __future__ import annotations

from functools import cache

from peerlab_local.core.patching import MotoChanged, once, wrap


@cache
def _operations(service: str) -> dict[str, object]:
    """snake_case action (moto's `_get_boto_service_action`) -> botocore's operation model."""
    import botocore.session
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    model = botocore.session.get_session().get_service_model(service)
    return {camel_to_snake_case(name): model.operation_model(name) for name in model.operation_names}


def _operation(task, service_action_name: str | None):
    service = task._get_boto_service_name()
    action = task._get_boto_service_action(service_action_name=service_action_name)
    return _operations(service).get(action)


def _parameters(original, self, parameters, boto_service_name=None, service_action_name=None):
    original(self, parameters, boto_service_name=boto_service_name, service_action_name=service_action_name)
    operation = _operation(self, service_action_name)
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _response(original, self, response, boto_service_name=None, service_action_name=None):
    original(self, response, boto_service_name=boto_service_name, service_action_name=service_action_name)
    operation = _operation(self, service_action_name)
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


@once
def install() -> None:
    try:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
            StateTaskServiceSfn,
        )
        from moto.stepfunctions.parser.utils import camel_to_snake_case  # noqa: F401 - must exist
    except ImportError as exc:
        raise MotoChanged(f"the states integration cannot be normalised: {exc} (moto changed?)") from exc
    for name in ("_to_boto_request", "_from_boto_response"):
        if not hasattr(StateTaskServiceSfn, name):
            raise MotoChanged(f"StateTaskServiceSfn.{name} is gone (moto changed?)")
    wrap(StateTaskServiceSfn, "_normalise_parameters")(_parameters)
    wrap(StateTaskServiceSfn, "_normalise_response")(_response)
