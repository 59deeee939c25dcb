"""Waiting for GCE zone operations with our own ZoneOperationsClient.

Never `ExtendedOperation.result()`: it polls through an internal client built without our
endpoint (the real Google API). `ZoneOperationsClient.wait` blocks server-side for up to about
two minutes and may return before DONE, so we loop until DONE or our own deadline. The HTTP
timeout of each wait is cut to our remaining time, so a short deadline is kept even though the
server would hold the call longer; a wait that times out on the wire just means "not done yet".
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from providers.errors import TransientError
from providers.gcp.errors import classify_operation, guarded

SERVER_WAIT_S = 120.0  # GCE's own cap on one wait call


def is_done(operation: Any) -> bool:
    from google.cloud import compute_v1

    return bool(operation.status == compute_v1.Operation.Status.DONE)


def wait_zone_operation(clients: Any, project: str, zone: str, operation: Any, *, timeout_s: float) -> tuple[Any, bool]:
    """(latest operation, done?). Raises the classified error when it finished with one."""
    deadline = time.monotonic() + timeout_s
    while not is_done(operation):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return operation, False
        wait = partial(clients.zone_operations.wait, project=project, zone=zone, operation=operation.name,
                       retry=None, timeout=min(SERVER_WAIT_S + 5, remaining + 0.5))
        try:
            operation = guarded(wait)
        except TransientError:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    error = classify_operation(operation)
    if error is not None:
        raise error
    return operation, True
