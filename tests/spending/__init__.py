"""Money: the ledger and its sums, budgets and their scopes, caps and stops, idle shutdowns, alerts and sinks."""
