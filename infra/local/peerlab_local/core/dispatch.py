"""moto's per-request lookups of its own code, memoized: the local AWS's time per call is the instrument's, counted in
every step's cold start beside its boto3 reference (bench/run.py) and in every lab's wall time.

A profile of the local AWS serving the bench's per-step labs (py-spy, 200 Hz, release binaries; 2026-12-07) found
14 % of its request threads' samples in two lookups whose answers never change once the server runs:
- `moto.backends.list_of_moto_modules`: the package's directory listed (`os.listdir` + `isdir` for each of some
  150 entries) by `DomainDispatcherApplication.get_backend_for_host`, on every request;
- `moto.core.utils.method_names_from_class`: `inspect.getmembers` over a whole responses class (EC2's has
  hundreds of methods), by `BaseResponse.call_action`, on every request, to learn whether the action is one.

Both are computed once here; a class's method names at its first request, kept per class. Every patch is
installed before the server answers its first request (`__main__.install_patches`), so no class changes after its
names are kept. Behaviour is unchanged (tests/test_core/test_dispatch.py compares both with moto's own answers).

A later profile (teardown's and a whole lab's calls, 2026-12-07; cProfile of DescribeInstances in-process) found
the serializer's attribute picker the largest part of an EC2 Describe: for every member of every object in a
response, `XFormedAttributePicker.get_possible_keys` asks six alias providers (each a new object) and
`botocore.xform_name` which names the object might carry the member under. That list depends only on the object's
class, the member's name and its shape (with the structure it belongs to); moto's shapes are built once per
operation (`get_service_model` is cached, and botocore caches operation models and members), so `Picker` keeps
the list per (alias providers, class, member, shape, parent). The value is still looked up on each object, in the
same order; test_dispatch.py compares whole responses with moto's own serializer.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from typing import Any

import moto.backends
import moto.core.responses
import moto.core.utils
from moto.core.serialize import AttributePickerContext, XFormedAttributePicker

from peerlab_local.core.patching import once, replace

_moto_modules = moto.backends.list_of_moto_modules
_method_names = moto.core.utils.method_names_from_class


@functools.cache
def list_of_moto_modules() -> tuple[str, ...]:
    return tuple(_moto_modules())


@functools.cache
def method_names_from_class(clazz: object) -> frozenset[str]:
    return frozenset(_method_names(clazz))


class Picker(XFormedAttributePicker):
    """moto's picker with each member's possible keys kept (see the module's docstring)."""

    # (alias providers, class, member, id(shape), id(parent)) -> (shape, parent, keys): shape and parent are kept
    # alive with their keys, so their ids are never another's
    _keys: dict[tuple, tuple[Any, Any, tuple[str, ...]]] = {}

    def get_possible_keys(self, context: AttributePickerContext) -> Generator[str]:
        shape = context.shape
        parent = getattr(shape, "parent", None)
        key = (tuple(self.alias_providers), type(context.obj), context.key, id(shape), id(parent))
        kept = self._keys.get(key)
        if kept is None:
            kept = (shape, parent, tuple(super().get_possible_keys(context)))
            self._keys[key] = kept
        yield from kept[2]


@once
def install() -> None:
    replace(moto.backends, "list_of_moto_modules", list_of_moto_modules)
    # BaseResponse.call_action asks `action in method_names_from_class(...)`, imported by name into
    # moto.core.responses: rebind it there too
    replace(moto.core.utils, "method_names_from_class", method_names_from_class, rebind=True)
    # ActionResult.execute_result makes a picker per response, by this name
    replace(moto.core.responses, "XFormedAttributePicker", Picker)
