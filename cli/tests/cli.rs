//! The `peerlab` binary: its argument and input checks (no AWS needed), a recorded run drawn offline, and — the
//! tests named `..._on_the_local_aws`, run by `make test-e2e` after the functions are built — real runs.
//!
//! Every command here runs with the AWS environment cleared and AWS_ENDPOINT_URL on a closed port of 127.0.0.1,
//! so that nothing can reach AWS even where credentials exist.

use std::path::Path;
use std::process::{Command, Output};

use e2e::{lambda_dir, root, LocalAws, REALISTIC};

fn peerlab(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_peerlab"));
    command.args(args).current_dir(root());
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("PEERLAB_") {
            command.env_remove(key);
        }
    }
    command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/peerlab-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/peerlab-test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    if let Ok(python) = std::env::var("PEERLAB_PYTHON") {
        command.env("PEERLAB_PYTHON", python);
    }
    command.output().expect("peerlab runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A usage error: exit 2 and exactly one line on stderr, naming what is wrong.
fn refused(args: &[&str], expected: &str) {
    let out = peerlab(args);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line, got {err:?}"
    );
    assert!(
        err.starts_with("peerlab: ") && err.contains(expected),
        "{args:?}: {err:?}"
    );
}

#[test]
fn bad_input_files_are_one_clear_line_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("peerlab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "{\"hold_seconds\": ").unwrap();
    refused(
        &["run", "--local", "--input", "/nonexistent/lab.json"],
        "input /nonexistent/lab.json: No such file",
    );
    refused(
        &["run", "--local", "--input", not_json.to_str().unwrap()],
        "not JSON",
    );
    // the workflow's own rules, before any execution: overlaps, unknown fields, out-of-range holds
    refused(
        &["run", "--local", "--input", "tests/events/bad-overlap.json"],
        "vpc_b.cidr: 10.0.128.0/17 overlaps",
    );
    refused(
        &[
            "run",
            "--local",
            "--input",
            "tests/events/bad-unknown-field.json",
        ],
        "unknown field `hold_secs`",
    );
    refused(
        &["run", "--local", "--name", "has space"],
        "--name \"has space\"",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn where_to_run_must_be_said_once() {
    refused(&["run"], "pass --local, or --state-machine-arn");
    refused(
        &[
            "run",
            "--local",
            "--state-machine-arn",
            "arn:aws:states:us-east-1:1:stateMachine:x",
        ],
        "choose one",
    );
    refused(&["status", "some-name"], "no AWS region");
    refused(
        &["--region", "us-east-1", "status", "some-name"],
        "is not an ARN",
    );
}

#[test]
fn a_schedule_is_checked_before_anything_is_created() {
    // when: a time to come, said one way or the other
    refused(
        &["schedule", "--at", "tomorrow"],
        "--at \"tomorrow\": give an RFC 3339 time",
    );
    refused(
        &["schedule", "--at", "2020-01-01T00:00:00Z"],
        "is not in the future",
    );
    refused(&["schedule", "--at", "+10y"], "+DURATION");
    // what: the workflow's own rules, as `run` applies them
    refused(
        &[
            "schedule",
            "--at",
            "+1h",
            "--input",
            "tests/events/bad-overlap.json",
        ],
        "vpc_b.cidr: 10.0.128.0/17 overlaps",
    );
    // where: on AWS the stack's outputs are given
    refused(
        &["--region", "us-east-1", "schedule", "--at", "+1h"],
        "pass --state-machine-arn and --role-arn",
    );
}

#[test]
fn missing_credentials_are_named() {
    refused(
        &[
            "--region",
            "us-east-1",
            "run",
            "--state-machine-arn",
            "arn:aws:states:us-east-1:123456789012:stateMachine:x",
        ],
        "no AWS credentials",
    );
}

#[test]
fn clap_errors_exit_2() {
    let out = peerlab(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = peerlab(&["timeline", "-o", "x.svg"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "timeline needs an execution or --history"
    );
}

#[test]
fn a_recorded_run_is_drawn_offline() {
    let svg = std::env::temp_dir().join(format!("peerlab-cli-{}.svg", std::process::id()));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/blocked-by-nacl.json");
    let out = peerlab(&[
        "timeline",
        "--history",
        fixture.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("FAILED (66 events)"), "{stdout}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.contains("Tear down after a failure"));
    std::fs::remove_file(&svg).unwrap();
    refused(
        &["timeline", "--history", "Cargo.toml", "-o", "x.svg"],
        "Cargo.toml: not JSON",
    );
}

#[test]
fn run_starts_a_private_local_aws_and_stops_it_on_the_local_aws() {
    let dir = std::env::temp_dir().join(format!("peerlab-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (report, svg) = (dir.join("report.json"), dir.join("run.svg"));
    let out = peerlab(&[
        "run",
        "--local",
        "--input",
        "tests/events/hold.json",
        "--name",
        "cli-run",
        "--lambda-dir",
        lambda_dir().to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--timeline",
        svg.to_str().unwrap(),
        "--local-args",
        "--profile realistic --time-scale 0.01",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // the live lines, then the report
    for expected in [
        "▶ Validate the input",
        "▶   Create VPC A",
        "✓ Accept the peering",
        "▶ Keep the lab up (waiting as told)",
        "■ SUCCEEDED",
        "lab cli-run: the peering works",
        "control ping before peering: 0/3 replies -> unreachable",
        "(simulated by the local AWS)",
        "leaked resources: none",
        "zones: A in us-east-1a (use1-az6), B in us-east-1a (use1-az6)",
        "billed state transitions (",
        "projected on AWS: ",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "SUCCEEDED");
    assert_eq!(json["leaked"], serde_json::json!([]));
    assert!(json["timings_seconds"]["Tear the lab down"]
        .as_f64()
        .is_some());
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("class=\"attempt\""));
    // the private local AWS it printed is stopped
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("local AWS at "))
        .unwrap();
    let address = url
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "{address} still answers"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One of the three ways a lab starts: EventBridge Scheduler, on a running local AWS with the stack deployed and
/// IAM enforced (the stack's scheduler role starts the lab). The lab builds, proves the ping and tears itself down;
/// its one-time schedule deletes itself once it has run.
#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_lab_runs_and_its_schedule_deletes_itself_on_the_local_aws() {
    let aws = LocalAws::start(REALISTIC);
    let endpoint = aws.url.as_str();
    refused(
        &["--endpoint", endpoint, "schedule", "--at", "+2m"],
        &format!(
            "no stack peerlab on {endpoint}: deploy it first (make deploy ENDPOINT={endpoint}"
        ),
    );
    let stack = aws.deploy();
    // two minutes of AWS time: 2.4 s at the suite's x0.02
    let out = peerlab(&[
        "--endpoint",
        endpoint,
        "schedule",
        "--at",
        "+2m",
        "--input",
        "tests/events/hold.json",
        "--name",
        "scheduled",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("scheduled lab scheduled for at(")
            && stdout.contains("schedule scheduled (default group) starts it, then deletes itself")
            && stdout.contains("on this local AWS (time scale 0.02): at "),
        "{stdout}"
    );
    let sfn = aws.sfn().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let execution = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled lab did not end"
        );
        let listed = sfn
            .list_executions()
            .state_machine_arn(&stack.state_machine)
            .send()
            .await
            .unwrap();
        if let Some(e) = listed.executions().first() {
            let described = sfn
                .describe_execution()
                .execution_arn(e.execution_arn())
                .send()
                .await
                .unwrap();
            if described.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
                break described;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(
        execution.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause()
    );
    // the schedule's name is the lab's (the input set no lab_id), and the schedule's input is the file's
    let input: serde_json::Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"lab_id": "scheduled", "hold_seconds": 2, "ttl_seconds": 7200})
    );
    let output: serde_json::Value = serde_json::from_str(execution.output().unwrap()).unwrap();
    assert_eq!(output["ping"]["reachable"], true, "{output}");
    assert_eq!(
        aws.resources(),
        Vec::<serde_json::Value>::new(),
        "nothing left"
    );
    // Scheduler's own record: one successful invocation, signed as the stack's role; the schedule is gone
    let scheduler = aws.get("/peerlab/scheduler");
    let names: Vec<&str> = scheduler["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(!names.contains(&"scheduled"), "{scheduler}");
    let ours: Vec<&serde_json::Value> = scheduler["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["schedule_arn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(":schedule/default/scheduled"))
        })
        .collect();
    assert_eq!(ours.len(), 1, "{scheduler}");
    assert_eq!(ours[0]["ok"], true, "{scheduler}");
    assert_eq!(aws.get("/peerlab/iam")["denied"], serde_json::json!([]));
}

/// `make run INPUT=tests/events/peer-account.json`: side B's account gets infra/peer-account.yaml (its accepter
/// role) before the lab starts, as the README tells people to deploy it on AWS; IAM is judged in both accounts.
#[test]
fn a_cross_account_run_deploys_the_peer_accounts_stack_on_the_local_aws() {
    let out = peerlab(&[
        "run",
        "--local",
        "--input",
        "tests/events/peer-account-same-region.json",
        "--lambda-dir",
        lambda_dir().to_str().unwrap(),
        "--local-args",
        "--profile instant",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "deploying infra/peer-account.yaml as stack peerlab-accepter in account 210987654321"
        ) && stdout.contains("the peering works")
            && stdout.contains("leaked resources: none"),
        "{stdout}"
    );
}

/// A lab someone left on a running local AWS (its VPC, tagged as teardown finds labs).
async fn plant_lab(aws: &LocalAws, lab: &str, cidr: &str, expires_at: &str) -> String {
    let ec2 = aws.ec2().await;
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let vpc = ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                .tags(tag("peerlab:lab-id", lab))
                .tags(tag("peerlab:expires-at", expires_at))
                .build(),
        )
        .send()
        .await
        .unwrap();
    vpc.vpc().unwrap().vpc_id().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_report_ls_and_sweep_on_the_local_aws() {
    // instant: this test is about the CLI's commands on a running local AWS, not AWS's timing (the run above and
    // the end-to-end suite use the realistic profile); the VPC it plants must be listed at once. Scheduler's clock
    // (and Step Functions' waits) x0.001: the stack's hourly sweeper runs every 3.6 s
    let aws = LocalAws::start(&["--time-scale", "0.001"]);
    let endpoint = aws.url.as_str();
    // an expired lab someone left, before any stack is deployed (a stack's sweeper schedule would sweep it):
    // ls shows it, sweep --dry-run lists it, sweep deletes it
    let vpc_id = plant_lab(&aws, "forgotten", "10.9.0.0/16", "2026-01-01T00:00:00Z").await;
    let (stdout, _) = text(&peerlab(&["--endpoint", endpoint, "ls"]));
    assert!(
        stdout.contains("forgotten")
            && stdout.contains("expired (sweep)")
            && stdout.contains(&vpc_id),
        "{stdout}"
    );
    let (stdout, _) = text(&peerlab(&["--endpoint", endpoint, "sweep", "--dry-run"]));
    assert!(
        stdout.contains(&format!("would delete lab forgotten: vpc {vpc_id}")),
        "{stdout}"
    );
    assert_eq!(aws.resources().len(), 1, "a dry run deletes nothing");
    let (stdout, _) = text(&peerlab(&["--endpoint", endpoint, "sweep"]));
    assert!(
        stdout.contains(&format!(
            "swept 1 expired lab(s) in us-east-1: deleted {vpc_id}"
        )),
        "{stdout}"
    );
    assert_eq!(aws.resources(), Vec::<serde_json::Value>::new());
    let (stdout, _) = text(&peerlab(&["--endpoint", endpoint, "ls"]));
    assert!(stdout.starts_with("no labs in us-east-1"), "{stdout}");
    refused(
        &["--endpoint", endpoint, "status", "first"],
        "deploy the stack peerlab first",
    );

    // a lab on a running local AWS: peerlab deploys the stack there itself; another lab, still in its time, is
    // beside it and is not this run's leak
    let other = plant_lab(&aws, "someone-elses", "10.8.0.0/16", "2099-01-01T00:00:00Z").await;
    let out = peerlab(&["--endpoint", endpoint, "run", "--name", "first"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out).0.contains("leaked resources: none"),
        "{:?}",
        text(&out)
    );
    let out = peerlab(&["--endpoint", endpoint, "status", "first"]);
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("first: SUCCEEDED after "), "{stdout}");
    assert!(
        stdout.contains("14 states entered") || stdout.contains("13 states entered"),
        "{stdout}"
    );
    let out = peerlab(&["--endpoint", endpoint, "report", "first", "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("report --json is JSON");
    assert_eq!(json["ping"]["reachable"], true);
    refused(
        &["--endpoint", endpoint, "status", "no-such-run"],
        "ExecutionDoesNotExist",
    );
    let ids: Vec<String> = aws
        .resources()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, vec![other.clone()], "the other lab is left as it was");

    // the deployed stack's sweeper schedule (teardown's sweep mode, hourly: every 3.6 s here) sweeps a lab whose
    // time has passed, and only that one
    let expired = plant_lab(&aws, "expired", "10.7.0.0/16", "2026-01-01T00:00:00Z").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while aws.resources().iter().any(|r| r["id"] == expired.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the stack's sweeper did not sweep {expired}: {}",
            aws.get("/peerlab/scheduler")
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let ids: Vec<String> = aws
        .resources()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, vec![other], "the sweeper leaves a lab in its time");
    assert_eq!(aws.get("/peerlab/iam")["denied"], serde_json::json!([]));
}

/// A break-and-fix exercise as a student meets it: a held lab built without B's route back; `peerlab check` names
/// that hop; the student adds the route by hand (the missing CreateRoute); `peerlab check` says fixed; the hold
/// ends and the lab tears itself down.
#[tokio::test(flavor = "multi_thread")]
async fn a_students_fix_turns_check_to_fixed_on_the_local_aws() {
    use aws_sdk_ec2::types::Filter;
    let aws = LocalAws::start(REALISTIC);
    let endpoint = aws.url.as_str();
    let stack = aws.deploy();
    let sfn = aws.sfn().await;
    let ec2 = aws.ec2().await;
    // tests/events/exercise.json: missing-route-b, held 1800 s of AWS time (36 s here)
    let mut input: serde_json::Value =
        serde_json::from_str(&e2e::input_file("exercise.json")).unwrap();
    assert_eq!(input["exercise"], "missing-route-b");
    input["lab_id"] = "student-1".into();
    let arn = e2e::start(&sfn, &stack.state_machine, "student-1", &input.to_string()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let history = sfn
            .get_execution_history()
            .execution_arn(&arn)
            .reverse_order(true)
            .max_results(50)
            .send()
            .await
            .unwrap();
        let holding = history.events().iter().any(|e| {
            e.state_entered_event_details()
                .is_some_and(|d| d.name() == "Keep the lab up")
        });
        if holding {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the lab never held");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = peerlab(&["--endpoint", endpoint, "check", "student-1"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("not fixed yet: the ping from A (")
            && stdout.contains("blocked at: no way back: route table rtb-")
            && stdout.contains("of VPC B has no route to 10.0.1."),
        "{stdout}"
    );
    // the student's repair: in B's lab route table, VPC A's CIDR through the peering
    let lab = |name: &str| {
        vec![
            Filter::builder()
                .name("tag:peerlab:lab-id")
                .values("student-1")
                .build(),
            Filter::builder().name("tag:Name").values(name).build(),
        ]
    };
    let vpc_b = ec2
        .describe_vpcs()
        .set_filters(Some(lab("VpcB")))
        .send()
        .await
        .unwrap();
    let vpc_b = vpc_b.vpcs()[0].vpc_id().unwrap().to_string();
    let tables = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&vpc_b).build())
        .filters(
            Filter::builder()
                .name("tag:peerlab:lab-id")
                .values("student-1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let table = tables.route_tables()[0]
        .route_table_id()
        .unwrap()
        .to_string();
    let peerings = ec2
        .describe_vpc_peering_connections()
        .filters(
            Filter::builder()
                .name("tag:peerlab:lab-id")
                .values("student-1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let peering = peerings.vpc_peering_connections()[0]
        .vpc_peering_connection_id()
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block("10.0.0.0/16")
        .vpc_peering_connection_id(&peering)
        .send()
        .await
        .unwrap();
    let out = peerlab(&["--endpoint", endpoint, "check", "student-1"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("fixed: the ping from A (")
            && stdout.contains("gets 3 of 3 replies (simulated by the local AWS)"),
        "{stdout}"
    );
    // the hold ends, the lab tears itself down (the student's route with it) and reports the exercise
    let done = e2e::wait(&sfn, &arn, std::time::Duration::from_secs(300)).await;
    done.assert_succeeded();
    assert_eq!(done.output["exercise"]["diagnosed_hop"], "route-b");
    assert_eq!(aws.resources(), Vec::<serde_json::Value>::new());
    assert_eq!(aws.get("/peerlab/iam")["denied"], serde_json::json!([]));
    // a lab that has ended has nothing to check
    refused(
        &["--endpoint", endpoint, "check", "student-1"],
        "student-1 is SUCCEEDED: its lab is torn down",
    );
}

#[test]
fn a_workshop_is_checked_before_anything_starts() {
    refused(
        &["workshop", "--labs", "2"],
        "pass --local, or --state-machine-arn",
    );
    refused(
        &["workshop", "--labs", "0", "--local"],
        "labs: 0 is not between 1 and 40",
    );
    refused(
        &[
            "workshop",
            "--labs",
            "2",
            "--local",
            "--cidr-base",
            "10.0.0.0/15",
        ],
        "cidr_base: 10.0.0.0/15 holds 2 /16 block(s); 2 lab(s) need 4",
    );
    let dir = std::env::temp_dir().join(format!("peerlab-cli-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let peer = dir.join("peer.json");
    std::fs::write(&peer, r#"{"peer": {"region": "eu-west-1"}}"#).unwrap();
    refused(
        &[
            "workshop",
            "--labs",
            "2",
            "--local",
            "--input",
            peer.to_str().unwrap(),
        ],
        "lab.peer: a workshop's labs are all in this account and region",
    );
    // a lab's own id: the workshop names its labs
    refused(
        &[
            "workshop",
            "--labs",
            "2",
            "--local",
            "--input",
            "tests/events/peer-account.json",
        ],
        "lab.lab_id: a workshop names its labs",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    refused(
        &[
            "workshop",
            "--labs",
            "2",
            "--local",
            "--input",
            "tests/events/bad-overlap.json",
        ],
        "lab.vpc_b.cidr: 10.0.128.0/17 overlaps",
    );
}

#[test]
fn a_workshop_the_quotas_cannot_hold_exits_2_with_the_preflights_message_on_the_local_aws() {
    // AWS's default quotas: 5 VPCs, the default VPC one of them, hold 2 labs
    let out = peerlab(&[
        "workshop",
        "--labs",
        "3",
        "--local",
        "--name",
        "too-big",
        "--lambda-dir",
        lambda_dir().to_str().unwrap(),
        "--local-args",
        "--profile instant --quota ec2/L-1216C47A=64",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("peerlab: QuotaExceeded: a workshop of 3 labs does not fit this account's quotas in us-east-1 (2 would)")
            && stderr.contains("VPCs per Region (vpc/L-F678F1CE): quota 5 (AWS default), in use 1, free 4, needed 6"),
        "{stderr}"
    );
    assert!(stdout.contains("leaked resources: none"), "{stdout}");
}

#[test]
fn a_workshop_of_two_labs_follows_each_lab_and_sums_them_up_on_the_local_aws() {
    let dir = std::env::temp_dir().join(format!("peerlab-cli-workshop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (report, svg) = (dir.join("workshop.json"), dir.join("workshop.svg"));
    let out = peerlab(&[
        "workshop",
        "--labs",
        "2",
        "--local",
        "--name",
        "class",
        "--cidr-base",
        "10.0.0.0/8",
        "--report",
        report.to_str().unwrap(),
        "--timeline",
        svg.to_str().unwrap(),
        "--lambda-dir",
        lambda_dir().to_str().unwrap(),
        "--local-args",
        "--profile realistic --time-scale 0.01 --quota ec2/L-1216C47A=16",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // live: a line when a lab changes (stdout is not a terminal here), then the table
    for expected in [
        "class-1",
        "RUNNING",
        // the states each lab is in as it goes (the longest ones: waits for EC2)
        "Create VPC",
        "Tear the lab down",
        "workshop class: 2 labs, 2 succeeded, 0 failed",
        "3/3 replies",
        "quota VPCs per Region (vpc/L-F678F1CE): 5 (AWS default), in use 1, needed 4",
        "leaked resources: none",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(written["status"], "SUCCEEDED");
    assert_eq!(written["workshop"]["succeeded"], 2);
    // each lab's full report, from its child execution (the workshop's output carries a digest of it)
    for (i, lab) in written["labs"].as_array().expect("labs").iter().enumerate() {
        assert_eq!(lab["report"]["lab_id"], format!("class-{}", i + 1), "{lab}");
        assert_eq!(lab["report"]["ping"]["reachable"], true, "{lab}");
    }
    assert_eq!(written["labs"].as_array().map(Vec::len), Some(2));
    assert_eq!(written["leaked"], serde_json::json!([]));
    // the picture: a row per lab
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(picture.matches(r#"class="lab""#).count(), 2, "{picture}");
    assert!(picture.contains(">class-1 (SUCCEEDED)<") && picture.contains(">class-2 (SUCCEEDED)<"));
    std::fs::remove_dir_all(&dir).unwrap();
}
