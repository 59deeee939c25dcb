"""The docs say what the code does: links, YAML, commands, generated pages (policies, alerts, architecture)."""
