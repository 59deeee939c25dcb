"""Jobs: what a user asked for and where it stands.

The job spec and its state vocabulary (`models`), reading spec files with messages a newcomer can act on
(`specfile`, `speclimits`), the queue and its fair claim order (`queue`, `fair_queue`), the state machine
(`transitions`), attempt records (`attempts`), job secrets, what a container image reference may be (`imageref`)
and stored output. Nothing here launches, prices or charges anything: `jobs` may import `store`, `providers` and
the top-level `logs` and `strictyaml`, never `config.py` (which imports the spec's store-URL check from here: jobs
take settings as arguments), `provisioning`, `spending`, `catalog`, `api`, `cli` or `ui`. Nearly every daemon
folder imports it; the agent never does.
"""
