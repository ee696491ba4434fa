"""The metric contract: the docs are generated from it, and it is a leaf the config and the
collector both depend on, never each other."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import exporter.contract
from exporter.contract import CATALOGUE, markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "metrics.md"


def test_docs_metrics_is_generated_from_the_contract() -> None:
    assert DOCS.read_text() == markdown(), "run: python -m exporter.catalogue > docs/metrics.md"


def test_the_catalogue_command_prints_the_docs() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "exporter.catalogue"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert printed == DOCS.read_text()


def test_every_family_follows_the_naming_conventions() -> None:
    for name, spec in CATALOGUE.items():
        assert name.startswith("oceanbase_")
        assert not name.endswith("_total"), "counters are named without _total; the sample adds it"
        if spec.type == "counter":
            continue
        if name.endswith("_timestamp_seconds") or name.endswith("_ratio"):
            assert spec.type == "gauge"
        assert spec.help and not spec.help[0].islower() and spec.help.endswith((".", ")")), name


def _modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `statement`."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return set(json.loads(result.stdout))


def test_the_config_loads_the_contract_but_not_the_collector() -> None:
    loaded = _modules_loaded_by("import exporter.config")
    assert "exporter.contract" in loaded
    assert "exporter.collector" not in loaded
    assert not {name for name in loaded if name.split(".")[0] == "prometheus_client"}


def test_the_contract_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(exporter.contract.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import reaches into the package"
            imported.add(node.module or "")
    outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert imported and not outside
    loaded = _modules_loaded_by("import exporter.contract")
    assert {name for name in loaded if name.startswith("exporter")} == {
        "exporter",
        "exporter.contract",
    }
