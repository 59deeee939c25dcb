"""One way to print an amount of money: never `$0.00` for an amount that is not zero.

Why: budgets and caps on small or test workloads are fractions of a cent; "$0.00 spent of $0.00 (700%)" told a
team lead nothing. Amounts of a dollar or more get cents; smaller ones get two significant digits (as many
decimals as that takes, up to 8), so `$0.0035 spent of $0.0005` reads as it should. Pure.
"""

from __future__ import annotations

import math

MAX_DECIMALS = 8


def usd(amount: float) -> str:
    """`$12.34`, `$0.50`, `$0.0035`, `-$0.012`; `$0.00` only for zero, `<$0.00000001` below that."""
    if amount == 0 or not math.isfinite(amount):
        return "$0.00" if amount == 0 else f"${amount}"
    sign, size = ("-" if amount < 0 else ""), abs(amount)
    if size >= 1:
        return f"{sign}${size:.2f}"
    decimals = max(2, -math.floor(math.log10(size)) + 1)
    if decimals > MAX_DECIMALS:
        return f"{sign}<${10 ** -MAX_DECIMALS:.{MAX_DECIMALS}f}"
    text = f"{size:.{decimals}f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")  # 0.0050 -> 0.005, 0.10 stays 0.10
    return f"{sign}${whole}.{fraction}"


def rate(amount_per_hour: float) -> str:
    """A price per hour, with the same precision rule: `$2.48/h`, `$0.0012/h`."""
    return usd(amount_per_hour) + "/h"
