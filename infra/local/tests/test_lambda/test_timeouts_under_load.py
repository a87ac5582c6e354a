"""A busy local AWS is not a function's time. On AWS a function's API calls are answered in milliseconds by a fleet;
here one process answers every lab's calls on a few cores, and with 50 labs at once a call waits seconds for its
turn (make bench, 2026-11-28 and 2026-12-07: 49 of 50 labs failed on `Sandbox.Timedout`, `States.Timeout` and
`TIMED_OUT`, errors AWS would not raise). So the time the local AWS spends serving a function's calls counts neither
against the function's Timeout, nor against its Lambda Task's TimeoutSeconds, and a Lambda task's run counts 1:1 in
its execution's AWS time, not 1/scale (lambda_/runtime.py `serving`, stepfunctions/timing.py). `--latency` makes
the local AWS slow on purpose, reproducibly. Each test here fails on the code before that change."""

import json

from conftest import function_zip, python_runtime, trust, wait_for

# for each event {"calls": n, "sleep": s}: n STS calls, then s seconds of its own, then "done"
BOOTSTRAP = python_runtime("sts", """
    for _ in range(event.get("calls", 0)):
        client.get_caller_identity()
    time.sleep(event.get("sleep", 0))
    answer = "done"
""")


def function(aws, timeout: int) -> str:
    role = aws.client("iam").create_role(RoleName="busy", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    return aws.client("lambda").create_function(
        FunctionName="busy", Runtime="provided.al2023", Role=role["Role"]["Arn"], Handler="bootstrap",
        Code={"ZipFile": function_zip(BOOTSTRAP)}, Timeout=timeout)["FunctionArn"]


def invoke(aws, event: dict):
    response = aws.client("lambda").invoke(FunctionName="busy", Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_the_local_aws_s_latency_does_not_time_a_function_out(start_local):
    aws = start_local("--latency", "0.5")
    function(aws, timeout=2)
    assert invoke(aws, {}) == (None, "done")  # warm: a cold start has 10 s of init grace (runtime.py)
    # 6 calls of 0.5 s each: 3 s of wall time, past the 2 s timeout, all of it the local AWS's
    error, answer = invoke(aws, {"calls": 6})
    assert error is None and answer == "done", answer


def test_a_function_s_own_time_still_times_it_out(start_local):
    aws = start_local("--latency", "0.5")
    function(aws, timeout=2)
    assert invoke(aws, {}) == (None, "done")  # warm: a cold start has 10 s of init grace (runtime.py)
    error, answer = invoke(aws, {"calls": 1, "sleep": 3})
    assert error == "Unhandled" and answer["errorType"] == "Sandbox.Timedout", answer


def run(aws, definition: dict, name: str = "busy") -> dict:
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")["executionArn"]
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                    timeout=60, interval=0.2)


def task(arn: str, event: dict, timeout: int) -> dict:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": timeout,
            "Parameters": {"FunctionName": arn, "Payload": event}, "End": True}


def test_the_local_aws_s_latency_does_not_time_a_lambda_task_out(start_local):
    aws = start_local("--latency", "0.5")
    arn = function(aws, timeout=10)
    # 8 calls: 4 s of wall time inside the function, past the Task's 3 s, all of it the local AWS's
    done = run(aws, {"StartAt": "T", "States": {"T": task(arn, {"calls": 8}, timeout=3)}})
    assert done["status"] == "SUCCEEDED", done


def test_a_lambda_task_counts_its_real_time_in_its_execution_s_aws_time(start_local):
    # at x0.02 the execution's 100 s are 2 s of wall time for waits; a function that runs 2.5 s is 2.5 s of AWS
    # time (functions run in real time here), not 125 s
    aws = start_local("--time-scale", "0.02")
    arn = function(aws, timeout=10)
    done = run(aws, {"TimeoutSeconds": 100, "StartAt": "T", "States": {"T": task(arn, {"sleep": 2.5}, timeout=60)}})
    assert done["status"] == "SUCCEEDED", done
    # and a wait still counts 1/scale: 200 s of Wait time out the same execution, after about 2 s of wall time
    done = run(aws, {"TimeoutSeconds": 100, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 200,
                                                                               "End": True}}}, name="waits")
    assert done["status"] == "TIMED_OUT", done
