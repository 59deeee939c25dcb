"""Catalog: what capacity exists and what it costs.

The price catalog service that refreshes each provider's offers on its own interval (`pricing`), their storage
(`price_store`), offline price lists in SkyPilot's `vms.csv` format (`vmscsv`) and the zone-ID-to-name mapping that
makes imported rows the same pools as live ones (`zones`). Kept apart from the lifecycle of an instance, which is
`provisioning`'s. `catalog` may import `jobs`, `alerts`, `store` and the top-level wiring, never `provisioning`,
`spending`, `api`, `cli` or `ui`. Imported by `provisioning` (offers to place on), the API, the CLI's `simulate`,
the simulator (prices from a vms.csv) and the daemon (the price loop).
"""
