"""moto as it ships, for the tests that check each gap the embedded adapter closes is still
there (so a patch is dropped as soon as moto behaves)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from reconciler.embedded.patches import ORIGINALS, patch_moto


@contextmanager
def unpatched() -> Iterator[None]:
    patch_moto()
    patched = {where: where[0].__dict__.get(where[1]) for where in ORIGINALS}
    for (cls, name), fn in ORIGINALS.items():
        if fn is None:
            delattr(cls, name)
        else:
            setattr(cls, name, fn)
    try:
        yield
    finally:
        for (cls, name), fn in patched.items():
            setattr(cls, name, fn)
