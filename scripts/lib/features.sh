#!/usr/bin/env bash
# The feature split (docs/building.md): the default build of the workspace — what `cargo build --release`
# and `cargo run --release` compile — pulls no AWS SDK client and no MongoDB driver, and `--features aws`
# (what the Lambda functions and the AWS/MongoDB adapters are built with) pulls both. Reads `cargo tree`
# (normal and build dependencies; nothing is compiled), so it takes a second.
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$REPO"
aws_crates='^(aws-config|aws-sdk-[a-z0-9]+|aws_lambda_events|lambda_runtime|lambda_http|mongodb|bson) '
crates_of() {
    cargo tree --locked -e normal,build --prefix none "$@" | grep -oE "$aws_crates" | sort -u || true
}
default=$(crates_of --workspace)
if [[ -n "$default" ]]; then
    echo "features: the default build pulls what only the \`aws\` feature should:" >&2
    echo "$default" | sed 's/^/  /' >&2
    cargo tree --locked -e normal,build,features -i "$(echo "$default" | head -1 | tr -d ' ')" >&2 || true
    exit 1
fi
with_aws=$(crates_of -p vwc --features aws)
for wanted in aws-sdk-eventbridge aws-sdk-sqs aws-sdk-ssm aws-sdk-s3 aws-sdk-sesv2 mongodb lambda_runtime; do
    if ! grep -qx "$wanted" <<<"$(echo "$with_aws" | tr -d ' ')"; then
        echo "features: \`vwc --features aws\` does not pull $wanted" >&2
        exit 1
    fi
done
echo "features: the default build pulls no AWS SDK client and no MongoDB driver; --features aws pulls $(echo "$with_aws" | wc -l) of them"
