use super::*;
use crate::test_support::*;

#[tokio::test]
async fn request_peering_reuses_its_pending_connection() {
    let describe = mock!(Ec2::describe_vpc_peering_connections).then_output(|| {
        DescribeVpcPeeringConnectionsOutput::builder()
            .vpc_peering_connections(pcx(Code::PendingAcceptance, ""))
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let out = handler(
        event!("request-peering/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        PeeringOutput {
            peering_id: "pcx-0ab".into(),
            status: "pending-acceptance".into()
        }
    );
}

#[tokio::test]
async fn request_peering_rejects_overlap_before_calling_aws() {
    let mut event: PairEvent = event!("request-peering/events/pair.json");
    event.vpc_b.cidr = "10.0.128.0/17".into();
    let err = handler(event, &clients(no_ec2(), no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
}
