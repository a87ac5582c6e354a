"""The simulated ping: computed from routes, peering state, security groups and network ACLs."""

import re

from conftest import MANY_VCPUS, Lab


def ready_lab(aws) -> Lab:
    return Lab(aws).vpcs().profile().endpoints().instances()


def stats(result: dict) -> tuple[int, int, int]:
    match = re.search(r"(\d+) packets transmitted, (\d+) received, (\d+)% packet loss",
                      result["StandardOutputContent"])
    assert match, result["StandardOutputContent"]
    sent, received, loss = (int(g) for g in match.groups())
    return sent, received, loss


def test_fails_before_peering(aws):
    lab = ready_lab(aws)
    result = lab.ping()
    assert result["Status"] == "Failed" and result["ResponseCode"] == 1
    assert stats(result) == (3, 0, 100)
    assert "rtt" not in result["StandardOutputContent"]
    assert "simulated" in result["StandardErrorContent"]


def test_fails_with_peering_but_no_route(aws):
    lab = ready_lab(aws).peering().open_b()
    result = lab.ping()
    assert stats(result) == (3, 0, 100)
    assert "route: route table" in result["StandardErrorContent"]


def test_fails_with_route_one_way_only(aws):
    lab = ready_lab(aws).peering().routes(b_to_a=False).open_b()
    result = lab.ping()
    assert stats(result) == (3, 0, 100)
    assert "return:" in result["StandardErrorContent"]


def test_fails_with_routes_but_no_security_group_rule(aws):
    lab = ready_lab(aws).peering().routes()
    result = lab.ping()
    assert stats(result) == (3, 0, 100)
    assert "sg-in:" in result["StandardErrorContent"]


def test_fails_when_peering_not_accepted(aws):
    lab = ready_lab(aws).peering(accept=False)
    # B admits A's VPC by CIDR: a group of a peer VPC can be named only over an active peering (peering_rules.py)
    lab.routes().ec2.authorize_security_group_ingress(GroupId=lab.sg_b0, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    result = lab.ping()
    assert stats(result) == (3, 0, 100)
    assert "pending-acceptance, not active" in result["StandardErrorContent"]


def test_succeeds_when_every_hop_is_right(aws):
    lab = ready_lab(aws).peering().routes().open_b()
    result = lab.ping()
    assert result["Status"] == "Success" and result["ResponseCode"] == 0
    out = result["StandardOutputContent"]
    assert stats(result) == (3, 3, 0)
    assert out.startswith(f"PING {lab.ip_b} ({lab.ip_b}) 56(84) bytes of data.\n")
    assert len(re.findall(rf"64 bytes from {re.escape(lab.ip_b)}: icmp_seq=\d ttl=\d+ time=[\d.]+ ms", out)) == 3
    assert re.search(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", out)


def test_icmp_only_rule_is_enough(aws):
    lab = ready_lab(aws).peering().routes().open_b(protocol="icmp")
    assert stats(lab.ping()) == (3, 3, 0)


def test_network_acl_deny_blocks(aws):
    lab = ready_lab(aws).peering().routes().open_b()
    acl = lab.ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [lab.vpc_b]}])["NetworkAcls"][0]
    lab.ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], RuleNumber=50, Protocol="1",
                                     RuleAction="deny", Egress=False, CidrBlock="10.0.0.0/16",
                                     IcmpTypeCode={"Type": -1, "Code": -1})
    result = lab.ping()
    assert stats(result) == (3, 0, 100)
    assert "nacl: network ACL" in result["StandardErrorContent"]


def test_unknown_address_and_other_commands(aws):
    lab = ready_lab(aws)
    assert stats(lab.ping(target="10.9.9.9")) == (3, 0, 100)
    other = lab.ping(command="curl http://10.1.1.4/")
    assert other["Status"] == "Failed" and other["ResponseCode"] == 127
    assert "not supported by peerlab's local AWS" in other["StandardErrorContent"]
    endless = lab.ping(command=f"ping {lab.ip_b}")
    assert endless["ResponseCode"] == 2 and "needs -c N" in endless["StandardErrorContent"]


def test_a_private_address_is_the_one_the_sources_routes_lead_to(start_local):
    """Two labs with the tutorial's CIDRs: both B instances hold the same private IP. A packet goes where its
    source's routes send it (a private address means something only in a VPC and the VPCs it peers with): the peered
    lab reaches its own B, the lab without a peering reaches nothing - whichever lab was made first."""
    aws = start_local(*MANY_VCPUS)  # two labs: four t3.micro, 8 vCPUs
    unpeered = ready_lab(aws)
    peered = Lab(aws).vpcs().endpoints().instances().peering().routes().open_b()
    assert unpeered.ip_b == peered.ip_b
    assert stats(peered.ping()) == (3, 3, 0)
    assert stats(unpeered.ping()) == (3, 0, 100)


def test_long_output_is_truncated_as_ssm_truncates_it(aws):
    """SSM API reference (and the service model's `max`): GetCommandInvocation's StandardOutputContent is "The first
    24,000 characters written by the plugin to stdout"; ListCommandInvocations' plugin Output at most 2,500. 600
    replies print some 36,000 characters; moto's SSM (and the local one before) returned them all."""
    lab = ready_lab(aws).peering().routes().open_b()
    result = lab.ping(command=f"ping -c 600 -i 0.2 {lab.ip_b}")
    assert result["Status"] == "Success"
    out = result["StandardOutputContent"]
    assert len(out) == 24000
    assert out.startswith(f"PING {lab.ip_b}") and "packets transmitted" not in out  # the first 24,000: no summary
    listed = lab.ssm.list_command_invocations(CommandId=result["CommandId"], Details=True)["CommandInvocations"]
    assert len(listed[0]["CommandPlugins"][0]["Output"]) == 2500
