"""The benchmarks stand alone: none of them imports the test suite's helpers."""

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def imported(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_benchmark_imports_the_tests():
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert scripts, BENCHMARKS
    offenders = {path.name: sorted(name for name in imported(path)
                                   if name == "tests" or name.startswith("tests."))
                 for path in scripts}
    assert {name: found for name, found in offenders.items() if found} == {}
