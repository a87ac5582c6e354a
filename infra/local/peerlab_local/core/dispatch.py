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
"""

from __future__ import annotations

import functools

import moto.backends
import moto.core.utils

from peerlab_local.core.patching import once, replace

_moto_modules = moto.backends.list_of_moto_modules
_method_names = moto.core.utils.method_names_from_class


@functools.cache
def list_of_moto_modules() -> tuple[str, ...]:
    return tuple(_moto_modules())


@functools.cache
def method_names_from_class(clazz: object) -> frozenset[str]:
    return frozenset(_method_names(clazz))


@once
def install() -> None:
    replace(moto.backends, "list_of_moto_modules", list_of_moto_modules)
    # BaseResponse.call_action asks `action in method_names_from_class(...)`, imported by name into
    # moto.core.responses: rebind it there too
    replace(moto.core.utils, "method_names_from_class", method_names_from_class, rebind=True)
