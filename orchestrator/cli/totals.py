"""The expected-total breakdown table shared by `spotwise offers --for JOB` and `spotwise submit --dry-run`."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def totals_table(items: list[dict[str, Any]], title: str) -> Table:
    """One row per offer: price, what must move, egress, transfer minutes, expected re-transfers and the total."""
    table = Table(title=title, title_justify="left")
    numeric = ("$/H", "EXPECTED $/H", "TRANSFER GB", "EGRESS $", "TRANSFER MIN", "RE-TRANSFER $", "EXPECTED TOTAL $")
    for column in ("#", "CLOUD", "REGION", "ZONE", "TYPE", "MARKET") + numeric + ("RATE",):
        table.add_column(column, justify="right" if column in numeric or column == "#" else "left", no_wrap=True)
    for n, o in enumerate(items, 1):
        t = o.get("total") or {}
        table.add_row(str(n), o["cloud"], o["region"], o["zone"], o["instance_type"],
                      "spot" if o["spot"] else "on-demand", f"{o['price_per_hour']:.4f}",
                      f"{o['expected_cost']:.4f}", f"{t.get('transfer_gb', 0):.1f}", f"{t.get('egress_usd', 0):.2f}",
                      f"{t.get('transfer_minutes', 0):.1f}", f"{t.get('retransfer_usd', 0):.2f}",
                      f"{t.get('expected_total_usd', 0):.2f}", str(t.get("transfer_rate_source", "-")))
    return table
