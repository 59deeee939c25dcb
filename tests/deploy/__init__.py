"""The deployment files (Dockerfile, compose, Kubernetes, systemd, Grafana, Prometheus) and the metrics they read."""
