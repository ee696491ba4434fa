"""The shipped monitoring artifacts as data: dashboards, rules, their PromQL and its names.

PromQL is read with a small tokenizer rather than a full parser: it is enough to tell metric
names from function names, keywords and label names, which is what the tests need.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "grafana" / "dashboards"
PROMETHEUS = ROOT / "prometheus"
RULE_FILES = (PROMETHEUS / "recording.yml", PROMETHEUS / "alerts.yml")
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
SOURCES = ("obshell", "ocp", "cloud")

# Series Prometheus makes itself, which rules may read.
PROMETHEUS_SERIES = frozenset({"up", "ALERTS"})
# Labels Prometheus adds (job, instance; pod where the Prometheus Operator scrapes a pod) or
# puts on ALERTS.
PROMETHEUS_LABELS = frozenset({"job", "instance", "pod", "alertname", "alertstate", "severity"})


def generator() -> ModuleType:
    """grafana/generate.py as a module."""
    spec = importlib.util.spec_from_file_location(
        "grafana_generate", ROOT / "grafana" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is created
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed dashboard, for every committed dashboard."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel, with the source its series must come from (None: any)."""

    dashboard: str
    row: str
    panel: dict[str, Any]
    target: dict[str, Any]
    source: str | None

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.row} / {self.panel['title']} / {self.target['refId']}"


def panels(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(row title, panel) of every panel that is not a row, in order."""
    row = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            for inner in panel.get("panels", []):
                yield row, inner
        else:
            yield row, panel


def panel_queries() -> list[PanelQuery]:
    """Every query of every panel of every dashboard.

    A query that pins `source="X"` shows only source X's series (the rows per source do this);
    one that does not can be satisfied by any source.
    """
    found = []
    for name, dashboard in dashboards().items():
        for row, panel in panels(dashboard):
            for target in panel.get("targets", []):
                pinned = set(re.findall(r'\bsource="(\w+)"', target["expr"]))
                assert len(pinned) <= 1, f"{name} / {panel['title']}: more than one source"
                found.append(PanelQuery(name, row, panel, target, next(iter(pinned), None)))
    return found


def variable_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard, variable, series selector, label) of every label_values variable."""
    found = []
    for name, dashboard in dashboards().items():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable["definition"])
            assert match, f"{name}: variable {variable['name']} is not label_values(series, label)"
            found.append((name, variable["name"], match.group(1), match.group(2)))
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    """A dashboard query with Grafana's variables replaced, as Grafana would send it."""
    result = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)
    assert "$" not in result, f"unreplaced variable in {result}"
    return result


# Every variable on "All": the regex the dashboards set as allValue.
ALL = {"source": ".*", "target": ".*", "ob_cluster_name": ".*", "tenant_name": ".*"}


def rules() -> list[dict[str, Any]]:
    """Every rule (recording and alerting) of the shipped rule files, in order."""
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alerts() -> dict[str, dict[str, Any]]:
    """Alert name -> alerting rule."""
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def recorded_names() -> frozenset[str]:
    """Names the recording rules define."""
    return frozenset(rule["record"] for rule in rules() if "record" in rule)


def thresholds() -> dict[str, dict[str, float]]:
    """`oceanbase:threshold:NAME` -> {source label or "": value}."""
    found: dict[str, dict[str, float]] = {}
    for rule in rules():
        if rule.get("record", "").startswith("oceanbase:threshold:"):
            number = re.fullmatch(r"vector\((.+)\)", rule["expr"].strip())
            assert number, f"{rule['record']}: a threshold is vector(NUMBER)"
            value = float(number.group(1))
            source = rule.get("labels", {}).get("source", "")
            found.setdefault(rule["record"], {})[source] = value
    return found


# ----------------------------------------------------------------------------- PromQL names

KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan", "atan2"}
)
AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile"}
)
# Keywords followed by a parenthesised list of label names.
LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\b)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=])
  | (?P<punct>[{}()\[\],@])
  | (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Names:
    """The metric names (with their label matchers) and label names a PromQL expression uses."""

    selectors: tuple[tuple[str, str], ...]  # (metric name, "{...}" matchers or "")
    labels: frozenset[str]

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.selectors)


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[position:]!r}")
        kind = match.lastgroup or ""
        if kind not in {"space", "comment"}:  # PromQL comments run from # to the line's end
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def names(expr: str) -> Names:
    """Metric and label names in `expr` (Grafana variables must be substituted first)."""
    tokens = _tokens(expr)
    selectors: list[tuple[str, str]] = []
    labels: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "ident" and text in LABEL_LISTS and following == "(":
            close = _closing(tokens, i + 1, "(", ")")
            labels.update(t for k, t in tokens[i + 2 : close] if k == "ident")
            i = close + 1
        elif kind == "punct" and text == "[":
            i = _closing(tokens, i, "[", "]") + 1
        elif kind == "punct" and text == "{":
            i = _matchers(tokens, i, selectors, labels, name="")
        elif kind == "ident" and (following == "(" or text in AGGREGATIONS):
            i += 1  # a function or aggregation
        elif kind == "ident" and text not in KEYWORDS:
            if following == "{":
                i = _matchers(tokens, i + 1, selectors, labels, name=text)
            else:
                selectors.append((text, ""))
                i += 1
        else:
            i += 1
    return Names(tuple(selectors), frozenset(labels))


def _closing(tokens: list[tuple[str, str]], start: int, opening: str, closing: str) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        if tokens[index][1] == opening:
            depth += 1
        elif tokens[index][1] == closing:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening}")


def _matchers(
    tokens: list[tuple[str, str]],
    start: int,
    selectors: list[tuple[str, str]],
    labels: set[str],
    name: str,
) -> int:
    """Read `{label op "value", ...}` from `start`; a bare selector names its metric in __name__."""
    close = _closing(tokens, start, "{", "}")
    inner = tokens[start + 1 : close]
    text = "{" + " ".join(t for _, t in inner).replace(" ,", ",") + "}"
    for index, (kind, word) in enumerate(inner):
        if kind == "ident" and index + 1 < len(inner) and inner[index + 1][0] == "op":
            if word == "__name__":
                pattern = inner[index + 2][1][1:-1]
                selectors.extend((metric, text) for metric in pattern.split("|"))
            else:
                labels.add(word)
    if name:
        selectors.append((name, text))
    return close + 1


def catalogue_names(metric: str, catalogue: dict[str, Any]) -> bool:
    """Whether `metric` is a sample name of a catalogue family (counters add _total,
    histograms _bucket, _sum and _count)."""
    for family, spec in catalogue.items():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(
            spec.type, ("",)
        )
        if metric in {family + suffix for suffix in suffixes}:
            return True
    return False


def unknown_metrics(expr: str, catalogue: dict[str, Any]) -> set[str]:
    """Metric names in `expr` that neither the exporter, the recording rules nor Prometheus make."""
    known = recorded_names() | PROMETHEUS_SERIES
    return {
        metric
        for metric in names(expr).metrics
        if metric not in known and not catalogue_names(metric, catalogue)
    }
