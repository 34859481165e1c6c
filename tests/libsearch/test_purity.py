"""The search engine is pure: it imports neither the application, Flask nor SQLAlchemy."""

import subprocess
import sys
from pathlib import Path

import libsearch
from tests.tools import imported_names

ENGINE = Path(libsearch.__file__).parent
FORBIDDEN = ("lims", "flask", "sqlalchemy", "werkzeug", "instruments")


def test_no_engine_module_imports_the_application():
    for path in ENGINE.glob("*.py"):
        for name in imported_names(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_the_engine_loads_without_flask_or_the_database():
    loaded = subprocess.run(
        [sys.executable, "-c",
         "import sys, libsearch.index, libsearch.scores; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert "libsearch.index" in loaded
    assert not [m for m in loaded if m.split(".")[0] in FORBIDDEN]
