variable "bus_name" {
  description = "EventBridge bus name; queues are named from it (<bus>-<consumer>, as `vwc aws bootstrap` does)."
  type        = string
}

variable "consumers" {
  description = "From infra/generated/routes.auto.tfvars.json (generated from contracts/routes.json); the one declaration of its shape (the root passes it on as map(any))."
  type = map(object({
    queue             = string
    dead_letter_queue = string
    rule              = string
    detail_types      = list(string)
    event_pattern     = string
  }))
}

variable "max_receive_count" {
  description = "Receives before a message moves to its dead-letter queue (generated, same as bootstrap)."
  type        = number
}

variable "consumer_timeout_seconds" {
  description = "The consumer functions' timeout; queue visibility is six times it, as AWS recommends."
  type        = number
}

variable "tags" {
  type    = map(string)
  default = {}
}
