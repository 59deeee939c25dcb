"""Launch a gang all or none: if any node fails, release the nodes already launched.

Each node gets its own idempotency key derived from the attempt's (`<key>-<n>`), so a repeat
after a crash returns the same instances. Wiring multi-node jobs through the launcher and the
agent is separate work; this is the launch primitive the launcher will call.
"""

from __future__ import annotations

from dataclasses import replace

from orchestrator.logs import get_logger
from providers.base import InstanceInfo, LaunchSpec, Provider
from providers.errors import ProviderError

log = get_logger(__name__)


def node_specs(spec: LaunchSpec, nodes: int) -> list[LaunchSpec]:
    return [replace(spec, idempotency_key=f"{spec.idempotency_key}-{n}",
                    extra_tags={**spec.extra_tags, "spotwise-node": str(n)}) for n in range(nodes)]


def launch_gang(provider: Provider, spec: LaunchSpec, nodes: int) -> list[InstanceInfo]:
    """All `nodes` instances of `spec.offer`, or none: a failure terminates the partial gang and re-raises."""
    launched: list[InstanceInfo] = []
    for node in node_specs(spec, nodes):
        try:
            launched.append(provider.launch(node))
        except ProviderError as exc:
            if launched:
                log.warning("gang_partial_release", launched=len(launched), nodes=nodes, error=str(exc))
                try:
                    provider.terminate([i.id for i in launched])
                except ProviderError as cleanup:  # the orphan sweep finds anything left
                    log.error("gang_release_failed", error=str(cleanup))
            raise
    return launched
