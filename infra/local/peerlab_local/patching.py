"""How the local AWS changes moto's behaviour: `wrap(cls, name)` replaces a method of a moto class with a function
that receives the original first, so a patch can add a check or a state change around what moto does."""

from __future__ import annotations

import functools


def wrap(cls, name: str):
    """Decorator: `cls.name` becomes `replacement(original, *args, **kwargs)`. A method moto no longer has fails
    at import (AttributeError naming it), not silently."""

    def decorator(replacement):
        original = getattr(cls, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            return replacement(original, *args, **kwargs)

        setattr(cls, name, wrapper)
        return replacement

    return decorator
