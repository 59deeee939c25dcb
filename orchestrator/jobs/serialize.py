"""Plain-JSON forms of provider data kept in the store (an attempt remembers its whole offer)."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from providers.base import Offer


def offer_to_json(offer: Offer) -> dict[str, Any]:
    data = asdict(offer)
    data["price_fetched_at"] = offer.price_fetched_at.isoformat()
    return data


def offer_from_json(data: dict[str, Any]) -> Offer:
    known = {f.name for f in fields(Offer)}
    values = {k: v for k, v in data.items() if k in known}
    values["price_fetched_at"] = datetime.fromisoformat(values["price_fetched_at"])
    return Offer(**values)
