variable "services" {
  description = "The service principals granted, e.g. [\"events.amazonaws.com\"]."
  type        = list(string)
}

variable "statements" {
  description = "Statement id → the actions it allows on which resources."
  type = map(object({
    actions   = list(string)
    resources = list(string)
  }))
}

variable "condition" {
  description = "Whose behalf the services act on, e.g. { test = \"ArnEquals\", variable = \"aws:SourceArn\", values = [rule ARN] }."
  type = object({
    test     = string
    variable = string
    values   = list(string)
  })

  validation {
    condition     = contains(["aws:SourceArn", "aws:SourceAccount", "AWS:SourceArn"], var.condition.variable) && length(var.condition.values) > 0
    error_message = "A service grant names its source: aws:SourceArn or aws:SourceAccount, with at least one value."
  }
}
