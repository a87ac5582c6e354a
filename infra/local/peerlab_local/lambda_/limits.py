"""Lambda Invoke's payload quotas, registered with core/validation.py (which checks Invoke against Lambda's service
model first: FunctionName's pattern and length, InvocationType and LogType's values, Qualifier).

"For synchronous invocations, the maximum payload size is 6 MB. For asynchronous invocations, the maximum payload
size is 1 MB" (Invoke API reference; the same words in the service model's documentation of Invoke). A larger
request is refused with HTTP 413 `RequestEntityTooLargeException` (code and status as quoted from Lambda in
awslabs/aws-athena-query-federation#793): "Request must be smaller than 6291456 bytes for the InvokeFunction
operation" (the same issue, and pelmers/streetwarp-web#14); for `Event`, "N byte payload is too large for the Event
invocation type (limit L bytes)" (as quoted in ASFHyP3/hyp3#2241 when the limit was 262144). moto runs the function.
"""

from __future__ import annotations

from peerlab_local.core.validation import Violation, rule

SYNC_LIMIT = 6 * 1024 * 1024  # 6291456
ASYNC_LIMIT = 1024 * 1024


@rule("lambda", "Invoke")
def _payload(params: dict) -> list[Violation]:
    payload = params.get("Payload") or b""
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if params.get("InvocationType") == "Event":
        if size > ASYNC_LIMIT:
            return [Violation("payload", None, "", "RequestEntityTooLargeException",
                              f"{size} byte payload is too large for the Event invocation type "
                              f"(limit {ASYNC_LIMIT} bytes)", 413)]
    elif size > SYNC_LIMIT:
        return [Violation("payload", None, "", "RequestEntityTooLargeException",
                          f"Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation", 413)]
    return []
