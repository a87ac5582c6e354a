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
moto, unused) do.

The same for the AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`; the workshop describes a lab
with `aws-sdk:sfn:describeExecution`): "Parameters in Step Functions are expressed in PascalCase, even if the native
service API is in camelCase. For example, you could use the Step Functions API action startSyncExecution and specify
its parameter as StateMachineArn" (Step Functions developer guide, "Learning to use AWS service SDK integrations in
Step Functions"), and the result comes back in PascalCase too (`Status`, `Input` and `Output` as the API's strings).
moto passed the PascalCase Parameters to botocore as they were (a ParamValidationError, surfaced as a task failure)
and returned botocore's camelCase answer. Its timestamps (`StartDate`, `StopDate`) stayed Python datetimes in the
state's data, which no JSON holds: `States.JsonToString` of such a result failed States.Runtime ("Object of type
datetime is not JSON serializable") where AWS's state data is JSON throughout. They become ISO 8601 strings here, the
form moto's engine already writes them in the execution history (AWS's own form for these fields was not found in
a first-party page; peerlab reads none of them)."""

from __future__ import annotations

import datetime
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


def _json_safe(value):
    """`value` with every datetime an ISO 8601 string (what moto's `to_json_str` writes in the history)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _sdk_response(original, self, response, boto_service_name=None, service_action_name=None):
    _response(original, self, response, boto_service_name=boto_service_name, service_action_name=service_action_name)
    if isinstance(response, dict):
        response.update(_json_safe(response))


@once
def install() -> None:
    try:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
            StateTaskServiceAwsSdk,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
            StateTaskServiceSfn,
        )
        from moto.stepfunctions.parser.utils import camel_to_snake_case  # noqa: F401 - must exist
    except ImportError as exc:
        raise MotoChanged(f"the states and aws-sdk integrations cannot be normalised: {exc} (moto changed?)") from exc
    for task in (StateTaskServiceSfn, StateTaskServiceAwsSdk):
        for name in ("_to_boto_request", "_from_boto_response"):
            if not hasattr(task, name):
                raise MotoChanged(f"{task.__name__}.{name} is gone (moto changed?)")
        wrap(task, "_normalise_parameters")(_parameters)
    wrap(StateTaskServiceSfn, "_normalise_response")(_response)  # the .sync cause's encoder takes datetimes
    wrap(StateTaskServiceAwsSdk, "_normalise_response")(_sdk_response)
