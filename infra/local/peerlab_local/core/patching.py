"""How the local AWS changes moto: through this module only, which records every change (PATCHES), so that
tests/test_patching.py can check on a pristine moto that each attribute patched is still there to patch (and each
one added is still absent) - an upgrade of moto that renames what we patch fails a test, not a lab.

- `wrap(owner, name)`: decorator; `owner.name` becomes `replacement(original, *args, **kwargs)`, so a patch adds a
  check or a state change around what moto does. Methods, classmethods, properties (their getter) and module
  functions.
- `replace(owner, name, value)`: `owner.name` becomes `value`; moto's original is not called.
- `add(owner, name, value)`: `owner` gets an attribute moto lacks (an API moto does not implement).
- `rebind=True` (wrap/replace of a module function): also every loaded module that imported it by name.
- `once`: an `install()` applies its patches once however often it is called.

`owner` is a class or a module, moto's or (for hooks between our modules) ours. What `wrap`/`replace` would patch
must exist: if it does not, MotoChanged (an AttributeError) names it, at start-up.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_MISSING = object()


class MotoChanged(AttributeError):
    """moto no longer has what the local AWS patches (or now has what it adds)."""


@dataclasses.dataclass(frozen=True)
class Patch:
    module: str  # the owner's module
    qualname: str  # the owner's name in it ("" when the owner is the module)
    name: str  # the attribute patched
    kind: str  # "wrap" | "replace" | "add"
    by: str  # our module that patched it

    @property
    def target(self) -> str:
        return ".".join(p for p in (self.module, self.qualname, self.name) if p)


# What this process patched, in order (patches are process-wide, as moto's classes are).
PATCHES: list[Patch] = []


def _record(owner: object, name: str, kind: str) -> None:
    if isinstance(owner, types.ModuleType):
        module, qualname = owner.__name__, ""
    else:
        module, qualname = getattr(owner, "__module__", "?"), getattr(owner, "__qualname__", "?")
    caller = sys._getframe(2).f_globals.get("__name__", "?")
    PATCHES.append(Patch(module, qualname, name, kind, caller))


def _existing(owner: object, name: str, kind: str) -> Any:
    found = inspect.getattr_static(owner, name, _MISSING)
    if found is _MISSING:
        where = owner.__name__ if isinstance(owner, (type, types.ModuleType)) else repr(owner)
        raise MotoChanged(f"cannot {kind} {where}.{name}: it does not exist (moto changed?)")
    return found


def _rebind(owner: object, name: str, old: Any, new: Any) -> None:
    """`from owner import name` copied `old` into other modules: point those at `new` too."""
    for module in list(sys.modules.values()):
        if module is not owner and getattr(module, "__dict__", {}).get(name) is old:
            setattr(module, name, new)


def wrap(owner: object, name: str, *, rebind: bool = False) -> Callable[[F], F]:
    """Decorator: `owner.name` becomes `replacement(original, *args, **kwargs)` (for a classmethod, `original` is
    the function: call it with the class; for a property, the getter)."""

    def decorator(replacement: F) -> F:
        found = _existing(owner, name, "wrap")
        new: Any
        if isinstance(found, classmethod):
            func = found.__func__

            @functools.wraps(func)
            def class_wrapper(cls: type, *args: Any, **kwargs: Any) -> Any:
                return replacement(func, cls, *args, **kwargs)

            new = classmethod(class_wrapper)
        elif isinstance(found, property):
            getter = found.fget
            new = property(functools.wraps(getter)(lambda self: replacement(getter, self)))  # type: ignore[arg-type]
        else:
            original = found.__func__ if isinstance(found, staticmethod) else found

            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return replacement(original, *args, **kwargs)

            new = staticmethod(wrapper) if isinstance(found, staticmethod) else wrapper
        setattr(owner, name, new)
        if rebind:
            _rebind(owner, name, found, new)
        _record(owner, name, "wrap")
        return replacement

    return decorator


def replace(owner: object, name: str, value: Any, *, rebind: bool = False) -> Any:
    """`owner.name` becomes `value` (a function, classmethod, property, module...); moto's original goes unused."""
    found = _existing(owner, name, "replace")
    setattr(owner, name, value)
    if rebind:
        _rebind(owner, name, found, value)
    _record(owner, name, "replace")
    return value


def add(owner: object, name: str, value: Any) -> Any:
    """`owner.name = value` where moto has no such attribute (the check fails once moto implements it)."""
    if inspect.getattr_static(owner, name, _MISSING) is not _MISSING:
        raise MotoChanged(f"cannot add {getattr(owner, '__name__', owner)}.{name}: it exists now (moto changed?)")
    setattr(owner, name, value)
    _record(owner, name, "add")
    return value


def once(install: F) -> F:
    """An install() whose patches are applied on its first call only (later calls return None)."""
    done: list[bool] = []

    @functools.wraps(install)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if done:
            return None
        done.append(True)
        return install(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def check(patches: list[Patch]) -> list[str]:
    """Run on a pristine moto (no patch applied): what no longer holds for `patches` - a wrapped or replaced
    attribute that is gone, an added one that moto now has, an owner that is gone. Only the first patch of each
    attribute is checked (later ones wrap ours)."""
    problems, seen = [], set()
    for patch in patches:
        key = (patch.module, patch.qualname, patch.name)
        if key in seen:
            continue
        seen.add(key)
        try:
            owner: Any = importlib.import_module(patch.module)
            for part in filter(None, patch.qualname.split(".")):
                owner = getattr(owner, part)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{patch.target} ({patch.kind} by {patch.by}): its owner is gone: {exc}")
            continue
        present = inspect.getattr_static(owner, patch.name, _MISSING) is not _MISSING
        if patch.kind == "add" and present:
            problems.append(f"{patch.target} (added by {patch.by}): moto has it now; use or wrap moto's")
        elif patch.kind != "add" and not present:
            problems.append(f"{patch.target} ({patch.kind} by {patch.by}): moto no longer has it")
    return problems
