output "bus" {
  description = "The event bus (arn, name, …)."
  value       = aws_cloudwatch_event_bus.this
}

output "queue_arns" {
  description = "consumer → its queue's ARN"
  value       = { for k, q in aws_sqs_queue.consumer : k => q.arn }
}

output "dead_letter_queues" {
  description = "Every dead-letter queue by a readable key (for the alarms)."
  value = merge(
    { for k, q in module.dead_letters["consumer"].queues : "${k}-dlq" => q.name },
    { for k, q in module.dead_letters["target"].queues : "${k}-target-dlq" => q.name },
  )
}
