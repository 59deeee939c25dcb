"""Which folder of Spotwise may import which: the rule table that tests/unit/test_import_rules.py enforces and
docs/architecture.md draws.

Nodes are those of `tools.importgraph`: each folder of `orchestrator/`, each top-level module of `orchestrator/`
(the daemon's wiring: one node per module, because they sit at different heights -- `logs.py` under everything,
`containment.py` over `jobs`, `daemon.py` over everything -- and one "wiring" node would import and be imported by
`jobs`, `spending` and `provisioning` at once, hiding every real direction), and the packages `policies`,
`providers` and `spotwise`. An import inside a function body or an `if TYPE_CHECKING:` block counts like any other:
it is a dependency of the design even if start-up does not load it.

`ALLOWED[node]` is everything `node` may import; what it does import must be a subset (the rule test), and the
graph of what it imports must have no cycle once `BACK_EDGES` -- each a known exception, with its reason -- is
left out. A row may name a node that does not exist (yet, or any more): folders move, and a rule about a missing
folder is simply never broken. A node that exists with no row fails the test: a new folder needs a decision.
"""

from __future__ import annotations

#: The bottom: pure decisions (no I/O), cloud adapters (never the daemon), persistence (the only SQL).
BASE = frozenset({"policies", "providers", "store"})
#: The wiring modules nearly every daemon folder uses: settings, logging, database-error classes, the loop
#: containment, the Runtime every loop is given.
COMMON = frozenset({"config.py", "logs.py", "dberrors.py", "containment.py", "runtime.py", "formats"})
#: Everything of the daemon under its entry points (the API, the CLI, the dashboard, the daemon itself).
DAEMON = frozenset({"jobs", "provisioning", "spending", "catalog", "alerts", "checkpoint", "workdir", "identity",
                    "skypilot", "tokens.py", "agentkey.py", "leases.py", "homeperms.py", "publicurl.py",
                    "metrics.py", "ops_metrics.py", "placement_latency.py", "__init__.py"}) | BASE | COMMON

ALLOWED: dict[str, frozenset[str]] = {
    # -- the base ---------------------------------------------------------------------------------------------------
    "store": frozenset(),  # the schema and the engine: imports no other folder, so any of them can use it
    "providers": frozenset(),  # adapters are the daemon's tools, not its clients
    "policies": frozenset({"providers"}),  # pure decisions over providers' plain data types (Offer, GPU names)
    # -- wiring leaves and near-leaves ------------------------------------------------------------------------------
    "__init__.py": frozenset(),  # `__version__`
    "logs.py": frozenset(),
    "formats": frozenset(),
    "homeperms.py": frozenset(),
    "publicurl.py": frozenset({"providers"}),  # which clouds run instances elsewhere: each cloud's plugin says
    "placement_latency.py": frozenset(),  # a histogram the Runtime holds and the launcher observes
    "configfile.py": frozenset({"formats"}),
    # config.py checks the daemon's `checkpoint_store` with the spec's own check (jobs.models.store_url_problem):
    # so `jobs` never imports config.py; it takes settings as arguments.
    "config.py": frozenset({"configfile.py", "jobs"}),
    "dberrors.py": frozenset({"logs.py"}),
    "leases.py": frozenset({"dberrors.py", "logs.py"}),
    "agentkey.py": frozenset({"store"}),
    "tokens.py": frozenset({"store"}),
    # containment fails the job whose item raised (jobs.transitions), so it sits over `jobs`, under the loops.
    "containment.py": frozenset({"dberrors.py", "logs.py", "jobs", "store"}),
    "runtime.py": frozenset({"agentkey.py", "config.py", "homeperms.py", "logs.py", "placement_latency.py",
                             "identity", "providers", "store"}),
    "metrics.py": frozenset({"runtime.py", "spending", "store"}),  # the spend gauges read spending's totals
    "ops_metrics.py": frozenset({"runtime.py", "jobs", "store"}),
    # -- what a job is and what travels with it ---------------------------------------------------------------------
    # nothing here launches, prices or charges
    "jobs": frozenset({"store", "providers", "formats", "logs.py"}),
    # backends and store are the storage library the agent, the workdir store and the client use (providers only);
    # jobs.py and views.py are the daemon's side (a job's checkpoint events, their costs in `jobs show`).
    "checkpoint": frozenset({"providers", "store", "jobs", "config.py", "spending"}),
    "workdir": frozenset({"checkpoint", "jobs", "providers"}),
    "skypilot": frozenset({"jobs", "providers"}),  # the task-file mapping: pure, into a JobSpec
    "identity": frozenset({"config.py", "providers"}),  # verifies instance identity proofs (daemon side)
    # -- the loops that act on the store ----------------------------------------------------------------------------
    "alerts": frozenset({"store", "logs.py", "dberrors.py", "containment.py", "publicurl.py", "config.py",
                         "formats"}),
    "spending": frozenset({"jobs", "alerts"}) | BASE | COMMON,  # never provisioning, catalog, api, cli, ui
    "catalog": frozenset({"jobs", "alerts"}) | BASE | COMMON,  # never provisioning, spending, api, cli, ui
    # a launch is refused by a budget or cap (spending), priced from the catalog, resumed from a checkpoint
    "provisioning": frozenset({"jobs", "spending", "catalog", "alerts", "checkpoint", "tokens.py", "publicurl.py",
                               "__init__.py"}) | BASE | COMMON,
    # -- on the instance ---------------------------------------------------------------------------------------------
    # the agent talks to the daemon over HTTP only: never jobs, store or any loop
    "agent": frozenset({"checkpoint", "workdir", "providers"}),  # its identity proof: the cloud plugin's own hook
    # -- offline -----------------------------------------------------------------------------------------------------
    "sim": frozenset({"catalog", "policies", "providers"}),  # replays traces through the same policies; no store
    # -- entry points ------------------------------------------------------------------------------------------------
    "api": DAEMON | frozenset({"ui"}),
    "ui": frozenset({"api", "jobs", "spending", "tokens.py", "__init__.py"}) | BASE,
    # the client talks HTTP; it packs a workdir (workdir, checkpoint, jobs for the spec) and reads settings files
    "client": frozenset({"checkpoint", "workdir", "jobs", "policies", "config.py", "configfile.py"}),
    # a thin client of the API, plus the local commands (serve, demo, simulate, policy check) imported lazily
    "cli": frozenset({"client", "jobs", "alerts", "catalog", "spending", "sim", "skypilot", "daemon.py",
                      "configfile.py"}) | BASE | COMMON,
    "daemon.py": DAEMON | frozenset({"api"}),  # the composition root: builds the runtime, the app and the loops
    "__main__.py": frozenset({"cli"}),
    "spotwise": frozenset({"client"}),  # the public name of the client
}

#: Allowed imports that close a cycle, each with why it stays. The cycle check leaves these edges out.
BACK_EDGES: dict[tuple[str, str], str] = {
    ("api", "ui"): "api.create_app mounts the dashboard's routers (a function-level import), and the dashboard's "
                   "routes use api.deps for the session and the caller; building the app in one place keeps every "
                   "test's app the daemon's app.",
}

#: The layers, top to bottom, for the picture: a node's layer is where it is drawn, not a rule by itself.
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("entry", "Entry points", ("__main__.py", "cli", "spotwise", "client", "daemon.py", "api", "ui")),
    ("loops", "Loops that act", ("provisioning", "spending", "catalog", "alerts")),
    ("jobs", "Jobs and what travels with them", ("skypilot", "workdir", "checkpoint", "jobs", "identity")),
    ("instance", "On the instance", ("agent",)),
    ("offline", "Offline", ("sim",)),
    ("wiring", "Top-level wiring of orchestrator/", (
        "runtime.py", "metrics.py", "ops_metrics.py", "containment.py", "config.py", "configfile.py", "leases.py",
        "tokens.py", "agentkey.py", "dberrors.py", "logs.py", "homeperms.py", "publicurl.py",
        "placement_latency.py", "__init__.py")),
    ("base", "Base", ("store", "formats", "policies", "providers")),
)
