"""The Provider contract suite, run against the local provider and an out-of-tree toy cloud."""
