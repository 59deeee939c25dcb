"""Time arithmetic and label lookups inside SQL for the ledger's aggregates, exact on SQLite and PostgreSQL.

Why not `julianday()` on SQLite: it rounds every timestamp to the millisecond, so an entry that
starts at 23:59:59.9996 would land on the next day and a 0.9996 s tail would count as a whole
second. Our UTC columns are stored by SQLAlchemy as 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite, so
the whole-second part and the microseconds are read separately and never rounded. PostgreSQL's
interval arithmetic is exact to the microsecond already.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

# SQLite pieces of a stored UTC timestamp x: whole seconds since the epoch, and the microseconds.
_EPOCH = "CAST(strftime('%s', substr({x}, 1, 19)) AS INTEGER)"
_MICROS = "CAST(substr({x}, 21) AS INTEGER)"


class seconds_between(FunctionElement[float]):  # noqa: N801 - used like a SQL function
    """`end - start` in seconds (float), for two UTC timestamp expressions: seconds_between(start, end)."""

    type = Float()
    inherit_cache = True


class utc_day(FunctionElement[str]):  # noqa: N801 - used like a SQL function
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD' text."""

    type = String()
    inherit_cache = True


class one_second_before(FunctionElement[Any]):  # noqa: N801 - used like a SQL function
    """A UTC timestamp minus one second, in the column's own stored form (so it compares exactly)."""

    inherit_cache = True


def _templates(construct: type[FunctionElement[Any]], **by_dialect: str) -> None:
    """Compile `construct` on each dialect by filling its template with the compiled arguments
    ({0}, {1}, ...); any other dialect is a clear CompileError, not wrong SQL."""
    for dialect, template in by_dialect.items():
        def compile_(element: FunctionElement[Any], compiler: Any, _template: str = template, **kw: Any) -> str:
            return _template.format(*(compiler.process(arg, **kw) for arg in element.clauses))
        compiles(construct, dialect)(compile_)

    def unsupported(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
        raise CompileError(f"{construct.__name__} supports {', '.join(by_dialect)} only, not {compiler.dialect.name}")
    compiles(construct)(unsupported)


_templates(
    seconds_between,
    sqlite="(({e1} - {e0}) + ({m1} - {m0}) / 1000000.0)".format(
        e0=_EPOCH.format(x="{0}"), e1=_EPOCH.format(x="{1}"), m0=_MICROS.format(x="{0}"), m1=_MICROS.format(x="{1}")),
    postgresql="CAST(EXTRACT(EPOCH FROM ({1} - {0})) AS DOUBLE PRECISION)",
)
_templates(utc_day, sqlite="substr({0}, 1, 10)", postgresql="CAST(CAST({0} AS DATE) AS TEXT)")
_templates(
    one_second_before,
    sqlite="(strftime('%Y-%m-%d %H:%M:%S', substr({0}, 1, 19), '-1 seconds') || substr({0}, 20))",
    postgresql="({0} - INTERVAL '1 second')",
)


class json_label(FunctionElement[str]):  # noqa: N801 - used like a SQL function
    """A job spec's label as text: json_label(Job.spec, key). NULL when the label is absent, or is not a
    JSON string -- so `json_label(spec, k) == v` holds exactly when Python's `labels.get(k) == v` does
    (a plain JSON extract would also turn a number 5 into '5')."""

    type = String()
    inherit_cache = True


# SQLite: json_each, not a path: a path matches the key's stored text, and a key stored escaped ("\u00fc")
# would never match; json_each yields keys decoded.
_templates(
    json_label,
    sqlite="(SELECT value FROM json_each({0}, '$.labels') WHERE key = {1} AND type = 'text')",
    postgresql="(CASE WHEN json_typeof(({0} -> 'labels') -> CAST({1} AS TEXT)) = 'string' "
               "THEN ({0} -> 'labels') ->> CAST({1} AS TEXT) END)",
)
