"""Cloud adapters behind one protocol (`providers.base.Provider`).

The shared modules (`base`, `errors`, `retry`, `gpus`, `bootstrap`, `notice`, `objectstore`, `plugin`, `registry`,
the `catalog/` price data) and one package per cloud (`aws`, `gcp`, `azure`, `local`, `faulty`), each declaring
itself as a `CloudPlugin` found by entry point (`spotwise.clouds`). `providers` never imports `orchestrator`, and
one cloud's package never imports another's; the daemon, the agent and `policies` import it, the daemon reaching a
cloud through the registry, by name.
"""
