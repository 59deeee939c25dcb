"""Placement: ranking offers, deadline fallback, fail-over, total cost, price refresh and its properties."""
