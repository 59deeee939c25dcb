"""Formats of the files people write (job specs, policy files, the daemon's config) and of their references.

`strictyaml` reads YAML refusing what a hand-written file gets wrong silently elsewhere (a key given twice);
`modeldoc` renders a pydantic model's fields as the markdown reference tables that docs/policies.md and
docs/alerts.md are generated from, and fails on a field without a description. Leaves: they import nothing of
Spotwise, and any folder may import them.
"""
