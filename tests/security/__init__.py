"""Authorization matrix, bootstrap exchange and identity signatures, rate limits, secrets never shown."""
