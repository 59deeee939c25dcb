"""toycloud: an out-of-tree cloud, declared the way any third-party Spotwise cloud is (docs/adding-a-provider.md).

Nothing in the project names it: the entry point in ../toycloud-0.1.dist-info registers `PLUGIN`, and the core
finds its provider, notice watcher and `toy://` store through providers/plugin.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from providers.notice import NoticeWatcher
from providers.objectstore import ObjectStore
from providers.plugin import CloudPlugin


def _watcher(arg: str) -> NoticeWatcher | None:
    from toycloud.notices import ToyNoticeFile

    return ToyNoticeFile(Path(arg)) if arg else None


def _store(bucket: str, prefix: str, **options: Any) -> ObjectStore:
    from toycloud.storage import ToyStore

    return ToyStore(bucket, prefix, **options)


PLUGIN = CloudPlugin(
    name="toycloud",
    provider="toycloud.provider:ToyProvider",
    notice_watcher=_watcher,
    storage_schemes={"toy": _store},
)
