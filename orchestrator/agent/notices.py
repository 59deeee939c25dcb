"""Preemption notices as the agent sees them: one watcher, named by SPOTWISE_NOTICE=KIND[:ARG].

Each cloud brings its own watcher in its package (providers/<cloud>/notices.py: AWS IMDSv2, GCE metadata long
polls, Azure Scheduled Events, the local provider's notice file; a plugin installed by entry point may bring
another); the agent asks the cloud plugin registry for KIND's, so adding a cloud touches nothing here.
`aws:URL`, `gcp:URL` and `azure:URL` point a watcher at another metadata address (tests use fake servers).
"""

from __future__ import annotations

from providers.notice import HINTS, HOST_MAINTENANCE, HOST_MIGRATION, REBALANCE, Notice, NoticeWatcher
from providers.plugin import watcher_for

__all__ = ["HINTS", "HOST_MAINTENANCE", "HOST_MIGRATION", "REBALANCE", "Notice", "NoticeWatcher", "watcher_for"]
