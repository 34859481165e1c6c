"""Findings sit below certificates: the findings package imports nothing from it."""

import ast
from pathlib import Path

FINDINGS = Path(__file__).resolve().parents[2] / "lims" / "findings"


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_findings_modules_import_nothing_from_certificates():
    modules = list(FINDINGS.glob("*.py"))
    assert {"workflow.py", "views.py", "api.py", "snapshot.py"} <= {p.name for p in modules}
    upward = {p.name: sorted(m for m in _imported(p) if m.startswith("lims.certificates"))
              for p in modules}
    assert {name: found for name, found in upward.items() if found} == {}
