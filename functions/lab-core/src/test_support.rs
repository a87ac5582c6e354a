//! What the steps' tests share: the SDK types they build answers from, aws-smithy-mocks, the example events of
//! `functions/<step>/events/`, and `MockAws`, the tests' own `Aws` with mocked clients for each side.

// A prelude for the steps' tests: not every test module uses every name.
#![allow(unused_imports)]

pub use aws_sdk_ec2::error::ErrorMetadata;
pub use aws_sdk_ec2::operation::accept_vpc_peering_connection::AcceptVpcPeeringConnectionOutput;
pub use aws_sdk_ec2::operation::associate_route_table::{
    AssociateRouteTableError, AssociateRouteTableOutput,
};
pub use aws_sdk_ec2::operation::authorize_security_group_ingress::{
    AuthorizeSecurityGroupIngressError, AuthorizeSecurityGroupIngressOutput,
};
pub use aws_sdk_ec2::operation::create_network_acl::CreateNetworkAclOutput;
pub use aws_sdk_ec2::operation::create_network_acl_entry::CreateNetworkAclEntryOutput;
pub use aws_sdk_ec2::operation::create_route::{CreateRouteError, CreateRouteOutput};
pub use aws_sdk_ec2::operation::create_route_table::CreateRouteTableOutput;
pub use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
pub use aws_sdk_ec2::operation::create_subnet::{CreateSubnetError, CreateSubnetOutput};
pub use aws_sdk_ec2::operation::create_vpc::CreateVpcOutput;
pub use aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput;
pub use aws_sdk_ec2::operation::delete_route_table::DeleteRouteTableOutput;
pub use aws_sdk_ec2::operation::delete_subnet::DeleteSubnetError;
pub use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
pub use aws_sdk_ec2::operation::describe_instance_type_offerings::DescribeInstanceTypeOfferingsOutput;
pub use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
pub use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput;
pub use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
pub use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
pub use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
pub use aws_sdk_ec2::operation::describe_vpc_endpoint_services::DescribeVpcEndpointServicesOutput;
pub use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
pub use aws_sdk_ec2::operation::describe_vpc_peering_connections::{
    DescribeVpcPeeringConnectionsError, DescribeVpcPeeringConnectionsOutput,
};
pub use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
pub use aws_sdk_ec2::operation::disassociate_route_table::DisassociateRouteTableOutput;
pub use aws_sdk_ec2::operation::modify_instance_attribute::ModifyInstanceAttributeOutput;
pub use aws_sdk_ec2::operation::modify_vpc_attribute::ModifyVpcAttributeOutput;
pub use aws_sdk_ec2::operation::replace_network_acl_association::ReplaceNetworkAclAssociationOutput;
pub use aws_sdk_ec2::operation::replace_route::ReplaceRouteOutput;
pub use aws_sdk_ec2::operation::run_instances::{RunInstancesError, RunInstancesOutput};
pub use aws_sdk_ec2::operation::terminate_instances::TerminateInstancesOutput;
pub use aws_sdk_ec2::types::{
    AvailabilityZone, AvailabilityZoneState, GroupIdentifier, Instance, InstanceState,
    InstanceStateName, InstanceTypeOffering, IpPermission, NetworkAcl, NetworkAclAssociation,
    NetworkAclEntry, Reservation, Route, RouteState, RouteTable, RouteTableAssociation, RuleAction,
    SecurityGroup, ServiceDetail, Subnet, Tag, Vpc, VpcEndpoint, VpcPeeringConnection,
    VpcPeeringConnectionStateReason, VpcPeeringConnectionStateReasonCode as Code,
};
pub use aws_sdk_ec2::Client as Ec2;
pub use aws_sdk_ssm::operation::describe_instance_information::DescribeInstanceInformationOutput;
pub use aws_sdk_ssm::operation::get_command_invocation::{
    GetCommandInvocationError, GetCommandInvocationOutput,
};
pub use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
pub use aws_sdk_ssm::operation::list_commands::ListCommandsOutput;
pub use aws_sdk_ssm::operation::send_command::SendCommandOutput;
pub use aws_sdk_ssm::types::error::InvocationDoesNotExist;
pub use aws_sdk_ssm::types::{
    Command, CommandInvocationStatus, InstanceInformation, Parameter, PingStatus,
};
pub use aws_sdk_ssm::Client as Ssm;
pub use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

pub use crate::clients::{Aws, PeerAccess, Scope};
pub use crate::error::{LabError, Result};
pub use crate::input::LabPlan;
pub use crate::model::*;

/// An example event of `functions/<step>/events/`, parsed.
macro_rules! event {
    ($path:literal) => {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../",
            $path
        )))
        .expect($path)
    };
}
pub(crate) use event;

pub fn err_meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} (mock)"))
        .build()
}

pub fn no_ssm() -> Ssm {
    let rules: [&Rule; 0] = [];
    mock_client!(aws_sdk_ssm, rules)
}

pub fn no_service_quotas() -> aws_sdk_servicequotas::Client {
    let rules: [&Rule; 0] = [];
    mock_client!(aws_sdk_servicequotas, rules)
}

pub fn no_ec2() -> Ec2 {
    let rules: [&Rule; 0] = [];
    mock_client!(aws_sdk_ec2, rules)
}

/// The tests' `Aws`: mocked clients for side A and for side B (the same ones unless a test gives B its own).
pub struct MockAws {
    pub home: Scope,
    pub peer: Scope,
    pub account_id: String,
    /// No rules unless a test (the preflight's) gives its own: a call it did not expect fails the test.
    pub service_quotas: aws_sdk_servicequotas::Client,
}

impl Aws for MockAws {
    fn home(&self) -> Scope {
        self.home.clone()
    }

    async fn peer(&self, _access: Option<PeerAccess<'_>>) -> Result<Scope> {
        Ok(self.peer.clone())
    }

    async fn account_id(&self) -> Result<String> {
        Ok(self.account_id.clone())
    }

    fn service_quotas(&self) -> aws_sdk_servicequotas::Client {
        self.service_quotas.clone()
    }
}

/// One account and region (us-east-1) for both sides.
pub fn clients(ec2: Ec2, ssm: Ssm) -> MockAws {
    let home = Scope {
        ec2,
        ssm,
        region: "us-east-1".into(),
    };
    MockAws {
        peer: home.clone(),
        home,
        account_id: "123456789012".into(),
        service_quotas: no_service_quotas(),
    }
}

pub fn pcx(code: Code, message: &str) -> VpcPeeringConnection {
    VpcPeeringConnection::builder()
        .vpc_peering_connection_id("pcx-0ab")
        .status(
            VpcPeeringConnectionStateReason::builder()
                .code(code)
                .message(message)
                .build(),
        )
        .build()
}

pub fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}
