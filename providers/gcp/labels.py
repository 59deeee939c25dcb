"""Spotwise tags <-> GCE labels.

GCE labels allow only lowercase [a-z0-9_-], at most 63 characters, and keys must start with a
letter. Spotwise ids are already lowercase alnum + '-', so for them this is a no-op check. Any
other value is sanitised deterministically (lowercase, invalid characters -> '-', and when that
changed anything a short hash of the original appended so two different values never share a
label). The exact original tags travel in instance metadata (`spotwise-tags`, JSON), which is how
`InstanceInfo.tags` gives back the values the daemon set; labels are what filters match.
"""

from __future__ import annotations

import hashlib
import json
import re

from providers.base import TAG_ATTEMPT, TAG_CLUSTER, TAG_JOB

TAGS_METADATA_KEY = "spotwise-tags"
MAX_LEN = 63
_VALUE_OK = re.compile(r"^[a-z0-9_-]{0,63}$")
_KEY_OK = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_INVALID = re.compile(r"[^a-z0-9_-]")
MANAGED_KEYS = (TAG_CLUSTER, TAG_JOB, TAG_ATTEMPT)


def label_value(value: str) -> str:
    """A valid label value for `value`; unchanged when it is already valid."""
    if _VALUE_OK.match(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    cleaned = _INVALID.sub("-", value.lower())[: MAX_LEN - len(digest) - 1]
    return f"{cleaned}-{digest}"


def label_key(key: str) -> str:
    """A valid label key for `key`; our own keys are valid already."""
    if _KEY_OK.match(key):
        return key
    value = label_value(key)
    return value if value[:1].isalpha() else ("k" + value)[:MAX_LEN]


def to_labels(tags: dict[str, str]) -> dict[str, str]:
    return {label_key(k): label_value(v) for k, v in tags.items()}


def tags_metadata(tags: dict[str, str]) -> str:
    return json.dumps(tags, sort_keys=True, separators=(",", ":"))


def from_instance(labels: dict[str, str], metadata_tags: str | None) -> dict[str, str]:
    """The original tags: from metadata when it agrees with the labels, else the labels themselves."""
    if metadata_tags:
        try:
            tags = json.loads(metadata_tags)
        except ValueError:
            tags = None
        if isinstance(tags, dict) and to_labels({k: str(v) for k, v in tags.items()}).items() <= labels.items():
            return {k: str(v) for k, v in tags.items()}
    return dict(labels)


def cluster_filter(cluster_id: str) -> str:
    """The list filter that selects one cluster's instances server-side."""
    return f'labels.{TAG_CLUSTER} = "{label_value(cluster_id)}"'
