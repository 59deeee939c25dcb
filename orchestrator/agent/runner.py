"""Run one shell command as the job, pumping its stdout/stderr to the daemon in ordered chunks."""

from __future__ import annotations

import codecs
import contextlib
import errno
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from typing import IO

from orchestrator.agent.client import AgentClient, DaemonRefused

MAX_BUFFERED_BYTES = 8 * 2**20  # what we keep while the daemon is unreachable; oldest dropped first
CHUNK_BYTES = 64_000


MAX_BATCH_JSON_BYTES = 600_000  # under the daemon's default 1 MB request limit (max_request_bytes)
MAX_BATCHES_PER_ROUND = 64


def _next_batch(pending: deque[dict[str, object]]) -> list[dict[str, object]]:
    """The oldest chunks whose JSON (escapes of NUL and control characters counted) fits MAX_BATCH_JSON_BYTES; at
    least one, whose JSON stays under the daemon's limit even with every one of its CHUNK_BYTES characters escaped."""
    batch: list[dict[str, object]] = []
    size = 0
    for chunk in itertools.islice(pending, 200):
        cost = len(json.dumps(chunk["data"]))
        if batch and size + cost > MAX_BATCH_JSON_BYTES:
            break
        batch.append(chunk)
        size += cost
    return batch


class LogPump:
    """Collects output lines and ships them in batches; seq numbers make re-sends idempotent."""

    def __init__(self, client: AgentClient, interval: float = 0.5, prefix: str = "") -> None:
        self.client = client
        self.interval = interval
        self.prefix = prefix  # "(rank N) " on a gang node: the job's log interleaves every node's lines
        self._pending: deque[dict[str, object]] = deque()
        self._partial: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._seq = {"stdout": 0, "stderr": 0}
        self._buffered = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def write(self, stream: str, text: str) -> None:
        with self._lock:
            self._partial[stream].append(self.prefix + text if self.prefix else text)
            if sum(len(t) for t in self._partial[stream]) >= CHUNK_BYTES:
                self._seal(stream)

    def _seal(self, stream: str) -> None:
        if not self._partial[stream]:
            return
        text = "".join(self._partial[stream])
        self._partial[stream] = []
        for start in range(0, len(text), CHUNK_BYTES):  # a 10 MB line goes as many chunks the daemon accepts
            data = text[start:start + CHUNK_BYTES]
            self._pending.append({"stream": stream, "seq": self._seq[stream], "data": data})
            self._seq[stream] += 1
            self._buffered += len(data)
        while self._buffered > MAX_BUFFERED_BYTES and len(self._pending) > 1:
            dropped = self._pending.popleft()
            self._buffered -= len(str(dropped["data"]))

    def _ship(self) -> None:
        """Send what is pending in batches that fit the daemon's request limit, until none is left."""
        with self._lock:
            for stream in self._partial:
                self._seal(stream)
        for _ in range(MAX_BATCHES_PER_ROUND):
            with self._lock:
                batch = _next_batch(self._pending)
            if not batch:
                return
            try:
                self.client.logs(batch)
            except TimeoutError:
                return  # kept for the next round
            except DaemonRefused as exc:  # final: re-sending the same batch would be refused forever
                print(f"spotwise-agent: the daemon refused {len(batch)} log chunk(s), dropped: {exc}",
                      file=sys.stderr)
            with self._lock:
                for _ in batch:
                    done = self._pending.popleft()
                    self._buffered -= len(str(done["data"]))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._ship()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for _ in range(20):
            self._ship()
            if not self._pending:
                return


def _read_stream(pipe: IO[bytes], stream: str, pump: LogPump) -> None:
    """Lines (at most CHUNK_BYTES at a time, so a 10 MB line never sits whole in memory) decoded as UTF-8; an
    invalid byte becomes U+FFFD. A character split between two reads is kept whole by the incremental decoder."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for raw in iter(lambda: pipe.readline(CHUNK_BYTES), b""):
        text = decoder.decode(raw)
        if text:
            pump.write(stream, text)
    tail = decoder.decode(b"", final=True)
    if tail:
        pump.write(stream, tail)
    pipe.close()


def start_failure(what: str, exc: OSError | ValueError) -> tuple[int, str]:
    """(exit code, message) when the job could not start because of `what` of its own spec (its run command, its
    checkpoint.dir, ...), reported like a shell would (127: not found; 126: not executable, arguments too long, a NUL
    byte), so the daemon counts it as the job's user failure, never an infrastructure one that blocks a pool."""
    if isinstance(exc, FileNotFoundError):
        code, why = 127, "something it needs was not found (check env PATH and the workdir)"
    elif isinstance(exc, OSError) and exc.errno == errno.E2BIG:
        code, why = 126, "too long for the kernel (E2BIG)"
    else:
        code, why = 126, "cannot be used"
    return code, f"the job could not start: its {what}: {why}: {exc}"


class JobProcess:
    """`bash -c COMMAND` in its own process group, so a stop reaches everything the job started."""

    def __init__(self, command: str, *, cwd: str, env: dict[str, str], pump: LogPump) -> None:
        self.proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=_read_stream, args=(self.proc.stdout, "stdout", pump), daemon=True),
            threading.Thread(target=_read_stream, args=(self.proc.stderr, "stderr", pump), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, grace_seconds: float, sig: int = 15) -> None:  # 15: SIGTERM (`signal` is a method here)
        """Signal the group (SIGTERM unless the spec names another), then SIGKILL what is left after the grace."""
        self.signal(sig)
        deadline = time.monotonic() + grace_seconds
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.signal(signal.SIGKILL)

    def wait(self) -> int:
        code = self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        return code
