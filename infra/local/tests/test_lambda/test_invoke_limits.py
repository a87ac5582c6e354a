"""Lambda Invoke's payload quotas (peerlab_local/lambda_/limits.py): "For synchronous invocations, the maximum
payload size is 6 MB. For asynchronous invocations, the maximum payload size is 1 MB" (Invoke API reference).
Lambda answers HTTP 413 RequestEntityTooLargeException before it looks for the function (the message as quoted in
awslabs/aws-athena-query-federation#793 and ASFHyP3/hyp3#2241); moto takes any size."""

import pytest
from botocore.exceptions import ClientError


def refused(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_a_synchronous_payload_over_6_mb_is_refused(aws):
    lam = aws.client("lambda")
    assert refused(lambda: lam.invoke(FunctionName="nowhere", Payload=b"x" * (6 * 1024 * 1024 + 1))) == (
        413, "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    # at the quota: past the size check, to the function's lookup
    assert refused(lambda: lam.invoke(FunctionName="nowhere", Payload=b"x" * (6 * 1024 * 1024)))[1] == \
        "ResourceNotFoundException"


def test_an_asynchronous_payload_over_1_mb_is_refused(aws):
    lam = aws.client("lambda")
    size = 1024 * 1024 + 1
    assert refused(lambda: lam.invoke(FunctionName="nowhere", InvocationType="Event", Payload=b"x" * size)) == (
        413, "RequestEntityTooLargeException",
        f"{size} byte payload is too large for the Event invocation type (limit 1048576 bytes)")
