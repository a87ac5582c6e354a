"""What the local AWS adds to an account-region's EC2, kept as moto keeps its own (a BackendDict: made on first use,
emptied by moto's reset): when each new resource becomes visible to the API (consistency.py)."""

from __future__ import annotations

from moto.core.base_backend import BackendDict, BaseBackend


class Ec2Extras(BaseBackend):
    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.visible_at: dict[str, float] = {}  # resource id -> when it stops answering NotFound (world clock)


extras_backends: BackendDict[Ec2Extras] = BackendDict(Ec2Extras, "ec2")


def extras_of(backend) -> Ec2Extras:
    """The additions of the account and region of a moto EC2Backend."""
    return extras_backends[backend.account_id][backend.region_name]


def all_extras():
    for regions in list(extras_backends.values()):
        yield from list(regions.values())
