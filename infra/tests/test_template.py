"""infra/template.yaml against the code it deploys: the state machines' placeholders, the function crates, and
each function's IAM policy against the EC2/SSM/STS calls its Rust code makes (infra/checks/aws_calls.py).

cfn-lint and `sam validate --lint` run beside these (make lint-template)."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "checks"))
import aws_calls  # noqa: E402

TEMPLATE = ROOT / "infra" / "template.yaml"

# Actions that support no resource-level permissions (Service Authorization Reference): "*" is the narrowest.
NO_RESOURCE_LEVEL = re.compile(
    r"^(ec2:Describe\w+|ssm:(DescribeInstanceInformation|ListCommands|GetCommandInvocation)"
    r"|xray:\w+|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries"
    r"|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)|servicequotas:GetAWSDefaultServiceQuota)$"
)
# EC2 mutations granted without a tag condition: none. (Route changes were, while the lab used the VPCs' untagged
# main route tables; create-vpc now creates a tagged table per subnet.)
UNTAGGED_MUTATIONS: set[str] = set()
LAB_TAG = "peerlab:lab-id"


@pytest.fixture(scope="module")
def template():
    parsed, matches = decode(str(TEMPLATE))
    assert not matches, matches
    return parsed


@pytest.fixture(scope="module")
def calls():
    return aws_calls.calls_by_function(ROOT)


def resources(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(role):
    for policy in role["Properties"].get("Policies", []):
        yield from as_list(policy["PolicyDocument"]["Statement"])


def crate_of(function):
    code = function["Properties"]["CodeUri"]
    m = re.fullmatch(r"\.\./build/lambda/([a-z0-9-]+)/bootstrap\.zip", code)
    assert m, f"CodeUri {code!r} is not ../build/lambda/<crate>/bootstrap.zip (make build)"
    return m.group(1)


def role_of(template, function):
    role = function["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"}, f"{role}: each function has its own role in this template"
    return template["Resources"][role["Fn::GetAtt"][0]]


def function_roles(template):
    """crate -> (function resource name, its role)."""
    return {
        crate_of(f): (name, role_of(template, f))
        for name, f in resources(template, "AWS::Serverless::Function").items()
    }


def tag_condition(statement, key):
    """True when the statement requires the lab tag under `key` (aws:RequestTag, aws:ResourceTag, ...)."""
    wanted = f"{key}/{LAB_TAG}"
    cond = statement.get("Condition", {})
    return cond.get("Null", {}).get(wanted) == "false" or any(
        wanted in cond.get(op, {}) for op in ("StringEquals", "StringLike")
    )


def peering_ends_condition(statement):
    """True when the statement holds a peering to the ARNs of its requester and accepter VPCs."""
    arns = statement.get("Condition", {}).get("ArnLike", {})
    return "ec2:RequesterVpc" in arns and "ec2:AccepterVpc" in arns


# ---- state machines ----------------------------------------------------------------------------------------------


def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(template):
    machines = resources(template, "AWS::Serverless::StateMachine")
    assert set(machines) == {"LabStateMachine", "BackstopStateMachine", "WorkshopStateMachine"}
    for name, machine in machines.items():
        props = machine["Properties"]
        asl = (TEMPLATE.parent / props["DefinitionUri"]).resolve()
        placeholders = set(re.findall(r"\$\{([^}]+)\}", asl.read_text()))
        substitutions = set(props.get("DefinitionSubstitutions", {}))
        assert placeholders, f"{asl.name}: no placeholders at all?"
        assert placeholders - substitutions == set(), f"{name}: {asl.name} placeholders without a substitution"
        assert substitutions - placeholders == set(), f"{name}: substitutions {asl.name} never uses"
        for key, value in props["DefinitionSubstitutions"].items():
            if key == "LabStateMachineArn":  # the workshop's child: the lab state machine itself (Ref is its ARN)
                assert value == {"Ref": "LabStateMachine"}, f"{name}.{key}: {value}"
                continue
            if key == "LabExecutionArnPrefix":  # its executions' ARNs, less the name
                assert value == {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
                                            "execution:${LabStateMachine.Name}"}, f"{name}.{key}: {value}"
                continue
            # XFunctionArn is the Arn of the XFunction resource, never some other function.
            assert value == {"Fn::GetAtt": [key.removesuffix("Arn"), "Arn"]}, f"{name}.{key}: {value}"


def test_the_state_machines_use_every_function(template):
    machines = {name: m["Properties"]["DefinitionSubstitutions"]
                for name, m in resources(template, "AWS::Serverless::StateMachine").items()}
    used = {name: {v["Fn::GetAtt"][0] for v in subs.values() if "Fn::GetAtt" in v}
            for name, subs in machines.items()}
    assert used["WorkshopStateMachine"] == {"PreflightFunction", "SummarizeWorkshopFunction"}
    every = set(resources(template, "AWS::Serverless::Function"))
    assert used["LabStateMachine"] | used["WorkshopStateMachine"] == every


def test_the_workshop_role_may_start_follow_and_stop_only_the_labs(template):
    grants = granted(template["Resources"]["WorkshopStateMachineRole"])
    assert [s["Resource"] for s in grants["states:StartExecution"]] == [{"Ref": "LabStateMachine"}]
    # its executions are execution ARNs, never an Express workflow's (test_iam_sar.py's NEVER_NAMED)
    assert template["Resources"]["LabStateMachine"]["Properties"]["Type"] == "STANDARD"
    executions = ("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
                  "${LabStateMachine.Name}:*")
    for action in ("states:DescribeExecution", "states:StopExecution"):
        assert [s["Resource"] for s in grants[action]] == [{"Fn::Sub": executions}], action
    # the Step Functions guide's .sync policy: the managed rule, nothing else of EventBridge
    rule = ("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
            "StepFunctionsGetEventsForStepFunctionsExecutionRule")
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert [s["Resource"] for s in grants[action]] == [{"Fn::Sub": rule}], action
    assert [s["Resource"] for s in grants["lambda:InvokeFunction"]] == [
        [{"Fn::GetAtt": ["PreflightFunction", "Arn"]}, {"Fn::GetAtt": ["SummarizeWorkshopFunction", "Arn"]}]]


def test_the_preflight_reads_only_the_three_quotas_a_workshop_meets(template):
    grants = granted(template["Resources"]["PreflightRole"])
    (statement,) = grants["servicequotas:GetServiceQuota"]
    arns = {r["Fn::Sub"] for r in statement["Resource"]}
    source = (ROOT / "functions/lab-core/src/preflight/quota.rs").read_text()
    codes = re.findall(r'service_code: "(\w+)",\s*quota_code: "(L-[0-9A-F]+)"', source)
    assert len(codes) == 3
    assert arns == {f"arn:${{AWS::Partition}}:servicequotas:${{AWS::Region}}:${{AWS::AccountId}}:{s}/{q}"
                    for s, q in codes}


def test_the_backstop_starts_on_executions_that_skip_their_catch(template):
    event = template["Resources"]["BackstopStateMachine"]["Properties"]["Events"]["LabEnded"]
    pattern = event["Properties"]["Pattern"]
    assert event["Type"] == "EventBridgeRule"
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "LabStateMachine"}]
    # The teardown it runs reads this very event (functions/teardown/events/backstop.json is one).
    sample = json.loads((ROOT / "functions/teardown/events/backstop.json").read_text())
    assert sample["source"] in pattern["source"] and sample["detail-type"] in pattern["detail-type"]
    assert sample["detail"]["status"] in pattern["detail"]["status"]


def test_the_sweeper_and_the_scheduled_labs(template):
    sweep = template["Resources"]["TeardownFunction"]["Properties"]["Events"]["Sweep"]
    assert sweep["Type"] == "ScheduleV2"
    assert json.loads(sweep["Properties"]["Input"]) == {"mode": "sweep"}
    schedule = template["Resources"]["LabSchedule"]
    assert schedule["Condition"] == "HasLabSchedule"
    assert schedule["Properties"]["Target"]["Arn"] == {"Ref": "LabStateMachine"}
    default_input = json.loads(template["Parameters"]["LabScheduleInput"]["Default"])
    assert default_input.get("hold_seconds", 0) > 0, "a scheduled lab holds, then tears itself down"


def test_schedule_names_come_from_the_stack_and_retries_are_bounded(template):
    # Schedule names are unique per group in an account and region: a fixed name (SAM's default for a
    # ScheduleV2 is "<function><event>") makes a second stack fail. Scheduler retries up to 24 h by default.
    sweep = template["Resources"]["TeardownFunction"]["Properties"]["Events"]["Sweep"]["Properties"]
    lab = template["Resources"]["LabSchedule"]["Properties"]
    names = [sweep.get("Name"), lab.get("Name")]
    for name in names:
        assert isinstance(name, dict) and "${AWS::StackName}" in name.get("Fn::Sub", ""), name
    assert len({json.dumps(n) for n in names}) == 2
    for retry in (sweep["RetryPolicy"], lab["Target"]["RetryPolicy"]):
        assert 0 <= retry["MaximumRetryAttempts"] <= 185
        assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400


def test_the_state_machines_log_under_vendedlogs(template):
    # CloudWatch Logs resource policies are limited to 5120 characters; Step Functions' guide says to prefix
    # its log groups with /aws/vendedlogs/ (the console uses /aws/vendedlogs/states).
    for name in ("LabStateMachine", "BackstopStateMachine", "WorkshopStateMachine"):
        (dest,) = template["Resources"][name]["Properties"]["Logging"]["Destinations"]
        group = dest["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        log_name = template["Resources"][group]["Properties"]["LogGroupName"]
        assert log_name["Fn::Sub"].startswith("/aws/vendedlogs/states/"), log_name


# ---- functions and crates --------------------------------------------------------------------------------------


def test_every_function_has_a_crate_and_every_crate_a_function(template):
    in_template = {crate_of(f) for f in resources(template, "AWS::Serverless::Function").values()}
    crates = {p.parent.parent.name for p in (ROOT / "functions").glob("*/src/main.rs")}
    assert in_template == crates


def test_create_vpc_gets_the_stacks_instance_profile(template):
    env = template["Resources"]["CreateVpcFunction"]["Properties"]["Environment"]["Variables"]
    assert env["PEERLAB_INSTANCE_PROFILE"] == {"Ref": "LabInstanceProfile"}
    role = template["Resources"]["LabInstanceRole"]["Properties"]
    core = "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert role["ManagedPolicyArns"] == [{"Fn::Sub": core}]


# ---- IAM ---------------------------------------------------------------------------------------------------------


def all_statements(template):
    for name, role in resources(template, "AWS::IAM::Role").items():
        for statement in statements(role):
            yield name, statement


def test_no_policy_grants_wildcard_actions_or_needless_wildcard_resources(template):
    for role, statement in all_statements(template):
        assert "NotAction" not in statement and "NotResource" not in statement, (role, statement)
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{role}: {action}"
        if statement["Resource"] == "*":
            for action in as_list(statement["Action"]):
                assert NO_RESOURCE_LEVEL.match(action), f"{role}: {action} on * — a narrower resource exists"


def granted(role):
    """(service:Action -> [statements granting it]) of a role."""
    out: dict[str, list] = {}
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            out.setdefault(action, []).append(statement)
    return out


def test_each_function_policy_covers_exactly_the_calls_its_code_makes(template, calls):
    roles = function_roles(template)
    assert set(roles) == set(calls)
    for crate, (_, role) in roles.items():
        grants = granted(role)
        code = calls[crate]
        # GetCallerIdentity needs no permission; AssumeRole is granted like any call.
        needed = {c for c in code if c != "sts:GetCallerIdentity"}
        policy = {a for a in grants if a.split(":")[0] in aws_calls.SERVICES}
        # Tagging on create: ec2:CreateTags, only for the create calls the code makes.
        if "ec2:CreateTags" in policy:
            policy.discard("ec2:CreateTags")
            for statement in grants["ec2:CreateTags"]:
                actions = as_list(statement["Condition"]["StringEquals"]["ec2:CreateAction"])
                assert {f"ec2:{a}" for a in actions} <= code, f"{crate}: CreateTags for {actions}"
        assert policy == needed, (
            f"{crate}: granted but never called: {sorted(policy - needed)}; "
            f"called but not granted: {sorted(needed - policy)}"
        )


def test_tagged_creates_have_their_create_tags_permission(template, calls):
    for crate, (_, role) in function_roles(template).items():
        grants = granted(role)
        for action, statements_ in grants.items():
            tag_on_create = any(tag_condition(s, "aws:RequestTag") for s in statements_)
            if tag_on_create:
                allowed = [
                    a
                    for s in grants.get("ec2:CreateTags", [])
                    for a in as_list(s["Condition"]["StringEquals"]["ec2:CreateAction"])
                ]
                assert action.split(":")[1] in allowed, f"{crate}: {action} tags on create without ec2:CreateTags"


def test_ec2_mutations_are_conditioned_on_the_lab_tag(template):
    for crate, (_, role) in function_roles(template).items():
        for action, statements_ in granted(role).items():
            if not action.startswith("ec2:") or action.startswith("ec2:Describe") or action == "ec2:CreateTags":
                continue
            if action in UNTAGGED_MUTATIONS:
                continue
            for statement in statements_:
                own_account = all("${AWS::AccountId}" in json.dumps(r) for r in as_list(statement["Resource"]))
                created = action.split(":")[1].startswith(("Create", "Run"))
                ok = tag_condition(statement, "aws:ResourceTag") or (
                    created and tag_condition(statement, "aws:RequestTag"))
                # The accepter's copy of a peering carries no tags: accepting is held to both ends' VPC ARNs.
                ok = ok or peering_ends_condition(statement)
                # Exceptions, each commented in the template: untagged things a create call names or makes
                # (the AMI, the new root volume and interface).
                exempt = statement["Sid"] in ("RunOnlyAmazonsImages", "WithNewVolumeAndInterface")
                assert ok or exempt, f"{crate}: {action} in {statement['Sid']} without the {LAB_TAG} tag"
                assert own_account or exempt


def test_request_tag_statements_name_only_what_they_create(template):
    # aws:RequestTag holds for a whole request: beside an existing VPC/subnet/group it would let any be used.
    existing = ("vpc/", "subnet/", "security-group/")
    creates = {
        "ec2:CreateVpc": "vpc/",
        "ec2:CreateSubnet": "subnet/",
        "ec2:CreateSecurityGroup": "security-group/",
    }
    for role, statement in all_statements(template):
        if not tag_condition(statement, "aws:RequestTag"):
            continue
        actions = as_list(statement["Action"])
        for resource in as_list(statement["Resource"]):
            text = json.dumps(resource)
            for kind in existing:
                if f":{kind}" in text:
                    assert all(creates.get(a) == kind for a in actions), \
                        f"{role}: {statement['Sid']}: {actions} on {kind}"


def test_send_command_only_runs_the_shell_document_on_lab_instances(template):
    grants = granted(template["Resources"]["PingTestRole"])
    resources_ = {}
    for statement in grants["ssm:SendCommand"]:
        for resource in as_list(statement["Resource"]):
            resources_[resource["Fn::Sub"]] = statement
    assert set(resources_) == {
        "arn:${AWS::Partition}:ssm:*::document/AWS-RunShellScript",
        "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*",
    }
    instance = resources_["arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"]
    assert tag_condition(instance, "ssm:resourceTag")


def test_pass_role_only_for_the_lab_instance_role(template):
    for role, statement in all_statements(template):
        if "iam:PassRole" in as_list(statement["Action"]):
            assert role == "CreateVpcRole"
            assert statement["Resource"] == {"Fn::GetAtt": ["LabInstanceRole", "Arn"]}
            assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == "ec2.amazonaws.com"


def test_assume_role_only_for_the_peer_accounts_accepter_role(template):
    for role, statement in all_statements(template):
        if "sts:AssumeRole" in as_list(statement.get("Action", [])):
            peer_roles = "arn:${AWS::Partition}:iam::*:role/${PeerRoleNamePrefix}*"
            assert statement["Resource"] == {"Fn::Sub": peer_roles}, role
            # ... and only in the accounts the stack is told about (PeerAccountIds), or its own
            accounts = {"Fn::If": ["HasPeerAccounts",
                                   {"Fn::Split": [",", {"Fn::Sub": "${AWS::AccountId},${PeerAccountIds}"}]},
                                   [{"Ref": "AWS::AccountId"}]]}
            assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": accounts}}, role
    assert template["Conditions"]["HasPeerAccounts"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PeerAccountIds"}, ""]}]}
    assert template["Parameters"]["PeerAccountIds"]["Default"] == ""


def test_instances_only_from_amazons_images(template, peer_template):
    for which in (template, peer_template):
        images = [s for _, s in all_statements(which) if "ec2:RunInstances" in as_list(s["Action"])
                  and any("image/" in json.dumps(r) for r in as_list(s["Resource"]))]
        assert images, "no statement for RunInstances' image"
        for statement in images:
            assert statement["Condition"] == {"StringEquals": {"ec2:Owner": "amazon"}}, statement["Sid"]


def test_each_function_logs_only_to_its_own_log_group(template):
    for name, f in resources(template, "AWS::Serverless::Function").items():
        group = f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        role = role_of(template, f)
        logs = granted(role)["logs:PutLogEvents"]
        assert [s["Resource"] for s in logs] == [{"Fn::GetAtt": [group, "Arn"]}], name


# ---- the reader of the Rust code ------------------------------------------------------------------------------


def test_the_reader_finds_what_the_code_calls(calls):
    # Spot checks against the code as it is: a failure here means the reader, not the policy, is wrong.
    assert "ec2:RunInstances" in calls["create-vpc"] and "ssm:GetParameter" in calls["create-vpc"]
    assert "ssm:SendCommand" in calls["ping-test"]
    assert "ec2:DescribeNetworkAcls" in calls["ping-test"]  # through diagnose::diagnose
    assert "ec2:DeleteRouteTable" in calls["teardown"]  # through plan::deletions -> execute::execute
    assert "ec2:DeleteVpc" in calls["teardown"] and "ec2:CreateVpc" not in calls["teardown"]
    assert "sts:AssumeRole" in calls["accept-peering"]  # through Clients::peer's AssumeRoleProvider
    # validate-input chooses each side's zone (read-only calls, in B's account through the accepter role), asks the
    # instance type's architecture and checks the input's ami on each side
    assert calls["validate-input"] == {"ec2:DescribeAvailabilityZones", "ec2:DescribeInstanceTypeOfferings",
                                       "ec2:DescribeInstanceTypes", "ec2:DescribeVpcEndpointServices",
                                       "ec2:DescribeImages", "sts:AssumeRole"}
    # the workshop's preflight reads quotas (an operation whose name has an acronym: GetAWSDefaultServiceQuota is
    # get_aws_default_service_quota in Rust) and the usage; its summary calls nothing
    assert calls["preflight"] == {"servicequotas:GetServiceQuota", "servicequotas:GetAWSDefaultServiceQuota",
                                  "ec2:DescribeVpcs", "ec2:DescribeInstances", "ec2:DescribeInstanceTypes"}
    assert calls["summarize-workshop"] == set()


def write_crate(tmp_path, core: str, tests: str = ""):
    (tmp_path / "functions/lab-core/src/step").mkdir(parents=True)
    (tmp_path / "functions/lab-core/src/step.rs").write_text(textwrap.dedent(core))
    (tmp_path / "functions/lab-core/src/step/tests.rs").write_text(textwrap.dedent(tests))
    (tmp_path / "functions/step/src").mkdir(parents=True)
    (tmp_path / "functions/step/src/main.rs").write_text("lab_core::step::handler(event, &clients).await\n")


def test_a_string_continued_on_the_next_line_is_one_string(tmp_path):
    # read as two strings, it would leave the "}" of the next one as code and end the handler before its call
    write_crate(
        tmp_path,
        """
        pub async fn handler(c: &Clients) {
            let s = "one \\
                     two";
            let t = "}";
            c.ec2.delete_vpc().send().await;
        }
        """,
    )
    assert aws_calls.calls_by_function(tmp_path) == {"step": {"ec2:DeleteVpc"}}


def test_the_reader_follows_calls_and_ignores_tests_comments_and_strings(tmp_path):
    write_crate(
        tmp_path,
        """
        pub async fn handler(c: &Clients) {
            helper(&c.ec2).await; // c.ec2.delete_vpc() in a comment
            uses(c, &[]).await;
            let s = "c.ec2.terminate_instances() {";
        }
        #[cfg(test)]
        mod tests;
        #[cfg(test)]
        mod inline { fn t(ec2: &Ec2) { if x { ec2.delete_subnet(); } } }
        async fn helper(ec2: &Ec2) {
            ec2
                .create_vpc()
                .send()
                .await;
        }
        async fn unused(ssm: &Ssm) { ssm.send_command().send().await; }
        fn find(ec2: &Ec2) { ec2.terminate_instances(); } // a free fn, never what `items.iter().find(` calls
        impl Lab { fn home(&self) -> Scope { self.ec2.describe_vpcs(); } }
        async fn uses(lab: &Lab, items: &[u8]) { items.iter().find(|i| true); lab.home(); }
        """,
        tests="fn t(ec2: &Ec2) { ec2.delete_vpc(); }",
    )
    # `.find(` is the iterator's, not the free fn `find`; `lab.home()` is the method, which describes VPCs
    assert aws_calls.calls_by_function(tmp_path) == {"step": {"ec2:CreateVpc", "ec2:DescribeVpcs"}}


def test_the_reader_refuses_a_call_it_cannot_attribute(tmp_path):
    # describe_parameters exists in SSM only, but get_parameter-like names shared by services need a receiver.
    write_crate(tmp_path, "pub async fn handler(x: &X) { x.client.describe_tags().send().await; }")
    with pytest.raises(aws_calls.Unattributed, match="describe_tags"):
        aws_calls.calls_by_function(tmp_path)


# ---- the peer account's accepter role (infra/peer-account.yaml) -------------------------------------------------

PEER_TEMPLATE = ROOT / "infra" / "peer-account.yaml"
# What only side A does (SSM's DNS attributes and interface endpoints): never asked of the peer account.
# DescribeVpcEndpointServices: only A's zone must offer the SSM endpoint services (validate_input::place);
# DescribeInstanceTypes: the instance type's architecture, asked at home only (the same type on both sides)
SIDE_A_ONLY = {"ec2:ModifyVpcAttribute", "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints",
               "ec2:DescribeVpcEndpointServices", "ec2:DescribeInstanceTypes"}
# The exercise nacl-deny's network ACL: exercises run in one account (input.rs refuses one with peer.account_id)
HOME_ACCOUNT_ONLY = {"ec2:CreateNetworkAcl", "ec2:CreateNetworkAclEntry", "ec2:ReplaceNetworkAclAssociation",
                     "ec2:DeleteNetworkAcl"}


@pytest.fixture(scope="module")
def peer_template():
    parsed, matches = decode(str(PEER_TEMPLATE))
    assert not matches, matches
    return parsed


def test_the_accepter_role_grants_what_side_b_is_asked_no_more(peer_template, calls):
    role = peer_template["Resources"]["AccepterRole"]
    grants = granted(role)
    # every function that assumes the accepter role, and each EC2 call it can make, except side A's own
    assuming = [crate for crate, made in calls.items() if "sts:AssumeRole" in made]
    assert sorted(assuming) == ["accept-peering", "add-routes", "create-vpc", "ping-test", "teardown", "update-sg",
                                "validate-input"]
    needed = {c for crate in assuming for c in calls[crate] if c.startswith("ec2:")} - SIDE_A_ONLY - HOME_ACCOUNT_ONLY
    needed.add("ssm:GetParameter")  # B's AMI, unless the input names one
    policy = {a for a in grants if a.split(":")[0] in ("ec2", "ssm", "sts")} - {"ec2:CreateTags"}
    assert policy == needed, (
        f"granted but never asked of side B: {sorted(policy - needed)}; "
        f"asked but not granted: {sorted(needed - policy)}"
    )
    for statement in grants["ec2:CreateTags"]:
        actions = as_list(statement["Condition"]["StringEquals"]["ec2:CreateAction"])
        assert {f"ec2:{a}" for a in actions} <= needed


def test_the_accepter_role_trusts_only_the_home_stacks_roles(peer_template, template):
    props = peer_template["Resources"]["AccepterRole"]["Properties"]
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HomeAccountId}:root"}}
    assert trust["Condition"]["ArnLike"]["aws:PrincipalArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${HomeAccountId}:role/${HomeStackName}-*"}
    # its default name is one the home stack's functions may assume
    prefix = template["Parameters"]["PeerRoleNamePrefix"]["Default"]
    assert peer_template["Parameters"]["RoleName"]["Default"].startswith(prefix)


def test_the_accepter_role_keeps_the_tag_conditions(peer_template):
    for statement in statements(peer_template["Resources"]["AccepterRole"]):
        for action in as_list(statement["Action"]):
            assert "*" not in action
            mutation = action.startswith("ec2:") and not action.startswith("ec2:Describe") \
                and action != "ec2:CreateTags"
            if not mutation or action in UNTAGGED_MUTATIONS:
                continue
            created = action.split(":")[1].startswith(("Create", "Run"))
            ok = (tag_condition(statement, "aws:ResourceTag")
                  or (created and tag_condition(statement, "aws:RequestTag"))
                  or "ec2:RequesterVpc" in statement.get("Condition", {}).get("ArnLike", {})
                  or statement["Sid"] in ("RunOnlyAmazonsImages", "WithNewVolumeAndInterface"))
            assert ok, f"{action} in {statement['Sid']}"
