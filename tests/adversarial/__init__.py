"""Hostile and broken inputs fail alone: malformed specs, broken commands, wedged output, other teams' files."""
