"""YAML for the files people write (job specs, policies, the daemon's config): a key given twice is an error.

Why: YAML (and PyYAML's safe_load) keeps the last of a repeated key without a word, so a second `limit_usd:`
or `providers:` silently replaced the first. Every file Spotwise reads from a person goes through `load_strict`.
"""

from __future__ import annotations

from typing import Any

import yaml


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses duplicate keys, naming the key and the line it was first given on."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *base' overrides are YAML's own feature, not duplicates
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first}); give each field once",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_strict(text: str) -> Any:
    """yaml.safe_load, but a repeated key raises yaml.YAMLError (ConstructorError) at the repeat."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
