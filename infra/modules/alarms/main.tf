# Everything that should wake someone goes to one SNS topic: a message in any dead-letter queue, function
# errors or throttles, API 5xx, and the monthly budget (the free-tier guard). Atlas alerts e-mail directly.

data "aws_caller_identity" "current" {}

resource "aws_sns_topic" "alarms" {
  name              = var.name
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

module "publishers" {
  source   = "../service_grant"
  services = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
  statements = {
    CloudWatchAndBudgetsPublish = { actions = ["sns:Publish"], resources = [aws_sns_topic.alarms.arn] }
  }
  condition = {
    test     = "StringEquals"
    variable = "aws:SourceAccount"
    values   = [data.aws_caller_identity.current.account_id]
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = module.publishers.json
}

resource "aws_sns_topic_subscription" "email" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  # Lambda's per-function metrics: the alarm name's suffix → the metric, the functions watched, what it says.
  lambda_metrics = {
    errors    = { metric = "Errors", functions = var.function_names, says = "%s failed invocations" }
    throttles = { metric = "Throttles", functions = var.function_names, says = "%s was throttled" }
    # A function URL has no API Gateway in front: the URL's own 5xx count (the chat function) is its "API 5xx".
    url-5xx = { metric = "Url5xxCount", functions = var.url_function_names, says = "The %s function URL answered 5xx" }
  }

  # Every alarm, by the name it gets after "<name>-". Each fires on one 5-minute period above zero (statistic
  # Sum unless said); missing data (nothing happened) is no breach.
  alarms = merge(
    {
      for key, queue in var.dead_letter_queues : "${key}-not-empty" => {
        description = "Messages are waiting in ${queue}: see docs/runbooks/dlq-redrive.md"
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = queue }
        statistic   = "Maximum"
        # A dead letter stays until someone redrives it: say so too when the queue is empty again.
        notify_ok = true
      }
    },
    merge([
      for suffix, m in local.lambda_metrics : {
        for key, function in m.functions : "${key}-${suffix}" => {
          description = "${format(m.says, function)}: see docs/runbooks/alarms.md"
          namespace   = "AWS/Lambda"
          metric      = m.metric
          dimensions  = { FunctionName = function }
        }
      }
    ]...),
    {
      api-5xx = {
        description = "The HTTP API answered 5xx: see docs/runbooks/alarms.md"
        namespace   = "AWS/ApiGateway"
        metric      = "5xx"
        dimensions  = { ApiId = var.api_id }
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = try(each.value.statistic, "Sum")
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = try(each.value.notify_ok, false) ? [aws_sns_topic.alarms.arn] : null
  tags                = var.tags
}

# The alarms were five resources before they were one table. The one without keys moves; the others' keys
# come from variables, which `moved` cannot name, so they leave the state without being deleted and
# `aws_cloudwatch_metric_alarm.this` adopts them by name (PutMetricAlarm creates or updates), rather than a
# destroy and a create of the same alarm racing each other.
moved {
  from = aws_cloudwatch_metric_alarm.api_5xx
  to   = aws_cloudwatch_metric_alarm.this["api-5xx"]
}

removed {
  from = aws_cloudwatch_metric_alarm.dead_letters
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_cloudwatch_metric_alarm.function_errors
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_cloudwatch_metric_alarm.function_throttles
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_cloudwatch_metric_alarm.url_5xx
  lifecycle {
    destroy = false
  }
}

resource "aws_budgets_budget" "monthly" {
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 80
    threshold_type            = "PERCENTAGE"
    notification_type         = "ACTUAL"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }
}
