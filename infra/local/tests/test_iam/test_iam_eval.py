"""The IAM evaluator (peerlab_local/iam/evaluation.py) against the policy evaluation examples of AWS's IAM User Guide.

Each test is one documented example; the page is named in its docstring (https://docs.aws.amazon.com/IAM/latest/UserGuide/
followed by the page). Where a page gives a table of request contexts and results, every row is checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from peerlab_local.iam.evaluation import evaluate  # noqa: E402
from peerlab_local.iam.model import Request  # noqa: E402

V = "2012-10-17"


def decide(policy: dict, action: str, resource: str = "*", **context):
    return evaluate([("policy", policy)], Request(action, resource, dict(context)))


def allowed(policy, action, resource="*", **context) -> bool:
    return decide(policy, action, resource, **context).allowed


def ctx(**pairs):
    """Context keys with ':' and '/' (not valid Python names): ctx(**{"aws:TagKeys": [...]})."""
    return pairs


# ---- reference_policies_evaluation-logic.html -------------------------------------------------------------------

CARLOS = {"Version": V, "Statement": [
    {"Sid": "AllowS3ListRead", "Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints",
                "s3:ListAllMyBuckets"], "Resource": "arn:aws:s3:::*"},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}]}


def test_carlos_saving_to_a_log_bucket_is_explicitly_denied():
    """reference_policies_evaluation-logic.html, "Example identity-based and resource-based policy evaluation":
    Carlos's PutObject into carlossalazar-logs hits DenyS3Logs."""
    decision = decide(CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/file.txt")
    assert not decision.allowed
    assert decision.statement == "DenyS3Logs" and "explicitly denied" in decision.reason


def test_carlos_saving_to_his_own_bucket_is_allowed():
    """Same example: "tries to save the file to the carlossalazar bucket ... AWS allows the request"."""
    decision = decide(CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt")
    assert decision.allowed and decision.statement == "AllowS3Self"


GET_LIST = {"Version": V, "Statement": [
    {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"}]}


def test_explicit_and_implicit_denies():
    """reference_policies_evaluation-logic.html, "The difference between explicit and implicit denies": Get*/List*
    allowed, iam:CreatePolicy implicitly denied, *Report explicitly denied even when another policy allows it."""
    assert allowed(GET_LIST, "iam:GetUser")
    assert allowed(GET_LIST, "iam:ListRoles")
    create = decide(GET_LIST, "iam:CreatePolicy")
    assert not create.allowed and create.statement is None and create.reason == "no statement allows it"
    report = decide(GET_LIST, "iam:GetOrganizationsAccessReport")
    assert not report.allowed and report.statement == "DenyReports"
    other = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "iam:GenerateCredentialReport",
                                          "Resource": "*"}]}
    decision = evaluate([("get-list", GET_LIST), ("reports", other)],
                        Request("iam:GenerateCredentialReport", "*"))
    assert not decision.allowed and decision.statement == "DenyReports"


def test_action_names_compare_case_insensitively():
    """reference_policies_elements_action.html: action names are not case sensitive ("iam:listaccesskeys")."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "IAM:listaccesskeys", "Resource": "*"}}
    assert allowed(policy, "iam:ListAccessKeys")
    assert not allowed(policy, "iam:ListAccessKey")


# ---- reference_policies_elements_condition.html ------------------------------------------------------------------


def test_context_key_names_are_case_insensitive_values_case_sensitive():
    """reference_policies_elements_condition.html: "aws:SourceIP is equivalent to AWS:SourceIp"; StringEquals
    "johndoe" does not match JohnDoe, StringEqualsIgnoreCase does."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                                          "Condition": {"StringEquals": {"aws:username": "johndoe"}}}}
    assert allowed(policy, "s3:GetObject", **ctx(**{"AWS:UserName": "johndoe"}))
    assert not allowed(policy, "s3:GetObject", **ctx(**{"aws:username": "JohnDoe"}))
    ignore = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                                          "Condition": {"StringEqualsIgnoreCase": {"aws:username": "johndoe"}}}}
    assert allowed(ignore, "s3:GetObject", **ctx(**{"aws:username": "JohnDoe"}))


# ---- reference_policies_elements_condition_operators.html ---------------------------------------------------------


def test_string_equals_principal_tag_missing_key_does_not_match():
    """Condition operators, String: aws:PrincipalTag/job-category must be iamuser-admin; a principal without the tag
    is implicitly denied."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "iam:*AccessKey*",
                                          "Resource": "arn:aws:iam::123456789012:user/*",
                                          "Condition": {"StringEquals": {"aws:PrincipalTag/job-category":
                                                                         "iamuser-admin"}}}}
    user = "arn:aws:iam::123456789012:user/alice"
    assert allowed(policy, "iam:CreateAccessKey", user, **ctx(**{"aws:PrincipalTag/job-category": "iamuser-admin"}))
    assert not allowed(policy, "iam:CreateAccessKey", user)
    assert not allowed(policy, "iam:CreateAccessKey", user, **ctx(**{"aws:PrincipalTag/job-category": "dev"}))


HOME = {"Version": V, "Statement": [
    {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "Resource": "arn:aws:s3:::*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET-NAME",
     "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}},
    {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::BUCKET-NAME/home/${aws:username}",
                                                       "arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*"]}]}


def test_string_like_with_policy_variable_home_directory():
    """Condition operators, String: the S3 "home directory" policy (StringLike with ${aws:username} in s3:prefix and
    in the Resource)."""
    bob = {"aws:username": "bob"}
    assert allowed(HOME, "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", **ctx(**bob, **{"s3:prefix": "home/bob/"}))
    assert allowed(HOME, "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME", **ctx(**bob, **{"s3:prefix": ""}))
    assert not allowed(HOME, "s3:ListBucket", "arn:aws:s3:::BUCKET-NAME",
                       **ctx(**bob, **{"s3:prefix": "home/alice/"}))
    assert allowed(HOME, "s3:PutObject", "arn:aws:s3:::BUCKET-NAME/home/bob/notes.txt", **bob)
    assert not allowed(HOME, "s3:PutObject", "arn:aws:s3:::BUCKET-NAME/home/alice/notes.txt", **bob)


def test_numeric_less_than_equals_max_keys():
    """Condition operators, Numeric: s3:max-keys NumericLessThanEquals 10."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:ListBucket",
                                          "Resource": "arn:aws:s3:::example_bucket",
                                          "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}}}
    bucket = "arn:aws:s3:::example_bucket"
    assert allowed(policy, "s3:ListBucket", bucket, **ctx(**{"s3:max-keys": "10"}))
    assert allowed(policy, "s3:ListBucket", bucket, **ctx(**{"s3:max-keys": "3"}))
    assert not allowed(policy, "s3:ListBucket", bucket, **ctx(**{"s3:max-keys": "11"}))


def test_date_greater_than_token_issue_time():
    """Condition operators, Date: aws:TokenIssueTime after 2020-01-01T00:00:01Z; the key is absent for long-term
    access keys, so an IAM user is denied."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "iam:*AccessKey*",
                                          "Resource": "arn:aws:iam::123456789012:user/*",
                                          "Condition": {"DateGreaterThan": {"aws:TokenIssueTime":
                                                                            "2020-01-01T00:00:01Z"}}}}
    user = "arn:aws:iam::123456789012:user/alice"
    assert allowed(policy, "iam:ListAccessKeys", user, **ctx(**{"aws:TokenIssueTime": "2020-06-01T12:00:00Z"}))
    assert not allowed(policy, "iam:ListAccessKeys", user, **ctx(**{"aws:TokenIssueTime": "2019-12-31T23:00:00Z"}))
    assert not allowed(policy, "iam:ListAccessKeys", user)


def test_bool_secure_transport_deny():
    """Condition operators, Boolean: deny every S3 action on the bucket when aws:SecureTransport is false."""
    policy = {"Version": V, "Statement": [
        {"Sid": "BooleanExample", "Action": "s3:*", "Effect": "Deny",
         "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    obj = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a"
    assert decide(policy, "s3:GetObject", obj, **ctx(**{"aws:SecureTransport": False})).statement == "BooleanExample"
    assert allowed(policy, "s3:GetObject", obj, **ctx(**{"aws:SecureTransport": True}))


def test_ip_address_ipv4_and_ipv6():
    """Condition operators, IP address: 203.0.113.0/24, and a mix of IPv4 and IPv6 ranges."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "someservice:*", "Resource": "*",
                                          "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24",
                                                                                       "2001:DB8:1234:5678::/64"]}}}}
    assert allowed(policy, "someservice:Do", **ctx(**{"aws:SourceIp": "203.0.113.7"}))
    assert allowed(policy, "someservice:Do", **ctx(**{"aws:SourceIp": "2001:db8:1234:5678::1"}))
    assert not allowed(policy, "someservice:Do", **ctx(**{"aws:SourceIp": "198.51.100.1"}))
    assert not allowed(policy, "someservice:Do")  # requests through a VPC endpoint carry no aws:SourceIp


def test_arn_like_matches_segment_by_segment_string_like_does_not():
    """Condition operators, ARN: arn:aws:someservice:*:111122223333:finance/* matches the odd ARN with StringLike
    but not with ArnLike (its first * matches only us-east-2)."""
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    for operator, expected in (("StringLike", True), ("ArnLike", False), ("ArnEquals", False),
                               ("ArnNotLike", True)):
        policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
                                              "Condition": {operator: {"aws:SourceArn": pattern}}}}
        assert allowed(policy, "sqs:SendMessage", **ctx(**{"aws:SourceArn": value})) is expected, operator


def test_arn_equals_source_arn_absent_for_direct_calls():
    """Condition operators, ARN: aws:SourceArn is present only when a service calls on behalf of a resource; a
    direct call does not match ArnEquals."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "SQS:SendMessage",
                                          "Resource": "arn:aws:sqs:us-east-1:123456789012:QUEUE-ID",
                                          "Condition": {"ArnEquals": {"aws:SourceArn":
                                                                      "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}}}}
    queue = "arn:aws:sqs:us-east-1:123456789012:QUEUE-ID"
    assert allowed(policy, "sqs:SendMessage", queue,
                   **ctx(**{"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}))
    assert not allowed(policy, "sqs:SendMessage", queue)


RUN = "arn:aws:ec2:us-east-1:123456789012:instance/*"
IMAGE = "arn:aws:ec2:us-east-1::image/ami-12345678"


def test_if_exists_this_policy_does_not_work():
    """Condition operators, ...IfExists: "THISPOLICYDOESNOTWORK" — RunInstances also touches the image, which has
    no ec2:InstanceType, so StringLike fails there and no launch is allowed."""
    policy = {"Version": V, "Statement": {"Sid": "THISPOLICYDOESNOTWORK", "Effect": "Allow",
                                          "Action": "ec2:RunInstances", "Resource": "*",
                                          "Condition": {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*",
                                                                                            "m3.*"]}}}}
    assert allowed(policy, "ec2:RunInstances", RUN, **ctx(**{"ec2:InstanceType": "t2.micro"}))
    assert not allowed(policy, "ec2:RunInstances", IMAGE)


def test_if_exists_string_like_if_exists_works():
    """Condition operators, ...IfExists: StringLikeIfExists allows the image (no key) and t2 instances, not m5."""
    policy = {"Version": V, "Statement": [
        {"Sid": "RunInstance", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}},
        {"Sid": "DescribeActions", "Effect": "Allow",
         "Action": ["ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeVpcs", "ec2:DescribeKeyPairs",
                    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"], "Resource": "*"}]}
    assert allowed(policy, "ec2:RunInstances", IMAGE)
    assert allowed(policy, "ec2:RunInstances", RUN, **ctx(**{"ec2:InstanceType": "t2.micro"}))
    assert not allowed(policy, "ec2:RunInstances", RUN, **ctx(**{"ec2:InstanceType": "m5.large"}))
    assert allowed(policy, "ec2:DescribeVpcs")


def test_null_token_issue_time():
    """Condition operators, Null: "Null": {"aws:TokenIssueTime": "true"} — EC2 only with long-term credentials."""
    policy = {"Version": V, "Statement": {"Action": "ec2:*", "Effect": "Allow", "Resource": "*",
                                          "Condition": {"Null": {"aws:TokenIssueTime": "true"}}}}
    assert allowed(policy, "ec2:DescribeVpcs")
    assert not allowed(policy, "ec2:DescribeVpcs", **ctx(**{"aws:TokenIssueTime": "2026-11-28T10:00:00Z"}))
    present = {"Version": V, "Statement": {"Action": "ec2:*", "Effect": "Allow", "Resource": "*",
                                           "Condition": {"Null": {"aws:TokenIssueTime": "false"}}}}
    assert allowed(present, "ec2:DescribeVpcs", **ctx(**{"aws:TokenIssueTime": "2026-11-28T10:00:00Z"}))
    assert not allowed(present, "ec2:DescribeVpcs")


def test_negated_operator_holds_when_key_missing_but_if_exists_deny_still_denies():
    """Condition operators (Important box): a negated operator such as StringNotLike is true when the key is
    missing; ...IfExists: a Deny with StringNotEqualsIfExists still denies when the tag is missing."""
    policy = {"Version": V, "Statement": [
        {"Sid": "DenyOthers", "Effect": "Deny", "Action": "ec2:*", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:ResourceTag/team": "blue"}}},
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
    assert decide(policy, "ec2:TerminateInstances", RUN).statement == "DenyOthers"
    assert decide(policy, "ec2:TerminateInstances", RUN,
                  **ctx(**{"aws:ResourceTag/team": "red"})).statement == "DenyOthers"
    assert allowed(policy, "ec2:TerminateInstances", RUN, **ctx(**{"aws:ResourceTag/team": "blue"}))
    not_like = {"Version": V, "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
                                            "Condition": {"StringNotLike": {"aws:ResourceTag/team": "r*"}}}}
    assert allowed(not_like, "ec2:DescribeVpcs")


# ---- reference_policies_multi-value-conditions.html ----------------------------------------------------------------


def test_several_operators_and_keys_are_and_values_or():
    """Conditions with multiple context keys or values: both principal tags (each one of its values, ignoring case)
    AND the account."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {
        "StringEqualsIgnoreCase": {"aws:PrincipalTag/department": ["finance", "hr", "legal"],
                                   "aws:PrincipalTag/role": ["audit", "security"]},
        "StringEquals": {"aws:PrincipalAccount": "123456789012"}}}}
    good = {"aws:PrincipalTag/department": "HR", "aws:PrincipalTag/role": "audit",
            "aws:PrincipalAccount": "123456789012"}
    assert allowed(policy, "s3:GetObject", **ctx(**good))
    assert not allowed(policy, "s3:GetObject", **ctx(**{**good, "aws:PrincipalAccount": "999999999999"}))
    assert not allowed(policy, "s3:GetObject", **ctx(**{**good, "aws:PrincipalTag/role": "dev"}))
    assert not allowed(policy, "s3:GetObject", **ctx(**{k: v for k, v in good.items() if "role" not in k}))


def test_negated_operator_with_several_values_is_nor():
    """Conditions with multiple context keys or values (Note): several aws:PrincipalAccount values in
    StringNotEquals: the account must match none of them."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {
        "StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}}}
    assert not allowed(policy, "s3:GetObject", **ctx(**{"aws:PrincipalAccount": "111111111111"}))
    assert not allowed(policy, "s3:GetObject", **ctx(**{"aws:PrincipalAccount": "222222222222"}))
    assert allowed(policy, "s3:GetObject", **ctx(**{"aws:PrincipalAccount": "333333333333"}))


THREAD = "arn:aws:dynamodb:us-east-1:123456789012:table/Thread"


def test_for_all_values_get_item_attributes():
    """Conditions with multiple keys or values, ForAllValues: GetItem only of ID, Message, Tags; a request with
    UserName fails; with no attributes at all ForAllValues is true (the page's Warning)."""
    policy = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                           "Resource": "arn:aws:dynamodb:*:*:table/Thread",
                                           "Condition": {"ForAllValues:StringEquals": {
                                               "dynamodb:Attributes": ["ID", "Message", "Tags"]}}}]}
    assert allowed(policy, "dynamodb:GetItem", THREAD, **ctx(**{"dynamodb:Attributes": ["ID", "Message", "Tags"]}))
    assert not allowed(policy, "dynamodb:GetItem", THREAD,
                       **ctx(**{"dynamodb:Attributes": ["ID", "Message", "UserName"]}))
    assert allowed(policy, "dynamodb:GetItem", THREAD)
    assert allowed(policy, "dynamodb:GetItem", THREAD, **ctx(**{"dynamodb:Attributes": []}))


def test_for_all_values_evaluation_table():
    """Evaluation logic for multiple values with condition set operators: PostDateTime and UserName against
    PostDateTime, Message, Tags — UserName matches nothing, so ForAllValues is false."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "dynamodb:GetItem",
                                          "Resource": "arn:aws:dynamodb:*:*:table/Thread",
                                          "Condition": {"ForAllValues:StringEquals": {
                                              "dynamodb:Attributes": ["PostDateTime", "Message", "Tags"]}}}}
    assert not allowed(policy, "dynamodb:GetItem", THREAD,
                       **ctx(**{"dynamodb:Attributes": ["PostDateTime", "UserName"]}))


def test_for_any_value_deny_put_item():
    """Conditions with multiple keys or values, ForAnyValue: Deny PutItem touching ID or PostDateTime; a request
    with PostDateTime and Message is denied; one with only UserName is not denied by it (no match on missing key
    either)."""
    deny = {"Version": V, "Statement": {"Effect": "Deny", "Action": "dynamodb:PutItem",
                                        "Resource": "arn:aws:dynamodb:*:*:table/Thread",
                                        "Condition": {"ForAnyValue:StringEquals": {
                                            "dynamodb:Attributes": ["ID", "PostDateTime"]}}}}
    allow = {"Version": V, "Statement": {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}}
    policies: list[tuple[str, dict]] = [("deny", deny), ("allow", allow)]

    def put(attributes):
        context = {} if attributes is None else {"dynamodb:Attributes": attributes}
        return evaluate(policies, Request("dynamodb:PutItem", THREAD, context)).allowed

    assert not put(["PostDateTime", "Message"])
    assert not put(["UserName", "Message", "PostDateTime"])
    assert put(["UserName"])
    assert put(None)


# ---- reference_policies_condition_examples-multi-valued-context-keys.html -----------------------------------------


def _deny_tags(values) -> dict:
    return {"Version": V, "Statement": [{"Sid": "DenyRestrictedTags", "Effect": "Deny",
                                         "Action": ["iam:Tag*", "iam:UnTag*"], "Resource": ["*"],
                                         "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": values}}}]}


def _denied(policy, action, resource="*", **context) -> bool:
    return decide(policy, action, resource, **context).statement is not None


@pytest.mark.parametrize("tag_keys,match", [
    (["key1:legal"], False), (["key1:hr", "key1:personnel"], False), (["key2:audit"], True), (None, True)])
def test_multivalued_deny_for_all_values_single_value(tag_keys, match):
    """Multivalued context key examples, "Deny a single policy condition value for a multivalued context key":
    every row of the page's table (Match = denied)."""
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    assert _denied(_deny_tags("key1*"), "iam:TagRole", **context) is match


@pytest.mark.parametrize("tag_keys,match", [
    (["key1:legal"], False), (["key1:hr", "key1:personnel"], False), (["key1:hr", "key2:audit"], False),
    (["key3:legal"], True), (None, True)])
def test_multivalued_deny_for_all_values_several_values(tag_keys, match):
    """Multivalued context key examples, "Deny multiple policy condition values for a multivalued context key":
    every row of the page's table."""
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    assert _denied(_deny_tags(["key1*", "key2*"]), "iam:UntagRole", **context) is match


@pytest.mark.parametrize("tag_keys,match", [
    (["webserver"], True), (["environment", "webserver", "test"], True), (["environment", "test"], False),
    (None, False)])
def test_multivalued_deny_for_any_value(tag_keys, match):
    """Multivalued context key examples, "Deny policy with condition set operator ForAnyValue" (snapshots tagged
    webserver): every row of the page's table."""
    policy = {"Version": V, "Statement": [{"Effect": "Deny", "Action": ["ec2:CreateSnapshot", "ec2:CreateSnapshots"],
                                           "Resource": "arn:aws:ec2:us-west-2::snapshot/*",
                                           "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "webserver"}}}]}
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    assert _denied(policy, "ec2:CreateSnapshot", "arn:aws:ec2:us-west-2::snapshot/*", **context) is match


# ---- reference_policies_condition_examples-single-valued-context-keys.html -----------------------------------------

ECS = {"Version": V, "Statement": [{"Effect": "Allow", "Action": ["ecs:RunTask", "ecs:StartTask"], "Resource": ["*"],
                                    "Condition": {"StringEquals": {"aws:RequestTag/environment": ["production",
                                                                                                  "prod-backup"]},
                                                  "ArnEquals": {"ecs:cluster": [
                                                      "arn:aws:ecs:us-east-1:111122223333:cluster/default1",
                                                      "arn:aws:ecs:us-east-1:111122223333:cluster/default2"]}}}]}


@pytest.mark.parametrize("tags,cluster,match", [
    ({"environment": "production"}, "default1", True),
    ({"environment": "prod-backup"}, "default2", True),
    ({"webserver": "production"}, "default2", False),
    ({}, "default2", False)])
def test_single_valued_one_block_several_keys_and_values(tags, cluster, match):
    """Single-valued context key examples, "One condition block with multiple single-valued context keys and
    values": every row of the page's table (ecs:RunTask)."""
    context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["ecs:cluster"] = f"arn:aws:ecs:us-east-1:111122223333:cluster/{cluster}"
    assert allowed(ECS, "ecs:RunTask", **context) is match


def test_single_valued_several_blocks_create_volume_with_tags():
    """Single-valued context key examples, "Multiple condition blocks with single-valued context keys": CreateTags
    on a new volume needs a project request tag; on any resource not tagged environment=production."""
    policy = {"Version": V, "Statement": [
        {"Effect": "Allow", "Action": "ec2:CreateVolume", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:us-east-1:123456789012:volume/*",
         "Condition": {"StringLike": {"aws:RequestTag/project": "*"}}},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:us-east-1:123456789012:*/*",
         "Condition": {"StringNotEquals": {"aws:ResourceTag/environment": "production"}}}]}
    volume = "arn:aws:ec2:us-east-1:123456789012:volume/*"
    assert allowed(policy, "ec2:CreateVolume", volume)
    assert allowed(policy, "ec2:CreateTags", volume, **ctx(**{"aws:RequestTag/project": "Feature3",
                                                              "aws:RequestTag/environment": "QA"}))
    prod = "arn:aws:ec2:us-east-1:123456789012:instance/i-1"
    assert not allowed(policy, "ec2:CreateTags", prod, **ctx(**{"aws:ResourceTag/environment": "production"}))
    assert allowed(policy, "ec2:CreateTags", prod, **ctx(**{"aws:ResourceTag/environment": "QA"}))


# ---- reference_policies_elements_notaction.html / _notresource.html / _resource.html -----------------------------


def test_not_action_allow_everything_but_iam():
    """NotAction: "allows users to access every action in every AWS service except for IAM"."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert allowed(policy, "ec2:RunInstances", RUN)
    assert allowed(policy, "ssm:SendCommand", "arn:aws:ssm:us-east-1::document/AWS-RunShellScript")
    assert not allowed(policy, "iam:CreateUser", "arn:aws:iam::123456789012:user/x")


def test_not_action_allow_scoped_by_resource():
    """NotAction with Allow: all S3 actions on S3 resources except DeleteBucket; not ListAllMyBuckets (it needs
    the "*" resource) and nothing of other services."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "NotAction": "s3:DeleteBucket",
                                          "Resource": "arn:aws:s3:::*"}}
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::bucket/key")
    assert not allowed(policy, "s3:DeleteBucket", "arn:aws:s3:::bucket")
    assert not allowed(policy, "s3:ListAllMyBuckets", "*")
    assert not allowed(policy, "ec2:RunInstances", RUN)


def test_not_action_deny_without_mfa():
    """NotAction with Deny: "DenyAllUsersNotUsingMFA" denies every non-IAM action unless MFA (BoolIfExists); it
    allows nothing by itself."""
    deny = {"Version": V, "Statement": [{"Sid": "DenyAllUsersNotUsingMFA", "Effect": "Deny", "NotAction": "iam:*",
                                         "Resource": "*",
                                         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}
    allow = {"Version": V, "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    policies: list[tuple[str, dict]] = [("deny", deny), ("allow", allow)]

    def decision(action, **context):
        return evaluate(policies, Request(action, "*", context))

    assert decision("ec2:DescribeVpcs").statement == "DenyAllUsersNotUsingMFA"  # key missing: IfExists -> true
    assert decision("ec2:DescribeVpcs", **{"aws:MultiFactorAuthPresent": False}).statement == "DenyAllUsersNotUsingMFA"
    assert decision("ec2:DescribeVpcs", **{"aws:MultiFactorAuthPresent": True}).allowed
    assert decision("iam:ListUsers").allowed
    assert not evaluate([("deny", deny)], Request("iam:ListUsers", "*", {})).allowed


def test_not_resource_deny_everything_but_payroll():
    """NotResource: Deny s3:* except HRBucket/Payroll; other services' resources are not affected."""
    deny = {"Version": V, "Statement": {"Effect": "Deny", "Action": "s3:*",
                                        "NotResource": ["arn:aws:s3:::HRBucket/Payroll",
                                                        "arn:aws:s3:::HRBucket/Payroll/*"]}}
    allow = {"Version": V, "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    policies: list[tuple[str, dict]] = [("deny", deny), ("allow", allow)]

    def ok(action, resource):
        return evaluate(policies, Request(action, resource, {})).allowed

    assert ok("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/march.csv")
    assert ok("s3:ListBucket", "arn:aws:s3:::HRBucket/Payroll")
    assert not ok("s3:GetObject", "arn:aws:s3:::HRBucket/Other/a.csv")
    assert not ok("s3:GetObject", "arn:aws:s3:::OtherBucket/a")
    assert ok("ec2:DescribeVpcs", "*")  # Action s3:* only


@pytest.mark.parametrize("key,match", [
    ("1/test/object.jpg", True), ("1/2/test/object.jpg", True), ("1/2/test/3/object.jpg", True),
    ("1/2/3/test/4/object.jpg", True), ("1///test///object.jpg", True), ("1/test/.jpg", True),
    ("/test/object.jpg", True), ("1/test/", True),
    ("1-test/object.jpg", False), ("test/object.jpg", False), ("1/2/test.jpg", False)])
def test_resource_wildcards_span_slashes(key, match):
    """Resource, "Using wildcards in resource ARNs": DOC-EXAMPLE-BUCKET/*/test/* matches and does not match the
    page's lists of objects."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
                                          "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"}}
    assert allowed(policy, "s3:GetObject", f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}") is match


def test_resource_wildcard_stays_within_its_segment():
    """Resource: wildcards work "within ARN segments (the parts separated by colons)": a * in the region segment
    does not swallow the account."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "ec2:*",
                                          "Resource": "arn:aws:ec2:*:123456789012:vpc/*"}}
    assert allowed(policy, "ec2:DeleteVpc", "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1")
    assert not allowed(policy, "ec2:DeleteVpc", "arn:aws:ec2:us-east-1:999999999999:vpc/vpc-1")
    assert not allowed(policy, "ec2:DeleteVpc", "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1")
    assert not allowed(policy, "ec2:DescribeVpcs", "*")  # an action without resource types needs Resource "*"


# ---- reference_policies_variables.html ---------------------------------------------------------------------------


def test_policy_variable_default_value():
    """Policy variables, "Specifying default values": ${aws:PrincipalTag/team, 'company-wide'}."""
    policy = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:*",
                                          "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, "
                                                      "'company-wide'}"}}
    yellow = {"aws:PrincipalTag/team": "yellow"}
    assert allowed(policy, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow", **yellow)
    assert not allowed(policy, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide", **yellow)
    assert allowed(policy, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide")


def test_policy_variable_with_no_value():
    """Policy variables, "Policy variables with no value": StringEquals fails, StringNotEquals holds, and a Resource
    with such a variable matches no resource."""
    def policy(operator):
        return {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                            "Condition": {operator: {"s3:ExistingObjectTag/Team":
                                                                     "${aws:PrincipalTag/Team}"}}}}
    team = {"s3:ExistingObjectTag/Team": "blue"}
    assert not allowed(policy("StringEquals"), "s3:GetObject", **team)
    assert allowed(policy("StringEquals"), "s3:GetObject", **team, **{"aws:PrincipalTag/Team": "blue"})
    assert allowed(policy("StringNotEquals"), "s3:GetObject", **team)
    resource = {"Version": V, "Statement": {"Effect": "Allow", "Action": "s3:*",
                                            "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}}
    assert not allowed(resource, "s3:GetObject", "arn:aws:s3:::bucket//x")


def test_policy_variables_need_version_2012_10_17():
    """Policy variables / Version element: without Version 2012-10-17, ${aws:username} is literal text."""
    old = {"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",
                                                  "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}}
    assert not allowed(old, "s3:GetObject", "arn:aws:s3:::bucket/bob/x", **{"aws:username": "bob"})
    assert allowed(old, "s3:GetObject", "arn:aws:s3:::bucket/${aws:username}/x", **{"aws:username": "bob"})
    new = dict(old, Version=V)
    assert allowed(new, "s3:GetObject", "arn:aws:s3:::bucket/bob/x", **{"aws:username": "bob"})


def test_principal_account_variable_and_special_characters():
    """Policy variables: ${aws:PrincipalAccount} in a Resource; ${*} is a literal asterisk."""
    policy = {"Version": V, "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:${aws:PrincipalAccount}:vpc/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/star${*}"}]}
    account = {"aws:PrincipalAccount": "123456789012"}
    assert allowed(policy, "ec2:DeleteVpc", "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1", **account)
    assert not allowed(policy, "ec2:DeleteVpc", "arn:aws:ec2:us-east-1:999999999999:vpc/vpc-1", **account)
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::bucket/star*")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::bucket/starlight")


def test_statement_and_elements_as_object_or_list():
    """Policy grammar (reference_policies_grammar.html): Statement is one object or a list; Action and Resource
    one string or a list."""
    single = {"Version": V, "Statement": {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}}
    listed = {"Version": V, "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeVpcs"], "Resource": ["*"]}]}
    for policy in (single, listed):
        assert allowed(policy, "ec2:DescribeVpcs")
        assert not allowed(policy, "ec2:DescribeSubnets")


def test_deny_outside_requested_regions_except_global_services():
    """reference_policies_examples_aws_deny-requested-region.html ("AWS: Denies access to AWS based on the requested
    Region"): NotAction + Deny + StringNotEquals on aws:RequestedRegion with four values (NOR); IAM is exempt."""
    deny = {"Version": V, "Statement": [{"Sid": "DenyAllOutsideRequestedRegions", "Effect": "Deny",
                                         "NotAction": ["cloudfront:*", "iam:*", "route53:*", "support:*"],
                                         "Resource": "*",
                                         "Condition": {"StringNotEquals": {"aws:RequestedRegion": [
                                             "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3"]}}}]}
    allow = {"Version": V, "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    policies: list[tuple[str, dict]] = [("deny", deny), ("allow", allow)]

    def ok(action, region):
        return evaluate(policies, Request(action, "*", {"aws:RequestedRegion": region})).allowed

    assert ok("ec2:DescribeVpcs", "eu-west-1")
    assert ok("ec2:DescribeVpcs", "eu-west-3")
    assert not ok("ec2:DescribeVpcs", "us-east-1")
    assert ok("iam:ListRoles", "us-east-1")
    elsewhere = Request("ec2:DescribeVpcs", "*", {"aws:RequestedRegion": "eu-west-1"})
    assert not evaluate([("deny", deny)], elsewhere).allowed
