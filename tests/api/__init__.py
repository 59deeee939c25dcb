"""The REST API through HTTP: jobs, submit batches, validation, providers, workdirs and secrets, throughput paths."""
