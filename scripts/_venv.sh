# shellcheck shell=bash
# Shared by scripts/test and scripts/demo (sourced, not run): makes sure the
# project's virtualenv exists in .venv and has the project installed in it.
#
# Reinstalling ~400 MB of dependencies on every run would cost a minute or
# more, so after a successful install we leave a stamp in .venv holding the
# sha256 of pyproject.toml.  The project itself is installed editable (-e), so
# code changes never need a reinstall; only a change to pyproject.toml (new
# dependency, new entry point) does.
#
# One stamp per "flavour": .venv/.installed-base for `pip install -e .` and
# .venv/.installed-test for `pip install -e '.[test]'`.  An install with extras
# also covers the base install, so it writes both stamps (scripts/demo after
# scripts/test then installs nothing).

# ensure_venv [EXTRA]   e.g. `ensure_venv test` or `ensure_venv` for the base.
# Must be called with the repository root as the current directory.
ensure_venv() {
    local extra="${1:-}"
    local flavour="${extra:-base}"
    local spec="."
    [[ -n "$extra" ]] && spec=".[$extra]"

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
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    [[ -f ".venv/.installed-$flavour" ]] && have="$(cat ".venv/.installed-$flavour")"
    if [[ "$want" == "$have" ]]; then
        echo "== .venv is up to date with pyproject.toml ($flavour): skipping pip install"
        return 0
    fi

    echo "== pip install -e '$spec' (pyproject.toml changed or first install)"
    local t0=$SECONDS
    # -q keeps the log readable; pip still prints warnings and errors, except
    # one per package about the machine's pip.conf naming local index folders
    # that do not exist ("Location 'file:///...' is ignored"), which is noise.
    # Stamps are removed first so an interrupted install is retried next time.
    rm -f .venv/.installed-*
    .venv/bin/python -m pip install -q --progress-bar off -e "$spec" 2>&1 |
        { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
    echo "$want" >".venv/.installed-$flavour"
    echo "$want" >.venv/.installed-base
    echo "== pip install took $((SECONDS - t0)) s"
}
