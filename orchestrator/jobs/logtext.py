"""How job output is stored: as text, escaped where a database cannot hold it (not byte-for-byte lossless).

Logs are bytes the job chose. The agent decodes them as UTF-8 (an invalid byte becomes U+FFFD) and ships text;
the daemon stores that text in `log_chunks.data` on SQLite and PostgreSQL alike. Two things in it cannot be
stored, and one NUL byte in a job's output used to make every log upload of that attempt fail on PostgreSQL
(`text fields cannot contain NUL`: 500 forever, the attempt lost and relaunched, billing a new instance):

- NUL (U+0000) is stored as U+2400 SYMBOL FOR NUL (`␀`), so its place stays visible in the log;
- a lone UTF-16 surrogate (JSON can carry `\\udcff`, UTF-8 cannot) is stored as U+FFFD.

Everything else is stored as sent: ANSI escape sequences, other control characters and very long lines (the
agent splits those into chunks) are kept, so the owner sees what the job printed. Why escape rather than store
bytes: the logs API, the CLI and the UI are text all the way, a NUL or a surrogate in them helps nobody, and the
same rule then holds on both databases with no schema change. The escape is applied by the daemon to whatever an
agent sends (an old or hostile agent included), so no log upload can fail on the data it carries.
"""

from __future__ import annotations

import re

NUL_SYMBOL = "\u2400"
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` as it is stored: NUL -> U+2400, lone surrogates -> U+FFFD, the rest unchanged (fast path: no copy)."""
    if "\x00" in text:
        text = text.replace("\x00", NUL_SYMBOL)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text
