# shellcheck shell=bash
# Terraform for one environment: the one root (infra/root) configured by infra/environments/<env>/ —
# settings.tfvars (committed), terraform.tfvars and backend.hcl (the operator's, git-ignored) — with a
# working directory of its own (TF_DATA_DIR), so two environments' backends and plugins never mix.
# Source this file, then: tf_environment ENV && tf COMMAND [ARGS…] (paths in ARGS: absolute, -chdir applies).

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# Checks the environment's files are there and selects it for `tf`.
tf_environment() {
    local dir="$REPO/infra/environments/$1" f
    [[ -f "$dir/settings.tfvars" ]] || {
        echo "terraform: no environment $1 (infra/environments/$1/settings.tfvars)" >&2
        return 2
    }
    for f in terraform.tfvars backend.hcl; do
        [[ -f "$dir/$f" ]] || { echo "terraform: $dir/$f is missing (copy $f.example)" >&2; return 2; }
    done
    TF_ENVIRONMENT_DIR="$dir"
    export TF_DATA_DIR="$dir/.terraform"
}

# `terraform COMMAND ARGS…` in infra/root for the selected environment: init gets its backend.hcl; commands
# that read variables get its settings.tfvars, then terraform.tfvars (which wins). A saved plan carries its
# variables, so `apply PLAN` gets none.
tf() {
    local command="$1" extra=()
    shift
    local vars=(-var-file="$TF_ENVIRONMENT_DIR/settings.tfvars" -var-file="$TF_ENVIRONMENT_DIR/terraform.tfvars")
    case "$command" in
        init) extra=(-backend-config="$TF_ENVIRONMENT_DIR/backend.hcl") ;;
        plan | destroy | import | refresh | console) extra=("${vars[@]}") ;;
        apply) if [[ $# -eq 0 || "${!#}" == -* ]]; then extra=("${vars[@]}"); fi ;;
    esac
    terraform -chdir="$REPO/infra/root" "$command" "${extra[@]}" "$@"
}
