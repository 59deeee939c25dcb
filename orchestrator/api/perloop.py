"""One object per event loop and owner: semaphores and batchers bind to the loop that made them.

Tests (and uvicorn reloads) run several event loops over one app; an asyncio primitive created on one loop
cannot be awaited on another, so each is kept in an anyio RunVar (per running loop), keyed by its owner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from anyio.lowlevel import RunVar

T = TypeVar("T")


def per_loop(var: RunVar[dict[int, T]], owner: object, make: Callable[[], T]) -> T:
    """The running loop's object for `owner`, made on first use."""
    try:
        objects = var.get()
    except LookupError:
        objects = {}
        var.set(objects)
    found = objects.get(id(owner))
    if found is None:
        found = objects[id(owner)] = make()
    return found
