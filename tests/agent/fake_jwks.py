"""A fake of Google's JWKS endpoint (https://www.googleapis.com/oauth2/v3/certs) over real local HTTP.

Like Google's, it answers `{"keys": [...]}` with `Cache-Control: public, max-age=N`
(https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken); it counts the fetches
so a test can see the daemon's cache and its refetch on an unknown key id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.agent.cloud_keys import jwk


@dataclass
class JwksState:
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)  # kid -> key (the public half is served)
    max_age: int = 3600
    fetches: int = 0


def start_jwks_server(state: JwksState) -> tuple[str, ThreadingHTTPServer]:
    """Serve `state` at http://127.0.0.1:PORT/oauth2/v3/certs in a daemon thread; (that URL, the server)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/oauth2/v3/certs":
                self.send_response(404)
                self.end_headers()
                return
            state.fetches += 1
            body = json.dumps({"keys": [jwk(kid, key) for kid, key in state.keys.items()]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", f"public, max-age={state.max_age}, must-revalidate, no-transform")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/oauth2/v3/certs", server


@contextmanager
def fake_jwks_server(state: JwksState) -> Iterator[str]:
    """start_jwks_server for the length of a `with`; yields the URL."""
    url, server = start_jwks_server(state)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
