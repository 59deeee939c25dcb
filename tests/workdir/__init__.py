"""Packing and unpacking a job's workdir, and running it in a container."""
