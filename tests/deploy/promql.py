"""A light PromQL reader for the deploy files' tests: the metric names an expression reads, and the mistakes a
reviewer would catch by eye (unbalanced brackets, a misspelt function). `promtool check rules` is the full
check where it is installed; this runs everywhere.
"""

from __future__ import annotations

import re

#: PromQL's functions (https://prometheus.io/docs/prometheus/latest/querying/functions/) and aggregation
#: operators (https://prometheus.io/docs/prometheus/latest/querying/operators/#aggregation-operators).
FUNCTIONS = frozenset([
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "histogram_avg",
    "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar",
    "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln",
    "log2", "log10", "minute", "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort",
    "sort_desc", "sort_by_label", "sort_by_label_desc", "sqrt", "time", "timestamp", "vector", "year",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time",
    "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time", "mad_over_time", "acos", "acosh",
    "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "pi", "rad", "sum", "min",
    "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk",
    "limit_ratio",
])
KEYWORDS = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                      "offset", "inf", "nan"])
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def problems(expr: str) -> list[str]:
    """What is visibly wrong with `expr`: unbalanced (), [] or {}, unknown function names. Empty when fine."""
    found = []
    text = _STRING.sub('""', expr)
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            found.append(f"unbalanced {ch!r}")
            break
    if stack and not found:
        found.append(f"unclosed {stack[-1]!r}")
    for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", _GROUPING.sub("", text)):
        if match.group(1) not in FUNCTIONS | KEYWORDS:
            found.append(f"unknown function {match.group(1)!r}")
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects: every bare identifier that is not a function, keyword, label name in a
    grouping clause or matcher, a range or offset duration, or a number."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries: durations, $__rate_interval
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\boffset\s+\S+", " ", text)
    text = re.sub(r"\$[A-Za-z_]\w*", " ", text)  # Grafana variables
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", text)  # numbers, 1e3 included
    names = set()
    for match in _WORD.finditer(text):
        word = match.group(0)
        following = text[match.end():].lstrip()
        if word in KEYWORDS or following.startswith("("):
            continue
        names.add(word)
    return names
