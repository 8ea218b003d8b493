output "queues" {
  description = "key → the queue (arn, id = URL, name)."
  value       = aws_sqs_queue.this
}
