"""Cloud adapters behind one protocol (`providers.base.Provider`)."""
