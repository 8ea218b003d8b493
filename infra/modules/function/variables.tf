variable "name" {
  description = "Function name (also the IAM role's and the log group's)."
  type        = string
}

variable "description" {
  type    = string
  default = ""
}

variable "zip_path" {
  description = "The cargo-lambda zip (target/lambda/<binary>/bootstrap.zip)."
  type        = string
}

variable "memory_mb" {
  type    = number
  default = 256
}

variable "timeout_seconds" {
  type    = number
  default = 30
}

variable "environment" {
  description = "Environment variables; configuration itself comes from SSM under ssm_path."
  type        = map(string)
  default     = {}
}

variable "ssm_path" {
  description = "The function's own Parameter Store path, e.g. /vwc/prod/api (no trailing slash); null when it reads none."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "CMK for environment variables, logs and the SecureString parameters."
  type        = string
}

variable "bus_arn" {
  description = "The EventBridge bus the function may PutEvents to (its outbox relay); null when it publishes nothing."
  type        = string
  default     = null
}

variable "consumer_queue_arn" {
  description = "The SQS queue this function consumes (null for functions not fed by a queue)."
  type        = string
  default     = null
}

variable "ses_identity_arns" {
  description = "SES identities the function may send from (only the notification delivery worker)."
  type        = list(string)
  default     = []
}

variable "ses_from_address" {
  description = "The only From address the function may use with SES."
  type        = string
  default     = null
}

variable "attachments_bucket_arn" {
  description = "The attachments bucket this function reads and writes objects in (the API function only); null for none."
  type        = string
  default     = null
}

variable "async_dead_letter_arn" {
  description = "SQS queue receiving asynchronous invocations (schedules) that failed every retry."
  type        = string
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "vpc" {
  description = "Subnets and security groups when Atlas is reached through a private endpoint."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "tags" {
  type    = map(string)
  default = {}
}
