"""Route tables as AWS answers for them, where moto is kinder.

- CreateRouteTable takes a ClientToken (EC2 API Reference, CreateRouteTable: "Unique, case-sensitive identifier
  that you provide to ensure the idempotency of the request"; "Ensuring idempotency in Amazon EC2 API requests":
  a retry with the same token returns the result of the original, creates nothing). moto ignores the token.
- AssociateRouteTable refuses a subnet that already has an explicit association, with `Resource.AlreadyAssociated`
  (the code AWS answers, e.g. as handled by the Terraform AWS provider's and other tools' retries of
  AssociateRouteTable; a subnet uses one route table: to move it AWS offers ReplaceRouteTableAssociation). moto
  returns the existing association id instead, whichever table it names, so a workflow that associated the wrong
  table, or relies on a second association being a no-op, would pass here and fail on AWS.

Applied by install() (ec2_patches.install calls it).
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.responses.route_tables import RouteTables

from peerlab_local.core.patching import once, wrap


def _create_route_table(original, self):
    token = self._get_param("ClientToken")
    backend = self.ec2_backend
    if token:
        for table in backend.route_tables.values():
            if getattr(table, "client_token", None) == token:
                return ActionResult({"RouteTable": table})
    before = set(backend.route_tables)
    result = original(self)
    if token:
        for table_id in set(backend.route_tables) - before:
            backend.route_tables[table_id].client_token = token
    return result


def _associate_route_table(original, backend, route_table_id, gateway_id=None, subnet_id=None):
    if subnet_id:
        backend.get_route_table(route_table_id)  # InvalidRouteTableID.NotFound first, as AWS
        for table in backend.route_tables.values():
            if subnet_id in table._associations.values():
                raise EC2ClientError(
                    "Resource.AlreadyAssociated",
                    f"the specified association for route table {route_table_id} conflicts with an existing "
                    "association",
                )
    return original(backend, route_table_id, gateway_id=gateway_id, subnet_id=subnet_id)


@once
def install() -> None:
    wrap(RouteTables, "create_route_table")(_create_route_table)
    wrap(EC2Backend, "associate_route_table")(_associate_route_table)
