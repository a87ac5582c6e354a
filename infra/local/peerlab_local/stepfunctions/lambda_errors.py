"""Step Functions names a Lambda function error that carries no errorType `Lambda.Unknown`, as AWS does.

AWS: "Unhandled errors in Lambda are reported as Lambda.Unknown in the error output. These include out-of-memory
errors and function timeouts." (Step Functions Developer Guide, "Handle Lambda service exceptions",
https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html). The cause AWS gives is
"The cause could not be determined because Lambda did not return an error type. Returned payload: <payload>"
(the same words in Step Functions Local's LambdaTaskState, and in execution histories users quote, e.g. a
`{"errorMessage":"<time> <request id> Task timed out after 600.15 seconds"}` payload).
moto's engine (ported from LocalStack) names such an error `Exception` instead; Retry/Catch on Lambda.Unknown would
never match.
"""

from __future__ import annotations

import json

from peerlab_local.core.patching import once, wrap

CAUSE = "The cause could not be determined because Lambda did not return an error type. Returned payload: {}"


def _without_error_type(ex) -> bool:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    if not isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
        return False
    try:
        parsed = json.loads(ex.payload)
    except (TypeError, ValueError):
        return True
    return not (isinstance(parsed, dict) and parsed.get("errorType"))


@once
def install() -> None:
    from moto.stepfunctions.parser.api import (
        HistoryEventType,
        LambdaFunctionFailedEventDetails,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def service_lambda(service_from_error, self, env, ex):  # Resource: arn:aws:states:::lambda:invoke
        if not _without_error_type(ex):
            return service_from_error(self, env, ex)
        return FailureEvent(
            env=env, error_name=CustomErrorName("Lambda.Unknown"), event_type=HistoryEventType.TaskFailed,
            # one key, as moto builds it itself (its EventDetails TypedDict is declared total)
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(  # type: ignore[typeddict-item]
                error="Lambda.Unknown", cause=CAUSE.format(ex.payload), resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type())))

    def direct_lambda(direct_from_error, self, env, ex):  # Resource: a function ARN
        if not _without_error_type(ex):
            return direct_from_error(self, env, ex)
        return FailureEvent(
            env=env, error_name=CustomErrorName("Lambda.Unknown"), event_type=HistoryEventType.LambdaFunctionFailed,
            # one key, as moto builds it itself (its EventDetails TypedDict is declared total)
            event_details=EventDetails(lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(  # type: ignore[typeddict-item]
                error="Lambda.Unknown", cause=CAUSE.format(ex.payload))))

    wrap(StateTaskServiceLambda, "_from_error")(service_lambda)
    wrap(StateTaskLambda, "_from_error")(direct_lambda)
