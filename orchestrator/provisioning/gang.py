"""Launch a gang all or none: if any node fails, release the nodes already launched.

Each node gets its own idempotency key derived from the attempt's (`<key>-<n>`), so a repeat
after a crash returns the same instances, and its own node-scoped bootstrap token (its rank is in the
token, so an agent can only ever report as the node it runs on). The launcher passes `on_launched`
to record each node's Instance row as soon as the cloud returns it: a daemon killed mid-gang has
every launched node in the store (and tagged with a still-active attempt), and the next pass
re-issues the launch with the same keys, getting the same instances back and launching the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from orchestrator.logs import get_logger
from providers.base import InstanceInfo, LaunchSpec, Provider
from providers.errors import ProviderError

log = get_logger(__name__)

TAG_NODE = "spotwise-node"


def node_specs(spec: LaunchSpec, nodes: int, tokens: Sequence[str] | None = None) -> list[LaunchSpec]:
    """One launch spec per node: key `<key>-<n>`, tag `spotwise-node=<n>`, node n's bootstrap token when given."""
    if tokens is not None and len(tokens) != nodes:
        raise ValueError(f"{len(tokens)} bootstrap tokens for {nodes} nodes")
    return [replace(spec, idempotency_key=f"{spec.idempotency_key}-{n}",
                    extra_tags={**spec.extra_tags, TAG_NODE: str(n)},
                    bootstrap=spec.bootstrap if tokens is None else replace(spec.bootstrap, token=tokens[n]))
            for n in range(nodes)]


def launch_gang(provider: Provider, spec: LaunchSpec, nodes: int, *, tokens: Sequence[str] | None = None,
                on_launched: Callable[[int, InstanceInfo], None] | None = None,
                release_on: tuple[type[ProviderError], ...] = (ProviderError,)) -> list[InstanceInfo]:
    """All `nodes` instances of `spec.offer`, or none: a failure terminates the partial gang and re-raises.

    The re-raised error carries a note naming the node that failed and the nodes released (shown in the
    job's events). `on_launched(n, info)` runs after node n's launch returned, before node n+1 is asked for.
    Only errors in `release_on` release the partial gang: after a transient error the launcher re-issues the
    same keys later and gets the launched nodes back, which a release would have turned into dead nodes.
    """
    launched: list[InstanceInfo] = []
    for n, node in enumerate(node_specs(spec, nodes, tokens)):
        try:
            info = provider.launch(node)
        except ProviderError as exc:
            released = ""
            if launched and not isinstance(exc, release_on):
                exc.add_note(f"gang node {n} of {nodes} failed; node(s) 0-{len(launched) - 1} kept for the retry")
                raise
            if launched:
                log.warning("gang_partial_release", launched=len(launched), nodes=nodes, error=str(exc))
                released = f"; released node(s) {', '.join(str(i) for i in range(len(launched)))}"
                try:
                    provider.terminate([i.id for i in launched])
                except ProviderError as cleanup:  # the orphan sweep finds anything left
                    log.error("gang_release_failed", error=str(cleanup))
                    released += f" (terminate failed: {cleanup}; the orphan sweep retries)"
            exc.add_note(f"gang node {n} of {nodes} failed{released}")
            raise
        launched.append(info)
        if on_launched is not None:
            on_launched(n, info)
    return launched


def gang_note(exc: BaseException) -> str:
    """The note `launch_gang` added to a failure ('' for a one-node launch)."""
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith("gang node ")]
    return f" ({notes[-1]})" if notes else ""
