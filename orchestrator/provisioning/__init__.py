"""Provisioning: turning queued jobs into running instances, and keeping them true to the store.

The launcher (place, record the attempt, call the cloud) and the one place a placement request is built; what
placement needs from the store (blocks, preemptions, deadline state, data gravity and measured transfer rates,
the total-cost ranking); gangs launched all or none; the level-triggered reconcile loop with its interruptions,
daemon-outage allowance and retry; the agent wheel served to instances; the launch preflight. The decisions are
pure functions in `policies/` (`placement`, `deadline`, `gang`, `retry`, `totalcost`). `provisioning` may import
`jobs`, `spending` (a launch is refused by a budget or cap), `catalog`, `alerts`, `checkpoint`, `store` and the
top-level wiring, never `api`, `cli` or `ui`. Only the API (offers, the submit-time check, agent reports) and the
daemon (the loops) import it.
"""
