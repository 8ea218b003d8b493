variable "function" {
  description = <<-EOT
    This function: its name (also its IAM role's and log group's), the cargo-lambda zip
    (target/lambda/<binary>/bootstrap.zip), sizing and environment variables (its configuration itself comes
    from SSM under ssm_path, e.g. /vwc/prod/api, no trailing slash). Then what is its own and so named in its
    policy, each null (or empty) when it has none: the Parameter Store path, the EventBridge bus it may
    PutEvents to (its outbox relay), the SQS queue it consumes, the SES identities it may send from with the one
    From address it may use (the notification delivery worker only), and the attachments bucket it reads and
    writes objects in (the API function only).
  EOT
  type = object({
    name                   = string
    description            = optional(string, "")
    zip_path               = string
    memory_mb              = optional(number, 256)
    timeout_seconds        = optional(number, 30)
    environment            = optional(map(string), {})
    ssm_path               = optional(string)
    bus_arn                = optional(string)
    consumer_queue_arn     = optional(string)
    ses_identity_arns      = optional(list(string), [])
    ses_from_address       = optional(string)
    attachments_bucket_arn = optional(string)
  })
}

variable "shared" {
  description = <<-EOT
    What every function of the environment shares: the CMK for environment variables, logs and the SecureString
    parameters; the SQS queue receiving asynchronous invocations (schedules) that failed every retry; the log
    retention; the subnets and security groups when Atlas is reached through a private endpoint (null: no VPC);
    tags.
  EOT
  type = object({
    kms_key_arn           = string
    async_dead_letter_arn = string
    log_retention_days    = optional(number, 30)
    vpc = optional(object({
      subnet_ids         = list(string)
      security_group_ids = list(string)
    }))
    tags = optional(map(string), {})
  })
}
