"""Single modules and cross-cutting rules (import layering, runtime imports, CLI help) that need no daemon."""
