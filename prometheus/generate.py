"""Write the links of the alert annotations from prometheus/links.yml, the one place to set them.

    python3 prometheus/generate.py           # rewrite alerts.yml and the PrometheusRule
    python3 prometheus/generate.py --check   # exit 1 if either is not what this writes

Every alert of prometheus/alerts.yml gets `runbook_url` (its section of the runbook, absolute)
and `dashboard_url` (the Grafana dashboard with the alert's target, cluster and tenant filled
in). Only those two lines of each alert are written; everything else in the file is edited by
hand. deploy/kubernetes/prometheusrule.yaml is generated from the rule files afterwards.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LINKS = ROOT / "prometheus" / "links.yml"
ALERTS = ROOT / "prometheus" / "alerts.yml"
KUBERNETES = ROOT / "deploy" / "kubernetes"

TENANT_DASHBOARD = "/d/oceanbase-backup-tenant/oceanbase-backup-tenant-detail"
OVERVIEW_DASHBOARD = "/d/oceanbase-backup-overview/oceanbase-backup-overview"
# Alerts about a whole exporter (no target label) and about one target (no cluster label).
EXPORTER_ALERTS = frozenset({"OceanBaseBackupExporterDown", "OceanBaseBackupExporterAbsent"})
TARGET_ALERTS = frozenset({"OceanBaseBackupTargetDown", "OceanBaseBackupExporterDataStale"})

_TARGET_VARS = "var-source={{ $labels.source }}&var-target={{ $labels.target }}"
_CLUSTER_VARS = _TARGET_VARS + "&var-ob_cluster_name={{ $labels.ob_cluster_name }}"


def dashboard_url(grafana: str, alert: str) -> str:
    """The dashboard that shows what `alert` is about, its variables filled from its labels."""
    overview = grafana + OVERVIEW_DASHBOARD
    if alert in EXPORTER_ALERTS:
        return overview
    if alert in TARGET_ALERTS:
        return f"{overview}?{_TARGET_VARS}"
    # A tenant's alert opens its detail; a cluster's (OCP, a Cloud instance) the overview.
    return (
        f"{{{{ if $labels.tenant_name }}}}{grafana}{TENANT_DASHBOARD}?{_CLUSTER_VARS}"
        "&var-tenant_name={{ $labels.tenant_name }}"
        f"{{{{ else }}}}{overview}?{_CLUSTER_VARS}{{{{ end }}}}"
    )


def links() -> tuple[str, str]:
    """(runbook URL, Grafana URL) from links.yml, without trailing slashes."""
    config = yaml.safe_load(LINKS.read_text())
    runbook, grafana = str(config["runbook_url"]), str(config["grafana_url"])
    for name, url in (("runbook_url", runbook), ("grafana_url", grafana)):
        if not re.match(r"https?://[^/]", url):
            raise ValueError(f"{LINKS.name}: {name} must be an absolute http(s) URL, not {url!r}")
    return runbook.rstrip("/"), grafana.rstrip("/")


_ALERT = re.compile(r"^      - alert: (\w+)\n", re.MULTILINE)
_LINK_LINES = re.compile(r"^          (?:runbook_url|dashboard_url): .*\n", re.MULTILINE)
_ANNOTATIONS = re.compile(r"^        annotations:\n(?:          .*\n)*", re.MULTILINE)


def render_alerts(text: str) -> str:
    """alerts.yml with the two link lines of every alert written from links.yml."""
    runbook, grafana = links()
    starts = [match.start() for match in _ALERT.finditer(text)] + [len(text)]
    out = [text[: starts[0]]]
    for begin, end in itertools.pairwise(starts):
        block = text[begin:end]
        name = _ALERT.match(block, 0)
        assert name is not None
        alert = name.group(1)
        block = _LINK_LINES.sub("", block)
        annotations = _ANNOTATIONS.search(block)
        if annotations is None:
            raise ValueError(f"{alert}: no annotations")
        lines = (
            f"          runbook_url: {runbook}#{alert.lower()}\n"
            f"          dashboard_url: '{dashboard_url(grafana, alert)}'\n"
        )
        block = block[: annotations.end()] + lines + block[annotations.end() :]
        out.append(block)
    return "".join(out)


def _kubernetes_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("kubernetes_generate", KUBERNETES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Write alerts.yml's links and the PrometheusRule, or with --check compare them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    alerts = render_alerts(ALERTS.read_text())
    if args.check:
        stale = ALERTS.read_text() != alerts
        kubernetes = _kubernetes_generator()
        stale |= kubernetes.OUTPUT.read_text() != kubernetes.render()
        if stale:
            print("prometheus/alerts.yml or the PrometheusRule is out of date: run this script")
        return 1 if stale else 0
    ALERTS.write_text(alerts)
    kubernetes = _kubernetes_generator()
    kubernetes.OUTPUT.write_text(kubernetes.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
