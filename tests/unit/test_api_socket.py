"""The daemon's API socket: bound first (a port in use is one line before any work), listening last."""

from __future__ import annotations

import socket

import pytest

from orchestrator.daemon import bind_api_socket, start_listening
from orchestrator.runtime import StartupError


def test_a_bound_socket_refuses_connections_until_it_listens() -> None:
    """While a replica migrates, clients and proxies get 'refused' and move on, instead of waiting on a queue."""
    sock = bind_api_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        start_listening(sock, "127.0.0.1", port)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        sock.close()


def test_two_daemons_racing_for_one_port_the_second_is_told_at_listen() -> None:
    """SO_REUSEADDR (restarts need it) lets a second process bind before the first listens: listen() says so."""
    first = bind_api_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = bind_api_socket("127.0.0.1", port)
    try:
        start_listening(first, "127.0.0.1", port)
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use; another"):
            start_listening(second, "127.0.0.1", port)
        with pytest.raises(StartupError, match="Address already in use"):  # and a late starter at bind
            bind_api_socket("127.0.0.1", port)
    finally:
        first.close()
        second.close()
