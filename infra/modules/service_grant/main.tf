# A resource policy letting AWS services act on a resource only on behalf of a named source: every
# statement carries the same condition (the source's ARN or account), the guard against the confused deputy
# (another account's rule, distribution or alarm using the service to reach this resource).

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = var.statements
    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = statement.value.resources
      principals {
        type        = "Service"
        identifiers = var.services
      }
      condition {
        test     = var.condition.test
        variable = var.condition.variable
        values   = var.condition.values
      }
    }
  }
}
