"""docs/policies.md, generated from the policy file's pydantic models so the reference cannot drift from the parser.

Why generated: the models in `orchestrator/spending/policyfile.py` are what `spotwise policy apply` validates against; a
hand-written table would fall behind the first time a field is added. Every field must carry a description
(the test fails otherwise), and the test compares the committed page with this output.

    python -m orchestrator.spending.policydoc            # print the page
    python -m orchestrator.spending.policydoc --write    # rewrite docs/policies.md
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from orchestrator.formats import modeldoc
from orchestrator.spending.policyfile import Budget, Cap, IdleRule, PolicyFile, Threshold

PAGE = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
DURATIONS = {"max_runtime", "window", "grace"}
PLURALS = {"Budget": ("budgets", "budgets"), "Cap": ("caps", "caps"), "IdleRule": ("idle rules", "idle"),
           "Threshold": ("thresholds", "thresholds")}
#: (heading, the key it sits under in the file, model), in page order.
SECTIONS: list[tuple[str, str, type[BaseModel]]] = [
    ("Top level", "", PolicyFile), ("budgets", "budgets:", Budget), ("thresholds", "budgets[].thresholds:", Threshold),
    ("caps", "caps:", Cap), ("idle", "idle:", IdleRule)]

INTRO = """\
# The policy file: every key

<!-- Generated from orchestrator/spending/policyfile.py by `python -m orchestrator.spending.policydoc --write`;
do not edit. -->

Budgets, caps and idle rules live in one YAML file. `spotwise policy diff FILE` shows what would change
and what the new file would do at once (`now: the max_runtime cap stops 1 running job (j-...) of team
sandbox`); `spotwise policy apply FILE` applies it as a new version (refused whole, with every problem named
by line and field, when anything is wrong; a file that stops or blocks something at once is applied only
after you confirm, or with `--yes`); `spotwise policy history` lists the versions. What each rule
guarantees (the overspend bound, checkpoint before a stop) is in [spending.md](spending.md); the alerts
they raise are in [alerts.md](alerts.md).

```yaml
budgets:
  - name: vision-weekly
    scope: team:vision
    period: weekly
    timezone: Europe/Berlin
    limit_usd: 2500
    thresholds:
      - {percent: 80, action: alert}
      - {percent: 100, action: block_new}
      - {percent: 110, action: stop}
  - {name: sandbox-daily, scope: team:sandbox, period: daily, limit_usd: 20, forecast_alert: false}
caps:
  - {scope: global, max_price_per_hour: 40, max_runtime: 72h}
  - {scope: team:interns, max_cost_per_job: 50, max_priority: 0}
idle:
  - {scope: label:notebook=true, gpu_utilization_below: 10, window: 10m, grace: 5m}
  - {scope: global, window: 20m, grace: 10m}
dry_run: false
max_actions_per_sweep: 50
```

**Scopes** pick the jobs a rule applies to: `global` (every job), `team:NAME`, `project:NAME` or
`label:KEY=VALUE` (a job's `labels`). **Durations** are seconds or a number with `s`, `m`, `h` or `d`
(`90s`, `10m`, `48h`, `1d`). **Amounts** are US dollars. Unknown keys are refused with the valid ones.
"""


def type_text(annotation: Any, name: str) -> str:
    """A reader's name for a field's type: `alert`, `block_new` or `stop`; number; list of ..."""
    if name in DURATIONS:
        return "duration"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_text(a, name) for a in args if a is not type(None))
    if origin is list:
        noun, anchor = PLURALS[args[0].__name__]
        return f"list of [{noun}](#{anchor})"
    return modeldoc.SCALAR_NAMES.get(annotation, str(annotation))


def _plain(value: Any) -> Any:
    """Whole floats as integers, models as mappings: `{percent: 100, action: alert}`, not `100.0`."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def default_text(field: Any, name: str) -> str:
    def shown(value: Any) -> str:
        text = yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False, width=1000)
        return "`" + text.strip().removesuffix("...").strip() + "`" + (" s" if name in DURATIONS else "")

    return modeldoc.default_text(field, shown)


def section(heading: str, key: str, model: type[BaseModel]) -> str:
    doc = " ".join((model.__doc__ or "").split())
    rows = [(name, type_text(field.annotation, name), default_text(field, name), field.description)
            for name, field in model.model_fields.items()]
    lines = [f"## {heading}", "", (f"Each item under `{key}`. " if key else "") + doc, "",
             *modeldoc.table("key", rows)]
    return "\n".join(lines) + "\n"


def undocumented() -> list[str]:
    """Every policy field without a description."""
    return modeldoc.undocumented((model, model.model_fields) for _, _, model in SECTIONS)


def render() -> str:
    return INTRO + "".join("\n" + section(*s) for s in SECTIONS)


def problems() -> list[str]:
    missing = undocumented()
    return [f"fields without a description: {', '.join(missing)}"] if missing else []


def main(argv: list[str]) -> int:
    return modeldoc.command(argv, module="orchestrator.spending.policydoc", page=PAGE, render=render,
                            problems=problems)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
