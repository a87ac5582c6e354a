"""The reference steps' Lambda runtime loop (what a Python Lambda's runtime does around a handler): import boto3
and the handlers at start, then next-invocation -> handler -> response/error on AWS_LAMBDA_RUNTIME_API.
Usage: python bench/reference/bootstrap.py STEP"""

import json
import os
import sys
import urllib.request

import steps  # noqa: E402  (imports boto3: part of the cold start, as in a Python Lambda)

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"


def post(url: str, body: dict):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def main(step: str):
    handler = steps.HANDLERS[step]
    while True:
        with urllib.request.urlopen(f"{API}/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.load(r)
        try:
            result = handler(event)
        except steps.StepError as err:
            post(f"{API}/{request_id}/error", {"errorType": err.error_type, "errorMessage": str(err)})
            continue
        except Exception as err:  # noqa: BLE001 - any other failure is the function's error, as on Lambda
            post(f"{API}/{request_id}/error", {"errorType": type(err).__name__, "errorMessage": str(err)})
            continue
        post(f"{API}/{request_id}/response", result)


if __name__ == "__main__":
    main(sys.argv[1])
