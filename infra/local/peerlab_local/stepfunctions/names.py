"""StartExecution's `name` as AWS takes it, on the executing engine too.

AWS (Step Functions API reference, StartExecution, `name`; Length Constraints 1-80): "If you don't provide a name
for the execution, Step Functions automatically generates a universally unique identifier (UUID) as the execution
name. A name must not contain: white space; brackets < > { } [ ]; wildcard characters ? *; special characters
" # % \\ ^ | ~ ` $ & , ; : /; control characters (U+0000-001F, U+007F-009F, U+FFFE-FFFF); surrogates (U+D800-DFFF);
invalid characters (U+10FFFF)." A bad name is `InvalidName`; a name past 80 characters a `ValidationException`.

moto checks names in its plain Step Functions backend (`_validate_name`: the characters and the length, with AWS's
error codes) but its executing backend (`StepFunctionsParserBackend.start_execution`, what runs here) skips the check,
and names an execution started without a name `None` (its ARN ends in `:None`, so a second such start collides).
This runs moto's own check there, adds the characters its list lacks, and gives a nameless start a UUID.
"""

from __future__ import annotations

import uuid

from moto.stepfunctions.exceptions import InvalidName
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from peerlab_local.core.patching import once, wrap


def _beyond_moto(name: str) -> bool:
    """The characters the current API reference forbids that moto's list (U+0000-001F, U+007F-009F) leaves out."""
    return any(ch in "\ufffe\uffff" or "\ud800" <= ch <= "\udfff" or ch == "\U0010ffff" for ch in name)


def _start_execution(original, backend, state_machine_arn, name=None, execution_input=None, trace_header=None):
    if name is None:
        name = str(uuid.uuid4())
    else:
        backend._validate_name(name)  # InvalidName; NameTooLongException (ValidationException) past 80
        if _beyond_moto(name):
            raise InvalidName("Invalid Name: '" + name + "'")
    return original(backend, state_machine_arn, name, execution_input, trace_header)


@once
def install() -> None:
    wrap(StepFunctionsParserBackend, "start_execution")(_start_execution)
