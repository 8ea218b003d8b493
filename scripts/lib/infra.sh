# shellcheck shell=bash
# Static checks of infra/ (Terraform) that need no provider plugin: `terraform fmt -check` (when a terraform
# binary exists), checkov, and the python-hcl2 tests in infra/tests. Source this file, then: infra_check.
#
# Tools are pinned and installed into the git-ignored $REPO/.venv (python-hcl2, pytest: next to moto) and
# $REPO/.venv/checkov (checkov in a venv of its own: it pins an older boto3 than moto needs and ships its own
# fork of the HCL parser under the same module name as python-hcl2).

CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
PYTHON_HCL2_VERSION="${PYTHON_HCL2_VERSION:-8.1.4}"
PYTEST_VERSION="${PYTEST_VERSION:-9.2.0}"
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

_infra_python() {
    if command -v python3.11 >/dev/null 2>&1; then echo python3.11; else echo python3; fi
}

_infra_has() { # venv package version
    [[ "$("$1/bin/python" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null)" == "$3" ]]
}

# Installs the pinned tools where they are missing or of another version.
infra_ensure_tools() {
    local venv="$REPO/.venv" checkov_venv="$REPO/.venv/checkov"
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "infra: creating $venv" >&2
        "$(_infra_python)" -m venv "$venv" || return 1
    fi
    if ! _infra_has "$venv" python-hcl2 "$PYTHON_HCL2_VERSION" || ! _infra_has "$venv" pytest "$PYTEST_VERSION"; then
        echo "infra: installing python-hcl2==$PYTHON_HCL2_VERSION pytest==$PYTEST_VERSION into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "python-hcl2==$PYTHON_HCL2_VERSION" "pytest==$PYTEST_VERSION" || return 1
    fi
    if [[ ! -x "$checkov_venv/bin/python" ]]; then
        "$(_infra_python)" -m venv "$checkov_venv" || return 1
    fi
    if ! _infra_has "$checkov_venv" checkov "$CHECKOV_VERSION"; then
        echo "infra: installing checkov==$CHECKOV_VERSION into $checkov_venv" >&2
        "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "checkov==$CHECKOV_VERSION" || return 1
    fi
}

# Runs every infra check; non-zero on any failure. A missing terraform binary is said loudly, not failed:
# fmt, init and validate also run in the GitHub workflow.
infra_check() {
    local start
    start=$(date +%s)
    infra_ensure_tools || return 1
    echo "== infra: terraform fmt -check"
    if command -v terraform >/dev/null 2>&1; then
        terraform fmt -check -recursive -diff "$REPO/infra" || return 1
    else
        echo "!!! terraform fmt was SKIPPED: no terraform binary here (the GitHub workflow runs fmt, init and validate)."
    fi
    echo "== infra: checkov"
    "$REPO/.venv/checkov/bin/checkov" --directory "$REPO/infra" --framework terraform --compact --quiet \
        --skip-download --output cli || return 1
    "$REPO/.venv/checkov/bin/checkov" --directory "$REPO/infra" --framework terraform --skip-download \
        --output json 2>/dev/null | "$REPO/.venv/bin/python" -c '
import json, sys
reports = json.load(sys.stdin)
for r in reports if isinstance(reports, list) else [reports]:
    print("checkov result: passed={passed} failed={failed} skipped={skipped} (each skip justified inline)".format(**r["summary"]))
' || return 1
    echo "== infra: pytest infra/tests"
    "$REPO/.venv/bin/python" -m pytest -q -p no:cacheprovider "$REPO/infra/tests" || return 1
    echo "== infra checks passed in $(( $(date +%s) - start )) s"
}
