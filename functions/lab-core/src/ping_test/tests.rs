use super::*;
use crate::exercise::Exercise;
use crate::hop::Hop;
use crate::test_support::*;

const OK: &str = "PING 10.1.1.4 (10.1.1.4) 56(84) bytes of data.\n64 bytes from 10.1.1.4: icmp_seq=1 ttl=127 time=0.512 ms\n\n--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.412/0.502/0.601/0.077 ms\n";
const LOST: &str = "PING 10.1.1.4 (10.1.1.4) 56(84) bytes of data.\n\n--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss, time 2047ms\n\n";
const PARTIAL: &str = "--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 2 received, +1 errors, 33.3333% packet loss, time 2003ms\nrtt min/avg/max/mdev = 1.1/1.25/1.4/0.1 ms\n";
const BUSYBOX: &str = "--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.1/0.2/0.3 ms\n";

#[test]
fn parses_success() {
    assert_eq!(
        parse(OK),
        Some(PingStats {
            transmitted: 3,
            received: 3,
            loss_percent: 0.0,
            rtt_avg_ms: Some(0.502)
        })
    );
}

#[test]
fn parses_total_loss_without_rtt() {
    assert_eq!(
        parse(LOST),
        Some(PingStats {
            transmitted: 3,
            received: 0,
            loss_percent: 100.0,
            rtt_avg_ms: None
        })
    );
}

#[test]
fn parses_errors_and_fractional_loss() {
    let s = parse(PARTIAL).unwrap();
    assert_eq!(
        (s.transmitted, s.received, s.rtt_avg_ms),
        (3, 2, Some(1.25))
    );
    assert!((s.loss_percent - 33.3333).abs() < 1e-9);
}

#[test]
fn parses_busybox() {
    assert_eq!(parse(BUSYBOX).unwrap().rtt_avg_ms, Some(0.2));
}

#[test]
fn garbage_is_none() {
    assert_eq!(parse("ping: unknown host"), None);
    assert_eq!(parse("x packets transmitted, y received"), None);
}

#[test]
fn comment_names_lab_and_phase() {
    assert_eq!(comment("lab-1", "final"), "peerlab lab-1 final");
    assert_eq!(comment(&"x".repeat(200), "final").len(), 100);
}

fn online(yes: bool) -> Rule {
    mock!(Ssm::describe_instance_information).then_output(move || {
        let mut out = DescribeInstanceInformationOutput::builder();
        if yes {
            out = out.instance_information_list(
                InstanceInformation::builder()
                    .instance_id("i-0a")
                    .ping_status(PingStatus::Online)
                    .build(),
            );
        }
        out.build()
    })
}

fn listed(comment: &'static str) -> Rule {
    mock!(Ssm::list_commands).then_output(move || {
        ListCommandsOutput::builder()
            .commands(
                Command::builder()
                    .command_id("cmd-1")
                    .comment(comment)
                    .document_name("AWS-RunShellScript")
                    .build(),
            )
            .build()
    })
}

/// The statistics lines alone, as the handler tests' invocations answer.
const LOST_TAIL: &str = "--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss, time 2047ms\n";
const OK_TAIL: &str = "--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.4/0.5/0.6/0.1 ms\n";

fn invocation(status: CommandInvocationStatus, out: &'static str) -> Rule {
    mock!(Ssm::get_command_invocation).then_output(move || {
        GetCommandInvocationOutput::builder()
            .status(status.clone())
            .standard_output_content(out)
            .standard_error_content("[peerlab local AWS] simulated ping: ...")
            .build()
    })
}

#[tokio::test]
async fn ping_waits_for_ssm_online() {
    let info = online(false);
    let ssm = mock_client!(aws_sdk_ssm, [&info]);
    let err = handler(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("instance A (i-0a) is not Online in SSM yet".into())
    );
}

#[tokio::test]
async fn ping_sends_once_then_waits_for_the_invocation() {
    let info = online(true);
    let none = mock!(Ssm::list_commands).then_output(|| ListCommandsOutput::builder().build());
    let send = mock!(Ssm::send_command)
        .match_requests(|r| {
            r.comment() == Some("peerlab demo-1 control")
                && r.parameters()
                    .and_then(|p| p.get("commands"))
                    .map(|c| c[0].as_str())
                    == Some("ping -c 3 -W 2 10.1.1.4")
        })
        .then_output(|| {
            SendCommandOutput::builder()
                .command(Command::builder().command_id("cmd-1").build())
                .build()
        });
    let missing = mock!(Ssm::get_command_invocation).then_error(|| {
        GetCommandInvocationError::InvocationDoesNotExist(InvocationDoesNotExist::builder().build())
    });
    let ssm = mock_client!(
        aws_sdk_ssm,
        RuleMode::MatchAny,
        [&info, &none, &send, &missing]
    );
    let err = handler(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("command cmd-1 not delivered to i-0a yet".into())
    );
    assert_eq!(send.num_calls(), 1);
}

#[tokio::test]
async fn ping_retry_reuses_the_command_and_waits_while_in_progress() {
    let (info, found, running) = (
        online(true),
        listed("peerlab demo-1 control"),
        invocation(CommandInvocationStatus::InProgress, ""),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &running]);
    let err = handler(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("command cmd-1 is InProgress".into())
    );
}

#[tokio::test]
async fn control_ping_unreachable_passes() {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 control"),
        invocation(CommandInvocationStatus::Failed, LOST_TAIL),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let out = handler(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            out.reachable,
            out.passed,
            out.received,
            out.loss_percent,
            out.simulated
        ),
        (false, true, 0, 100.0, true)
    );
}

#[tokio::test]
async fn control_ping_that_gets_through_is_named() {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 control"),
        invocation(CommandInvocationStatus::Success, OK_TAIL),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let err = handler(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ControlReachable");
}

#[tokio::test]
async fn final_ping_success_reports_rtt() {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 final"),
        invocation(CommandInvocationStatus::Success, OK_TAIL),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let out = handler(
        event!("ping-test/events/final.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap();
    assert_eq!(
        (out.reachable, out.passed, out.rtt_avg_ms),
        (true, true, Some(0.5))
    );
}

/// EC2 as diagnose reads it for a lab whose peering is active, A routes to B, and B has no route back.
fn ec2_without_bs_route_back() -> Vec<Rule> {
    let peering = mock!(aws_sdk_ec2::Client::describe_vpc_peering_connections).then_output(|| {
        DescribeVpcPeeringConnectionsOutput::builder()
            .vpc_peering_connections(pcx(Code::Active, ""))
            .build()
    });
    let tables = mock!(aws_sdk_ec2::Client::describe_route_tables).then_compute_output(|req| {
        let vpc = req.filters()[0].values()[0].clone();
        let to_b = (vpc == "vpc-0a").then(|| route("10.1.0.0/16", "pcx-0ab", RouteState::Active));
        route_tables([main_table(&format!("rtb-{}", &vpc[4..]), to_b)])
    });
    let instances = mock!(aws_sdk_ec2::Client::describe_instances)
        .then_output(|| DescribeInstancesOutput::builder().build());
    let groups = mock!(aws_sdk_ec2::Client::describe_security_groups)
        .then_output(|| DescribeSecurityGroupsOutput::builder().build());
    let acls = mock!(aws_sdk_ec2::Client::describe_network_acls)
        .then_output(|| DescribeNetworkAclsOutput::builder().build());
    vec![peering, tables, instances, groups, acls]
}

async fn exercise_ping(exercise: Exercise, out: &'static str) -> Result<PingOutput> {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 final"),
        invocation(CommandInvocationStatus::Failed, out),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &ec2_without_bs_route_back()
    );
    let mut event: PingEvent = event!("ping-test/events/final.json");
    event.lab.exercise = Some(exercise);
    handler(event, &clients(ec2, ssm)).await
}

#[tokio::test]
async fn an_exercise_passes_when_the_ping_fails_at_the_hop_it_left_out() {
    let out = exercise_ping(Exercise::MissingRouteB, LOST_TAIL)
        .await
        .unwrap();
    assert_eq!(
        (out.reachable, out.expected, out.passed),
        (false, Expect::Unreachable, true)
    );
    let found = out.exercise.unwrap();
    assert_eq!(
        (found.exercise, found.diagnosed_hop, found.matched),
        (Exercise::MissingRouteB, Hop::RouteB, true)
    );
    assert!(
        found
            .diagnosis
            .starts_with("no way back: route table rtb-0b of VPC B has no route to 10.0.1.4"),
        "{}",
        found.diagnosis
    );
}

#[tokio::test]
async fn an_exercise_whose_diagnosis_names_another_hop_fails() {
    let err = exercise_ping(Exercise::MissingRouteA, LOST_TAIL)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ExerciseFailed");
    assert!(
        err.to_string()
            .contains("the diagnosis names another hop (route-b)"),
        "{err}"
    );
}

#[tokio::test]
async fn an_exercise_whose_ping_gets_through_fails() {
    let err = exercise_ping(Exercise::NaclDeny, OK_TAIL)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ExerciseFailed");
    assert!(err.to_string().contains("got 3 of 3 replies"), "{err}");
}

#[test]
fn a_plain_pings_output_says_exercise_null_for_the_state_machine() {
    let out = PingOutput {
        reachable: true,
        transmitted: 3,
        received: 3,
        loss_percent: 0.0,
        rtt_avg_ms: None,
        expected: Expect::Reachable,
        passed: true,
        simulated: false,
        command_id: "c".into(),
        target_ip: "10.1.1.4".into(),
        exercise: None,
    };
    assert!(serde_json::to_value(out).unwrap()["exercise"].is_null());
}
