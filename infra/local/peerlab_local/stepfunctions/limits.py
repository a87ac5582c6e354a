"""The payload quota as AWS applies it: 256 KiB (262,144 bytes) of UTF-8, on an execution's input at StartExecution,
on every state's input and output and on a Task's result.

AWS: "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded string. This
quota affects tasks (activity, Lambda function, or integrated service), state or execution output, and input data
when scheduling a task, entering a state, or starting an execution." (Step Functions Developer Guide, "Step Functions
service quotas", https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html). Inside an execution the
breach is `States.DataLimitExceeded` ("Handling errors", Error names: "When the output of a connector is larger than
payload size quota. When the output of a state is larger than payload size quota. When, after Parameters processing,
the input of a state is larger than the payload size quota."); what States.ALL does not catch: errors.py.

moto already raises States.DataLimitExceeded for a state's output, a Lambda or service Task's result (a `.sync:2`
result too: the child's DescribeExecution, its input and output both) with AWS's cause ("The state/task '…' returned
a result with a size exceeding the maximum number of bytes service limit.", as LocalStack's AWS-validated snapshot
records it). Changed here:
- the measure (`quotas.is_within_size_quota`): moto counted `json.dumps`'s default form, ASCII-escaped with spaces
  after `,` and `:` ("é" 6 bytes, not 2) and refused exactly 262,144 bytes; now compact JSON in UTF-8, up to and
  including 262,144 (the API's `input`: "Length Constraints: Maximum length of 262144", "expressed as bytes in UTF-8
  encoding": StartExecution, Step Functions API reference).
- StartExecution: an `input` over 262,144 UTF-8 bytes is refused and starts nothing, with `ValidationException` "1
  validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal
  to 262144 bytes in UTF-8 encoding" (no AWS page gives the answer; that code and text are as two independent
  public codebases record AWS answering, and match the SDK model's constraint, `max: 262144`). moto took any size.
- a Task's input after Parameters (what it sends: `lambda:invoke`'s Parameters, a function ARN's Payload): over the
  quota the Task fails States.DataLimitExceeded before anything is invoked (moto sent it). The cause is ours (no AWS
  wording found), in the form of AWS's for a result.
"""

from __future__ import annotations

import json

from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser import quotas
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.encoding import _DateTimeEncoder
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from peerlab_local.core.patching import once, replace, wrap

MAX_BYTES = 262_144  # 256 KiB
INPUT_TOO_LARGE = ("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size "
                   f"less than or equal to {MAX_BYTES} bytes in UTF-8 encoding")


def size(value) -> int:
    """UTF-8 bytes of a payload: a string as given, anything else as compact JSON (AWS's own form in histories)."""
    text = value if isinstance(value, str) else json.dumps(value, cls=_DateTimeEncoder, ensure_ascii=False,
                                                          separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def is_within_size_quota(value) -> bool:
    return size(value) <= MAX_BYTES


def _start_execution(original, backend, state_machine_arn, name=None, execution_input=None, trace_header=None):
    if execution_input is not None and size(execution_input) > MAX_BYTES:
        raise ValidationException(INPUT_TOO_LARGE)
    return original(backend, state_machine_arn, name, execution_input, trace_header)


ERROR = StatesErrorNameType.StatesStatesDataLimitExceeded


def _cause(task) -> str:
    return (f"The state/task '{task.name}' has an input after Parameters with a size exceeding the maximum number of "
            "bytes service limit.")


def _task_input(original, task, env):
    parameters = original(task, env)
    if not is_within_size_quota(parameters):
        details = TaskFailedEventDetails(error=ERROR.to_name(), cause=_cause(task))
        raise FailureEventException(failure_event=FailureEvent(
            env=env, error_name=StatesErrorName(typ=ERROR), event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details)))  # type: ignore[typeddict-item]
    return parameters


def _function_input(original, task, env):
    """A function ARN as Resource: what goes out is the Payload (moto wraps it with the FunctionName)."""
    parameters = original(task, env)
    if not is_within_size_quota(parameters["Payload"]):
        details = LambdaFunctionFailedEventDetails(error=ERROR.to_name(), cause=_cause(task))
        raise FailureEventException(failure_event=FailureEvent(
            env=env, error_name=StatesErrorName(typ=ERROR), event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(lambdaFunctionFailedEventDetails=details)))  # type: ignore[typeddict-item]
    return parameters


@once
def install() -> None:
    replace(quotas, "is_within_size_quota", is_within_size_quota, rebind=True)
    wrap(StepFunctionsParserBackend, "start_execution")(_start_execution)
    wrap(StateTask, "_eval_parameters")(_task_input)
    wrap(StateTaskLambda, "_eval_parameters")(_function_input)
