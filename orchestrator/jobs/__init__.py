"""Jobs: what a user asked for and where it stands.

The job spec and its state vocabulary (`models`), reading spec files with messages a newcomer can act on
(`specfile`, `speclimits`), the queue and its fair claim order (`queue`, `fair_queue`), the state machine
(`transitions`), attempt records (`attempts`), job secrets and stored output. Nothing here launches, prices or
charges anything: `jobs` may import `store`, `agent.imageref` and the top-level wiring (config, logs), never
`provisioning`, `spending`, `catalog`, `api`, `cli` or `ui`.
"""
