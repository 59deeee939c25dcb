"""What a valid container image reference is (the grammar of docker's distribution/reference), so that the
`image:` of a job spec can only ever name an image.

Why: the reference goes to `docker run` as an argument; `docker:--privileged` or `docker:-v/:/host` was passed
through as an option and gave a team's job the host. A reference here is `[DOMAIN/]PATH[:TAG][@DIGEST]`: path
components lowercase, a domain only when it has a dot or a port or is `localhost` (as docker decides), nothing
that starts with `-`, no whitespace.
"""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:localhost(?::[0-9]+)?|{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+)"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?"
_REFERENCE_RE = re.compile(rf"^{REFERENCE}$")


def is_image_reference(value: str) -> bool:
    """True for a reference `docker run` can only read as an image (never as an option)."""
    return len(value) <= 512 and bool(_REFERENCE_RE.match(value))
