"""Test scaffolding for several `spotwise serve` replicas: a TCP "Service" in front, a webhook receiver.

The proxy plays a Kubernetes Service: each connection goes to the next replica that accepts it,
so agents and clients keep working when a replica dies (as `public_url` would point at the Service).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from orchestrator.cli.client import CliError
from orchestrator.cli.demo import free_port, start_daemon, stop_daemon, wait_healthy


@dataclass
class Replica:
    """One `spotwise serve` process with its own home (config.yaml there) and port."""

    home: Path
    config: dict[str, Any]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        share_keys(self.home, self.home.parent / "shared-keys")
        (self.home / "config.yaml").write_text(yaml.safe_dump(self.config))
        self.proc = start_daemon(self.home, self.port, {"SPOTWISE_RECONCILE_INTERVAL_SECONDS": "0.5"})
        if wait:
            self.wait_healthy()

    def wait_healthy(self) -> None:
        """Wait for /healthz; a replica that dies starting fails with the end of its log, the only clue in CI."""
        assert self.proc is not None
        try:
            wait_healthy(self.url, self.proc, timeout=90)
        except CliError as exc:
            log = self.home / "daemon.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no daemon.log)"
            raise AssertionError(f"{exc}; {self.home.name}'s daemon.log ends:\n{tail}") from None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_daemon(self.proc)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def leads(self) -> set[str]:
        """The loops whose lease this replica holds, from its /metrics."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        return set(re.findall(r'^spotwise_loop_leader\{loop="([^"]+)"\} 1\.0$', text, re.M))


def share_keys(home: Path, source: Path) -> None:
    """Give a replica's home the keys every replica of the cluster shares (as a deployment mounts them from one
    secret): the agent-token key and the secrets key, made once under `source`."""
    import secrets as random

    from cryptography.fernet import Fernet

    source.mkdir(parents=True, exist_ok=True)
    made = {"agent-token.key": random.token_hex(32), "secrets.key": Fernet.generate_key().decode()}
    home.mkdir(parents=True, exist_ok=True)
    for name, fresh in made.items():
        if not (source / name).exists():
            (source / name).write_text(fresh + "\n")
        if not (home / name).exists():
            (home / name).write_text((source / name).read_text())
            (home / name).chmod(0o600)


class Proxy:
    """Round-robin TCP forwarder over the live replicas (a connection refused tries the next one)."""

    def __init__(self, backends: list[Replica]) -> None:
        self.backends = backends
        self.port = free_port()
        self._rr = itertools.count()
        self._server = socket.create_server(("127.0.0.1", self.port), backlog=256)
        threading.Thread(target=self._accept, daemon=True, name="proxy").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        start = next(self._rr)
        for i in range(len(self.backends)):
            backend = self.backends[(start + i) % len(self.backends)]
            try:
                upstream = socket.create_connection(("127.0.0.1", backend.port), timeout=2)
                break
            except OSError:
                continue
        else:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self._server.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class Webhook:
    """Receives alert webhooks; counts deliveries per event id."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received[self.headers.get("X-Spotwise-Event-Id") or json.loads(body).get("id", "?")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
