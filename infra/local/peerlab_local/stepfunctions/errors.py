"""What `States.ALL` matches, as AWS documents it: every error name but the two terminal ones.

AWS (Step Functions Developer Guide, "Handling errors in Step Functions workflows", Error names,
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): `States.ALL` is "A wildcard that
matches any known error name. This error type can't catch the States.DataLimitExceeded terminal error type and
runtime error types"; `States.DataLimitExceeded`: "This is a terminal error that cannot be caught by the States.ALL
error type"; `States.Runtime`: "A retry or catch on States.ALL won't catch States.Runtime errors". The same rule holds
for a Retrier (one `ErrorEquals` for both). Named explicitly, an error is matched as any other name: a Catch on
`States.DataLimitExceeded` catches it (LocalStack's AWS-validated snapshot
tests/aws/services/stepfunctions/v2/error_handling/test_states_errors.snapshot.json, recorded 2024-03-21, shows AWS
doing so); for `States.Runtime` named explicitly no page or recording was found, and moto's matching is kept.

moto's engine (ported from LocalStack) lets `States.ALL` match every name (`ErrorEqualsDecl._eval_body`), so a
JSONPath that finds nothing in a Task's Parameters or ResultSelector, or a Task result over the payload quota, ran the
state's Catch on States.ALL (a lab's teardown, say) where AWS ends the execution FAILED at once.

A conflict, recorded: the same LocalStack snapshot shows AWS *catching* a Lambda task's too-large result
(`States.DataLimitExceeded`) with a Catch on `States.ALL` (in March 2024). The guide's rule is the stricter of the two
and is what this models: a workflow that survives here survives either reading.
"""

from __future__ import annotations

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType

from peerlab_local.core.patching import once, wrap

ALL = StatesErrorNameType.StatesALL.to_name()
# what States.ALL does not match (the guide's "terminal error type and runtime error types")
TERMINAL = frozenset({StatesErrorNameType.StatesStatesDataLimitExceeded.to_name(),
                      StatesErrorNameType.StatesRuntime.to_name()})


def _error_equals(original, decl, env) -> None:
    """moto pops the error name from the stack and pushes whether this ErrorEquals matches it."""
    error = env.stack[-1]
    names = {n.error_name for n in decl.error_names}
    if ALL in names and getattr(error, "error_name", None) in TERMINAL:
        env.stack.pop()
        env.stack.append(False)  # States.ALL appears alone (moto checks it), so nothing else here could match
        return
    original(decl, env)


@once
def install() -> None:
    wrap(ErrorEqualsDecl, "_eval_body")(_error_equals)
