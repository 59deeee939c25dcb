"""Checkpoint and workdir storage against real object stores (local files, moto S3, GCS and Azure emulators)."""
