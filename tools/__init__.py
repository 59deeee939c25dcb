"""Developer tools that read the repository: not shipped in the wheel, never imported by the product.

`importgraph` reads who imports whom from the source (per module and per folder of `orchestrator/`), `layering`
holds the allowed directions between those folders, and `archgraph` draws them into docs/architecture.md
(`python -m tools.archgraph --write`). Only the tests (tests/unit/test_import_rules.py, tests/docs/
test_architecture_doc.py) import them; they import nothing of Spotwise but read its files.
"""
