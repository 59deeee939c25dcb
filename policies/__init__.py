"""Pure decision code: data in, decision out, with the reason attached. No I/O here.

One module per decision, named like the daemon code that acts on it (policies/idle.py decides,
orchestrator/spending/idle.py acts). It imports only `providers`' plain data types (Offer, GPU names): never
`orchestrator`, a cloud SDK or a database driver, and its modules form no import cycle
(tests/unit/test_import_rules.py). The daemon, the simulator, the CLI and the client import it.
"""
