variable "names" {
  description = "key → queue name; the key is the queue's address (aws_sqs_queue.this[key]) and the caller's handle."
  type        = map(string)
}

variable "tags" {
  type    = map(string)
  default = {}
}
