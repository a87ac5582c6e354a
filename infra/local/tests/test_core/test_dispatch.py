"""core/dispatch.py memoizes two of moto's per-request lookups: the answers must stay moto's own."""

from __future__ import annotations

from moto.ec2.responses import EC2Response
from moto.ssm.responses import SimpleSystemManagerResponse

from peerlab_local.core import dispatch


def test_the_memoized_lookups_answer_what_moto_s_own_do():
    assert list(dispatch.list_of_moto_modules()) == list(dispatch._moto_modules())
    assert "ec2" in dispatch.list_of_moto_modules() and "stepfunctions" in dispatch.list_of_moto_modules()
    for clazz in (EC2Response, SimpleSystemManagerResponse):
        assert dispatch.method_names_from_class(clazz) == set(dispatch._method_names(clazz))
    assert "describe_vpcs" in dispatch.method_names_from_class(EC2Response)


def test_installed_moto_asks_the_memoized_ones():
    import moto.backends
    import moto.core.responses

    dispatch.install()
    assert moto.backends.list_of_moto_modules is dispatch.list_of_moto_modules
    assert moto.core.responses.method_names_from_class is dispatch.method_names_from_class
