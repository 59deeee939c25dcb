"""One place that builds boto3 clients: endpoint override, retries, timeouts.

Credentials come from the standard AWS chain only (environment, shared files, instance profile);
nothing here reads or logs a secret. boto3 clients are thread-safe but sessions are not, so
clients are created under a lock and cached per (service, region).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from providers.aws.config import AWSConfig


class ClientFactory:
    def __init__(self, config: AWSConfig) -> None:
        self.config = config
        self._session = boto3.session.Session(profile_name=config.profile)
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        # Standard mode retries throttling, 5xx and connection errors with backoff; the adapter
        # surfaces a classified error only once these attempts are spent.
        self._botocore = Config(
            retries={"mode": config.retry_mode, "total_max_attempts": config.max_attempts},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_pool_connections=max(10, config.max_workers * 2),
            user_agent_extra="spotwise",
        )

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                kwargs: dict[str, Any] = {"region_name": region, "config": self._botocore}
                if self.config.endpoint_url:
                    kwargs["endpoint_url"] = self.config.endpoint_url
                client = self._session.client(service, **kwargs)
                self._clients[key] = client
            return client

    @property
    def events(self) -> Any:
        """The session's event emitter: handlers registered here before the first call reach every client
        (each client copies the emitter when it is built). Tests inject responses and count calls here."""
        return self._session.events
