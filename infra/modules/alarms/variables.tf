variable "name" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "alarm_email" {
  description = "Subscribed to the alarm topic (confirm the e-mail AWS sends)."
  type        = string
}

variable "dead_letter_queues" {
  description = "Readable key → queue name; any message in one raises an alarm."
  type        = map(string)
}

variable "function_names" {
  description = "Readable key → function name; errors and throttles raise alarms."
  type        = map(string)
}

variable "url_function_names" {
  description = "Readable key → name of a function served through a function URL; its URL's 5xx raise an alarm."
  type        = map(string)
  default     = {}
}

variable "api_id" {
  type = string
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget: crossing 80% of it (or a forecast over it) means the stack left the free tier."
  type        = number
  default     = 5
}

variable "tags" {
  type    = map(string)
  default = {}
}
