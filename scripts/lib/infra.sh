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
# shellcheck source=python.sh
source "$(dirname "${BASH_SOURCE[0]}")/python.sh"

# Installs the pinned tools where they are missing or of another version.
infra_ensure_tools() {
    local venv="$REPO/.venv" checkov_venv="$REPO/.venv/checkov"
    if [[ "$(python_installed_version "$venv" python-hcl2)" != "$PYTHON_HCL2_VERSION" ||
        "$(python_installed_version "$venv" pytest)" != "$PYTEST_VERSION" ]]; then
        python_install infra "$venv" "python-hcl2==$PYTHON_HCL2_VERSION" "pytest==$PYTEST_VERSION" || return 1
    fi
    if [[ "$(python_installed_version "$checkov_venv" checkov)" != "$CHECKOV_VERSION" ]]; then
        python_install infra "$checkov_venv" "checkov==$CHECKOV_VERSION" || return 1
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
    # One scan, two outputs: the findings on the console, the summary from the JSON (a scan takes ≈ 12 s).
    local report
    report="$(mktemp -d)"
    "$REPO/.venv/checkov/bin/checkov" --directory "$REPO/infra" --framework terraform --compact --quiet \
        --skip-download --output cli --output json --output-file-path "console,$report/checkov.json" || return 1
    "$REPO/.venv/bin/python" - "$report/checkov.json" <<'PY' || return 1
import json, sys
reports = json.load(open(sys.argv[1]))
for r in reports if isinstance(reports, list) else [reports]:
    print("checkov result: passed={passed} failed={failed} skipped={skipped} (each skip justified inline)".format(**r["summary"]))
PY
    rm -rf "$report"
    echo "== infra: pytest infra/tests"
    "$REPO/.venv/bin/python" -m pytest -q -p no:cacheprovider "$REPO/infra/tests" || return 1
    echo "== infra checks passed in $(( $(date +%s) - start )) s"
}
