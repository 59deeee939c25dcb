"""toycloud: an out-of-tree cloud, declared the way any third-party Spotwise cloud is (docs/adding-a-provider.md).

Nothing in the project names it: the entry point in ../toycloud-0.1.dist-info registers `PLUGIN`, and the core
finds its provider, notice watcher, `toy://` store, catalog variant, grid carbon and egress figures, bucket
locator, instance identity proof and SkyPilot name through providers/plugin.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from providers.notice import NoticeWatcher
from providers.objectstore import ObjectStore
from providers.plugin import CloudPlugin, Figure


def _watcher(arg: str) -> NoticeWatcher | None:
    from toycloud.notices import ToyNoticeFile

    return ToyNoticeFile(Path(arg)) if arg else None


def _store(bucket: str, prefix: str, **options: Any) -> ObjectStore:
    from toycloud.storage import ToyStore

    return ToyStore(bucket, prefix, **options)


def _bucket_region(bucket: str, provider: Any) -> str:
    """A toy bucket's region: the `.region` file in its directory (the "storage API" of a directory store)."""
    return (Path(os.environ["TOYCLOUD_STORE_ROOT"]) / bucket / ".region").read_text().strip()


def _row_filter(gpu_info: str, arch: str) -> str | None:
    return f"{arch} type (toycloud runs x86_64 only)" if arch and arch != "x86_64" else None


_PRICES = "https://toycloud.example/pricing"

PLUGIN = CloudPlugin(
    name="toycloud",
    provider="toycloud.provider:ToyProvider",
    notice_watcher=_watcher,
    storage_schemes={"toy": _store},
    vms_csv="generic",
    catalog_row_filter=_row_filter,
    grid_carbon={"source": "toycloud's own figures", "year": 2026, "pue": 1.2, "pue_source": "toycloud",
                 "regions": {"toy-east": {"g_per_kwh": 123.0, "location": "Toytown"}}},
    egress={"same_region": Figure(0.0, _PRICES, "as of 2026-12-01"),
            "cross_region": Figure(0.01, _PRICES, "as of 2026-12-01"),
            "internet": Figure(0.05, _PRICES, "as of 2026-12-01")},
    bucket_schemes={"toy": "toy"},
    bucket_region=_bucket_region,
    identity="toycloud.identity",
    skypilot_name="toy",
)
