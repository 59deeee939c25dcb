"""Property-based fuzzing of the API from its OpenAPI schema (schemathesis)."""
