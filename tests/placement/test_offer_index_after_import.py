"""After `catalog import` the offers index is already current: the first `offers` query reloads nothing.

Why: the first `spotwise offers` after importing GCP's vms.csv (60,875 rows) reloaded every row and rebuilt the
index (3.2 s), later ones took milliseconds. The import now leaves the index built; these tests check that it
is the one the next query uses, and that it holds exactly what a full reload from the database would.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.catalog.pricing import LIVE, OfferCache, store_offers
from orchestrator.catalog.vmscsv import read_vms_csv
from orchestrator.config import Settings
from orchestrator.runtime import build_runtime
from orchestrator.store.db import transaction
from orchestrator.tokens import create_api_token
from providers.base import Offer

GCP_CSV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "catalog" / "gcp" / "vms.csv"
pytestmark = pytest.mark.skipif(not GCP_CSV.exists(), reason=f"shared GCP catalog not found at {GCP_CSV}")


def _head(lines: int) -> str:
    with GCP_CSV.open() as handle:
        return "".join(line for _, line in zip(range(lines), handle, strict=False))


def _key(o: Offer) -> tuple[Any, ...]:
    return (o.pool, o.price_per_hour, o.source, o.gpu_model, o.gpu_count, o.vcpus, o.memory_gb, o.on_demand_price)


def test_the_index_is_current_when_the_import_answers(tmp_path: Path) -> None:
    rt = build_runtime(Settings(home=tmp_path, providers={}), with_providers=False)
    with transaction(rt.sessions) as s:
        _, token = create_api_token(s, role="admin", team=None, name="test")
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    try:
        assert client.get("/v1/offers").json()["offers_cached"] == 0  # the API's cache exists (and is empty)
        text = _head(6000)
        parsed, _ = read_vms_csv(text, "gcp")
        # A pool priced live too: a reload keeps the live row, not the catalog's, and so must the import.
        live = dataclasses.replace(parsed[0], price_per_hour=9.99, source=LIVE)
        with transaction(rt.sessions) as s:
            store_offers(s, "gcp", LIVE, [live])
        for _ in range(2):  # a first import, then a re-import replacing it
            answer = client.post("/v1/catalog/import", params={"cloud": "gcp", "name": "head.csv"},
                                 content=text.encode())
            assert answer.status_code == 200, answer.text
            cache: OfferCache = client.app.state.offer_cache  # type: ignore[attr-defined]
            built = cache.index
            assert built is not None and cache.get(rt.sessions) is built  # the next query reuses it: no reload
            reloaded = OfferCache()
            assert reloaded.get(rt.sessions).size == built.size == answer.json()["offers"]
            assert sorted(map(_key, cache.offers or [])) == sorted(map(_key, reloaded.offers or []))
            assert [_key(o) for o in cache.offers or [] if o.pool == live.pool] == [_key(live)]
            query = {"cloud": "gcp", "limit": 20}
            first = client.get("/v1/offers", params=query).json()
            assert first["offers_cached"] == built.size and first["items"]
            assert [i["price_per_hour"] for i in first["items"]] == [
                r.offer.price_per_hour for r in reloaded.get(rt.sessions).rank(_request(query), limit=20)]
    finally:
        client.close()
        rt.close()


def _request(query: dict[str, Any]) -> Any:
    from policies.placement import PlacementRequest

    return PlacementRequest(gpu_model=None, gpu_count=0, spot="auto", clouds=(query["cloud"],))
