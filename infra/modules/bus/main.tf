# The bus and, per consumer of contracts/routes.json: its queue and dead-letter queue (redrive), the rule
# routing its event types, the rule's target (with its own dead-letter queue and retry policy) and the queue
# policies letting only that rule send. Names come from the generated file, so they match `vwc aws bootstrap`.

locals {
  # The generated names carry "{bus}" where the bus name goes.
  names = {
    for consumer, c in var.consumers : consumer => {
      queue             = replace(c.queue, "{bus}", var.bus_name)
      dead_letter_queue = replace(c.dead_letter_queue, "{bus}", var.bus_name)
      target_dlq        = "${replace(c.queue, "{bus}", var.bus_name)}-target-dlq"
    }
  }
  visibility_timeout_seconds = 6 * var.consumer_timeout_seconds
}

resource "aws_cloudwatch_event_bus" "this" {
  name = var.bus_name
  tags = var.tags
}

# Each consumer's two dead-letter queues, one table per kind: "consumer", what its queue redrives after
# max_receive_count failed receives; "target", the events EventBridge could not put on the queue after its
# retries.
module "dead_letters" {
  source   = "../dead_letters"
  for_each = { consumer = "dead_letter_queue", target = "target_dlq" }
  names    = { for consumer, n in local.names : consumer => n[each.value] }
  tags     = var.tags
}

resource "aws_sqs_queue" "consumer" {
  for_each                   = var.consumers
  name                       = local.names[each.key].queue
  visibility_timeout_seconds = local.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = module.dead_letters["consumer"].queues[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.visibility_timeout_seconds >= 6 * var.consumer_timeout_seconds
      error_message = "A consumer queue's visibility timeout must be at least six times its function's timeout."
    }
  }
}

# Only the dead-letter queue of each consumer may redrive into it (and back, for redrive to source).
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  for_each  = var.consumers
  queue_url = module.dead_letters["consumer"].queues[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.consumer[each.key].arn]
  })
}

resource "aws_cloudwatch_event_rule" "consumer" {
  for_each       = var.consumers
  name           = each.value.rule
  event_bus_name = aws_cloudwatch_event_bus.this.name
  description    = "Routes the event types ${each.key} consumes to its queue (contracts/routes.json)"
  event_pattern  = each.value.event_pattern
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "consumer" {
  for_each       = var.consumers
  rule           = aws_cloudwatch_event_rule.consumer[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "queue"
  arn            = aws_sqs_queue.consumer[each.key].arn

  retry_policy {
    maximum_event_age_in_seconds = 24 * 60 * 60
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = module.dead_letters["target"].queues[each.key].arn
  }
}

locals {
  # The queues EventBridge sends to, each only from its consumer's rule: the consumer's queue (the rule's
  # target) and the target's dead-letter queue (what the rule could not deliver).
  rule_sends = merge([
    for consumer in keys(var.consumers) : {
      "${consumer}/queue" = {
        sid   = "AllowOnlyItsRule"
        queue = aws_sqs_queue.consumer[consumer].arn
        rule  = aws_cloudwatch_event_rule.consumer[consumer].arn
      }
      "${consumer}/target-dlq" = {
        sid   = "AllowTheRuleToDeadLetter"
        queue = module.dead_letters["target"].queues[consumer].arn
        rule  = aws_cloudwatch_event_rule.consumer[consumer].arn
      }
    }
  ]...)
}

module "rule_sends" {
  source   = "../service_grant"
  for_each = local.rule_sends
  services = ["events.amazonaws.com"]
  statements = {
    (each.value.sid) = { actions = ["sqs:SendMessage"], resources = [each.value.queue] }
  }
  condition = { test = "ArnEquals", variable = "aws:SourceArn", values = [each.value.rule] }
}

resource "aws_sqs_queue_policy" "consumer" {
  for_each  = var.consumers
  queue_url = aws_sqs_queue.consumer[each.key].id
  policy    = module.rule_sends["${each.key}/queue"].json
}

resource "aws_sqs_queue_policy" "target_dead_letter" {
  for_each  = var.consumers
  queue_url = module.dead_letters["target"].queues[each.key].id
  policy    = module.rule_sends["${each.key}/target-dlq"].json
}
