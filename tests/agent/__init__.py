"""The on-instance agent against fake metadata servers: identity proofs, notices, gang rendezvous, containers."""
