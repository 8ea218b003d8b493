# shellcheck shell=bash
# The Python tools the scripts use (moto, SecantusDB, python-hcl2 and pytest, checkov, schemathesis,
# cargo-lambda), each pinned and installed into a git-ignored venv under $REPO/.venv by uv, itself pinned and
# installed with pip into $REPO/.venv/uv. On a fresh 2-core machine pip spent ≈ 190 s of CPU (resolving,
# unpacking, compiling every module to bytecode) on moto, SecantusDB and the infra tools; uv installs the same
# pins in ≈ 6 s, and Python compiles a module the first time it is imported. When uv cannot be installed
# the tools are installed with pip, as before, and the reason is printed. Source this file, then:
#
#   python_install NAME VENV REQUIREMENT...   creates VENV when it has no python, installs the requirements
#
#   UV_VERSION     pinned uv release (default below)
#   PYTHON         interpreter for new venvs (default python3.11, then python3)

UV_VERSION="${UV_VERSION:-0.13.9}"
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

python_interpreter() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    else
        echo python3
    fi
}

# The version of PACKAGE installed in VENV, or nothing.
python_installed_version() { # venv package
    "$1/bin/python" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null
}

# Prints the path of the pinned uv, installing it first; fails when it cannot be installed. Several
# scripts/test jobs may ask at once: the first installs it under a lock, the others wait for it.
python_uv() {
    local venv="$REPO/.venv/uv"
    mkdir -p "$REPO/.venv" || return 1
    (
        flock 9 || exit 1
        if [[ "$(python_installed_version "$venv" uv)" == "$UV_VERSION" && -x "$venv/bin/uv" ]]; then
            exit 0
        fi
        [[ -x "$venv/bin/python" ]] || "$(python_interpreter)" -m venv "$venv" || exit 1
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    ) 9>"$REPO/.venv/uv.lock" >&2 || return 1
    echo "$venv/bin/uv"
}

python_install() { # name venv requirement...
    local name=$1 venv=$2 uv
    shift 2
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "$name: creating $venv" >&2
        # Made first: `python -m venv` checks that the directory is missing and then makes it, so an install
        # running beside this one (scripts/test's background installs make `.venv/schemathesis` and
        # `.venv/uv`) could make it in between — "[Errno 17] File exists: '.venv'" on a fresh clone. A venv
        # is made into an existing directory as well.
        mkdir -p "$venv" || return 1
        "$(python_interpreter)" -m venv "$venv" || return 1
    fi
    echo "$name: installing $* into $venv" >&2
    if uv=$(python_uv); then
        "$uv" pip install --quiet --python "$venv/bin/python" "$@"
    else
        echo "$name: uv==$UV_VERSION could not be installed; installing with pip (slower)" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    fi
}
