"""`spotwise submit --dry-run`: where the job would go now, without queueing it (the daemon's `?dry_run=true`, asked by
`Client.dry_run`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def show(console: Console, result: dict[str, Any]) -> None:
    """The best offers (at most three) with price and reason, and that nothing was queued."""
    what = result.get("accelerators") or "no GPU"
    console.print(f"dry run for [bold]{result['name']}[/] ({what}, team {result['team']}): nothing was queued",
                  highlight=False)
    if result.get("note"):
        console.print(f"  note: {result['note']}", highlight=False)
    offers = result.get("offers") or []
    if not offers:
        return
    table = Table(title="where it would go now", title_justify="left")
    for column in ("#", "CLOUD", "ZONE", "TYPE", "MARKET", "$/H", "EXPECTED $/H", "REASON"):
        table.add_column(column)
    for n, o in enumerate(offers, 1):
        table.add_row(str(n), o["cloud"], o["zone"], o["instance_type"], "spot" if o["spot"] else "on-demand",
                      f"{o['price_per_hour']:.4f}", f"{o['expected_cost']:.4f}", o["reason"])
    console.print(table)
    if any(o.get("total") for o in offers):
        from orchestrator.cli.totals import totals_table

        console.print(totals_table(offers, f"expected total cost to finish ({result.get('horizon', '')})"))
        console.print(f"winner: {result.get('winner_reason', '')}", highlight=False)
