# Parameter Store: every entry a SecureString under the CMK, one path per function (`/vwc/<env>/<function>/`),
# which is the only path that function's role may read (`VWC_ENV=<env>/<function>` points the code there).

resource "aws_ssm_parameter" "managed" {
  for_each = nonsensitive(toset(keys(var.values)))
  name     = "${var.path_prefix}/${each.value}"
  type     = "SecureString"
  key_id   = var.kms_key_arn
  value    = var.values[each.value]
  tags     = var.tags
}

resource "aws_ssm_parameter" "operator_managed" {
  for_each = var.operator_managed
  name     = "${var.path_prefix}/${each.value}"
  type     = "SecureString"
  key_id   = var.kms_key_arn
  value    = "unset"
  tags     = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}
