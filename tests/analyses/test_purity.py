"""The analyses package is pure: no other part of lims, no Flask, no SQLAlchemy."""

import subprocess
import sys
from pathlib import Path

import lims.analyses
from tests.tools import imported_names

ANALYSES = Path(lims.analyses.__file__).parent
FORBIDDEN = ("flask", "sqlalchemy", "werkzeug", "flask_sqlalchemy", "wtforms")
ALLOWED_THIRD_PARTY = ("numpy", "scipy")


def test_modules_import_only_the_standard_library_numpy_scipy_and_each_other():
    modules = sorted(ANALYSES.glob("*.py"))
    assert {p.stem for p in modules} >= {"alcohol", "decision"}
    for path in modules:
        for name in imported_names(path, absolute_only=True):
            top = name.split(".")[0]
            assert not (name.startswith("lims") and not name.startswith("lims.analyses")), \
                f"{path.name} imports {name}"
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY \
                or name.startswith("lims.analyses"), f"{path.name} imports {name}"


def test_loading_the_package_alone_loads_neither_flask_nor_sqlalchemy():
    # Loaded as a top-level package so that lims/__init__.py (the Flask factory) stays out.
    script = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "import analyses.alcohol, analyses.decision; print(' '.join(sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script, str(ANALYSES.parent)],
                            capture_output=True, text=True, check=True).stdout.split()
    assert "analyses.alcohol" in loaded
    assert not [m for m in loaded if m.split(".")[0] in FORBIDDEN or m.startswith("lims")]
