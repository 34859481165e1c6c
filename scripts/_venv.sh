# shellcheck shell=bash
# Shared by scripts/test, scripts/demo and benchmarks/run (sourced, not run):
# makes sure .venv exists and holds exactly the locked dependencies.
#
# The lock files are requirements/base.txt (runtime) and requirements/test.txt
# (runtime + test extras), made by scripts/lock from pyproject.toml.  They are
# installed with `pip install --require-hashes`, so every package (setuptools,
# the build backend, included) is the version and the file that was tested.
# The project itself is then installed editable without dependencies and
# without build isolation, so nothing unlocked is ever fetched.
#
# After a successful install a stamp in .venv holds the sha256 of the lock file
# and pyproject.toml; when neither changed, nothing is installed.  One stamp per
# flavour: .venv/.installed-base and .venv/.installed-test (the test lock covers
# the base set, so it writes both stamps).

# ensure_venv [test]   Must be called with the repository root as the current directory.
ensure_venv() {
    local flavour="${1:-base}"
    local lock="requirements/$flavour.txt"

    # A venv whose interpreter no longer runs (python upgraded or removed, or a
    # half-created .venv) is rebuilt rather than patched.
    if [[ -d .venv ]] && ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
        echo "== .venv is broken (its python does not run): recreating it"
        python3 -m venv --clear .venv
    elif [[ ! -d .venv ]]; then
        echo "== creating .venv with $(python3 --version 2>&1)"
        python3 -m venv .venv
    fi

    local want have=""
    want="$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
    [[ -f ".venv/.installed-$flavour" ]] && have="$(cat ".venv/.installed-$flavour")"
    if [[ "$want" == "$have" ]]; then
        echo "== .venv is up to date with $lock: skipping pip install"
        return 0
    fi

    echo "== pip install --require-hashes -r $lock (lock changed or first install)"
    local t0=$SECONDS
    # Stamps are removed first so that an interrupted install is retried.
    # PIP_CONSTRAINT and PIP_FIND_LINKS are emptied: a machine-wide pip.conf
    # must not change what the lock says.  The grep drops pip's warnings about
    # that pip.conf's local index folders that do not exist.
    rm -f .venv/.installed-*
    local pip=(env PIP_CONSTRAINT= PIP_FIND_LINKS= .venv/bin/python -m pip)
    # --no-deps: the lock is complete; pip still refuses a file whose hash differs.
    "${pip[@]}" install -q --progress-bar off --require-hashes --no-deps -r "$lock" 2>&1 |
        { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
    "${pip[@]}" install -q --progress-bar off --no-deps --no-build-isolation -e . 2>&1 |
        { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
    # pip check: a lock that does not satisfy pyproject's ranges fails here.
    "${pip[@]}" check >/dev/null || { "${pip[@]}" check; return 1; }
    echo "$want" >".venv/.installed-$flavour"
    if [[ "$flavour" == test ]]; then
        cat requirements/base.txt pyproject.toml | sha256sum | cut -d' ' -f1 >.venv/.installed-base
    fi
    echo "== pip install took $((SECONDS - t0)) s"
}
