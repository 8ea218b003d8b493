# Dead-letter queues: what could not be delivered or processed waits here until someone looks and redrives it
# (docs/runbooks/dlq-redrive.md), kept for SQS's longest retention, encrypted with SQS-managed keys. The
# consumers' queues and their rules' target queues (modules/bus) and the functions' own (the root) are
# all alike; each caller adds the policy saying who may send.

resource "aws_sqs_queue" "this" {
  for_each                  = var.names
  name                      = each.value
  message_retention_seconds = 14 * 24 * 60 * 60
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}
