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
pub use aws_sdk_ec2::types::builders::{InstanceBuilder, SecurityGroupBuilder};
pub use aws_sdk_ec2::types::{
    AvailabilityZone, AvailabilityZoneState, GroupIdentifier, Instance, InstanceState,
    InstanceStateName, InstanceTypeOffering, IpPermission, IpRange, NetworkAcl,
    NetworkAclAssociation, NetworkAclEntry, Reservation, Route, RouteState, RouteTable,
    RouteTableAssociation, RuleAction, SecurityGroup, ServiceDetail, Subnet, Tag, UserIdGroupPair,
    Vpc, VpcEndpoint, VpcPeeringConnection, VpcPeeringConnectionStateReason,
    VpcPeeringConnectionStateReasonCode as Code,
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
use aws_smithy_runtime_api::client::result::CreateUnhandledError;

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

// ---- SDK errors -------------------------------------------------------------------------------------------------

/// An AWS error's metadata: its code, and a message that says it is the mock's.
pub fn err_meta(code: &str) -> ErrorMetadata {
    err_saying(code, &format!("{code} (mock)"))
}

/// An AWS error's metadata with AWS's own message (for the steps that read it).
pub fn err_saying(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// Any operation's error with this metadata, as a mock rule answers it: `.then_error(fails(err_meta("Code")))`.
/// (What each operation's `XError::generic(meta)` builds.)
pub fn fails<E: CreateUnhandledError>(
    meta: ErrorMetadata,
) -> impl Fn() -> E + Send + Sync + 'static {
    move || E::create_unhandled_error(Box::new(meta.clone()), Some(meta.clone()))
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

/// Side `letter` ("a" or "b") as create-vpc outputs it, in us-east-1a: its VPC, CIDR, instance's address and
/// group as given, the other ids after the letter (`subnet-a`, `rtb-a`, `i-a`).
pub fn side_output(letter: &str, vpc: &str, cidr: &str, ip: &str, sg: &str) -> SideOutput {
    SideOutput {
        side: if letter == "a" { Side::A } else { Side::B },
        region: "us-east-1".into(),
        vpc_id: vpc.into(),
        cidr: cidr.into(),
        subnet_id: format!("subnet-{letter}"),
        route_table_id: format!("rtb-{letter}"),
        availability_zone: "us-east-1a".into(),
        availability_zone_id: "use1-az6".into(),
        security_group_id: sg.into(),
        instance_id: format!("i-{letter}"),
        private_ip: ip.into(),
        endpoint_ids: vec![],
    }
}

// ---- EC2's answers ----------------------------------------------------------------------------------------------

/// A route to `destination` through `via`: a peering (`pcx-…`) or a gateway (`local`, `igw-…`).
pub fn route(destination: &str, via: &str, state: RouteState) -> Route {
    let route = Route::builder()
        .destination_cidr_block(destination)
        .state(state);
    if via.starts_with("pcx-") {
        route.vpc_peering_connection_id(via).build()
    } else {
        route.gateway_id(via).build()
    }
}

/// A route table with these routes, associated with nothing.
pub fn table(id: &str, routes: impl IntoIterator<Item = Route>) -> RouteTable {
    RouteTable::builder()
        .route_table_id(id)
        .set_routes(Some(routes.into_iter().collect()))
        .build()
}

/// A VPC's main route table with these routes.
pub fn main_table(id: &str, routes: impl IntoIterator<Item = Route>) -> RouteTable {
    RouteTable::builder()
        .route_table_id(id)
        .associations(RouteTableAssociation::builder().main(true).build())
        .set_routes(Some(routes.into_iter().collect()))
        .build()
}

/// A lab's own route table, as create-vpc leaves it: in `vpc`, associated with `subnet` (`association`), no route.
pub fn subnet_table(id: &str, vpc: &str, subnet: &str, association: &str) -> RouteTable {
    RouteTable::builder()
        .route_table_id(id)
        .vpc_id(vpc)
        .associations(
            RouteTableAssociation::builder()
                .route_table_association_id(association)
                .subnet_id(subnet)
                .main(false)
                .build(),
        )
        .build()
}

/// DescribeRouteTables answering these tables.
pub fn route_tables(tables: impl IntoIterator<Item = RouteTable>) -> DescribeRouteTablesOutput {
    DescribeRouteTablesOutput::builder()
        .set_route_tables(Some(tables.into_iter().collect()))
        .build()
}

/// Security group `id` as AWS creates one: no ingress rule, egress open to everything. The caller adds the rest
/// (`.vpc_id`, `.tags`, `.ip_permissions`) and builds it.
pub fn group(id: &str) -> SecurityGroupBuilder {
    SecurityGroup::builder().group_id(id).ip_permissions_egress(
        IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build(),
    )
}

/// `group(id)` tagged as lab demo-1's, the lab of the example events.
pub fn lab_group(id: &str) -> SecurityGroupBuilder {
    group(id).tags(tag("peerlab:lab-id", "demo-1"))
}

/// A rule admitting `protocol` (`-1`: all, `icmp`, `tcp`…) from the members of group `source`, on every port and
/// ICMP type (-1).
pub fn from_group(protocol: &str, source: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(-1)
        .to_port(-1)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(source).build())
        .build()
}

/// DescribeSecurityGroups answering these groups.
pub fn groups(groups: impl IntoIterator<Item = SecurityGroup>) -> DescribeSecurityGroupsOutput {
    DescribeSecurityGroupsOutput::builder()
        .set_security_groups(Some(groups.into_iter().collect()))
        .build()
}

/// Instance `id` in `state`; the caller adds the rest (`.private_ip_address`, `.vpc_id`) and builds it.
pub fn instance(id: &str, state: InstanceStateName) -> InstanceBuilder {
    Instance::builder()
        .instance_id(id)
        .state(InstanceState::builder().name(state).build())
}

/// Instance `id` with these security groups (what update-sg and the diagnosis read of it).
pub fn instance_in_groups(id: &str, group_ids: &[&str]) -> Instance {
    Instance::builder()
        .instance_id(id)
        .set_security_groups(Some(
            group_ids
                .iter()
                .map(|g| GroupIdentifier::builder().group_id(*g).build())
                .collect(),
        ))
        .build()
}

/// DescribeInstances answering these instances, in one reservation.
pub fn instances(instances: impl IntoIterator<Item = Instance>) -> DescribeInstancesOutput {
    DescribeInstancesOutput::builder()
        .reservations(
            Reservation::builder()
                .set_instances(Some(instances.into_iter().collect()))
                .build(),
        )
        .build()
}
