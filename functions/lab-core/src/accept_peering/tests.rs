use super::*;
use crate::test_support::*;

#[tokio::test]
async fn accept_peering_not_found_right_after_create_is_not_ready() {
    let describe = mock!(Ec2::describe_vpc_peering_connections)
        .then_error(fails(err_meta("InvalidVpcPeeringConnectionID.NotFound")));
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let err = handler(
        event!("accept-peering/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
}

#[tokio::test]
async fn accept_peering_accepts_pending_acceptance() {
    let describe = mock!(Ec2::describe_vpc_peering_connections).then_output(|| {
        DescribeVpcPeeringConnectionsOutput::builder()
            .vpc_peering_connections(pcx(Code::PendingAcceptance, ""))
            .build()
    });
    let accept = mock!(Ec2::accept_vpc_peering_connection)
        .match_requests(|r| r.vpc_peering_connection_id() == Some("pcx-0ab"))
        .then_output(|| {
            AcceptVpcPeeringConnectionOutput::builder()
                .vpc_peering_connection(pcx(Code::Active, "Active"))
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &accept]);
    let out = handler(
        event!("accept-peering/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(out.status, "active");
    assert_eq!(accept.num_calls(), 1);
}

#[tokio::test]
async fn accept_peering_active_is_done_and_provisioning_waits() {
    let describe = mock!(Ec2::describe_vpc_peering_connections)
        .sequence()
        .output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::Provisioning, ""))
                .build()
        })
        .output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::Active, ""))
                .build()
        })
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let c = clients(ec2, no_ssm());
    let first = handler(event!("accept-peering/events/pair.json"), &c)
        .await
        .unwrap_err();
    assert_eq!(
        first,
        LabError::NotReady("peering pcx-0ab is provisioning".into())
    );
    let second = handler(event!("accept-peering/events/pair.json"), &c)
        .await
        .unwrap();
    assert_eq!(second.status, "active");
}

#[tokio::test]
async fn accept_peering_terminal_states_fail_with_the_message() {
    for code in [Code::Failed, Code::Rejected, Code::Expired, Code::Deleted] {
        let c2 = code.clone();
        let describe = mock!(Ec2::describe_vpc_peering_connections).then_output(move || {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(c2.clone(), "Overlapping CIDR"))
                .build()
        });
        let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
        let err = handler(
            event!("accept-peering/events/pair.json"),
            &clients(ec2, no_ssm()),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            LabError::PeeringFailed(format!(
                "peering pcx-0ab is {}: Overlapping CIDR",
                code.as_str()
            ))
        );
    }
}

#[tokio::test]
async fn peering_not_accepted_stops_at_pending_acceptance_and_waits_before() {
    let describe = mock!(Ec2::describe_vpc_peering_connections)
        .sequence()
        .output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::InitiatingRequest, ""))
                .build()
        })
        .output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::PendingAcceptance, ""))
                .build()
        })
        .build();
    let accept = mock!(Ec2::accept_vpc_peering_connection)
        .then_output(|| AcceptVpcPeeringConnectionOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &accept]);
    let mut event: PairEvent = event!("accept-peering/events/pair.json");
    event.lab.exercise = Some(crate::exercise::Exercise::PeeringNotAccepted);
    let clients = clients(ec2, no_ssm());
    let err = handler(event.clone(), &clients).await.unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
    let out = handler(event, &clients).await.unwrap();
    assert_eq!(out.status, "pending-acceptance");
    assert_eq!(accept.num_calls(), 0);
}
