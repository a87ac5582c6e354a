"""A function runs with its execution role's temporary credentials (lambda_/runtime.py), as Lambda
gives them: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of a session of the role, so every call
it makes is the role's (GetCallerIdentity says so), in the role's account."""

import json

from conftest import function_zip, python_runtime, trust

# answers each event with what STS says of its credentials
BOOTSTRAP = python_runtime("sts", """
    answer = {"identity": client.get_caller_identity()["Arn"],
              "key": os.environ["AWS_ACCESS_KEY_ID"], "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
""")


def test_a_function_calls_as_a_session_of_its_execution_role(aws):
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(RoleName="who-am-i-role", AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))[
        "Role"]["Arn"]
    lam.create_function(FunctionName="who-am-i", Runtime="provided.al2023", Role=role, Handler="bootstrap",
                        Code={"ZipFile": function_zip(BOOTSTRAP)}, Timeout=30)
    response = lam.invoke(FunctionName="who-am-i", Payload=b"{}")
    assert response.get("FunctionError") is None, response["Payload"].read()
    answer = json.loads(response["Payload"].read())
    assert answer["identity"] == "arn:aws:sts::123456789012:assumed-role/who-am-i-role/who-am-i", answer
    assert answer["key"].startswith("ASIA") and answer["token"], answer
