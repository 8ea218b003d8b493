# What an environment sets: infra/environments/<env>/settings.tfvars (committed: the name and the sizing), the
# operator's terraform.tfvars (account and addresses), and the generated routes.auto.tfvars.json. What an
# environment leaves out takes the default here; variables with `nullable = false` take it when given null too.

variable "environment" {
  description = "dev, prod, …: from the environment's settings.tfvars; names every resource (vwc-<environment>-…), tags it, and the SSM path /vwc/<environment>/."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "An environment name is 2 to 16 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "consumers" {
  description = "Generated from contracts/routes.json (infra/generated/routes.auto.tfvars.json): one queue, DLQ, rule and consumer function each. Typed by modules/bus, which builds them; the root uses only the names."
  type        = map(any)
}

variable "max_receive_count" {
  description = "Generated with the routes: receives before a message is dead-lettered."
  type        = number
}

variable "atlas_org_id" {
  type = string
}

variable "atlas_cluster_tier" {
  description = "M0 (free) or FLEX."
  type        = string
  default     = "M0"
  nullable    = false
}

variable "atlas_region" {
  description = "Atlas region name matching the AWS region, e.g. US_EAST_1."
  type        = string
  default     = "US_EAST_1"
}

variable "atlas_access_cidrs" {
  type    = list(string)
  default = ["0.0.0.0/0"]
}

variable "atlas_private_endpoint" {
  description = "Optional PrivateLink to a dedicated Atlas tier: { vpc_id, subnet_ids, security_group_ids }, typed by modules/atlas (private_endpoint). The functions then run in these subnets (they need a NAT or VPC endpoints for AWS APIs and outbound webhooks)."
  type        = any
  default     = null
}

variable "alarm_email" {
  type = string
}

variable "jwt" {
  description = "Token issuer for the JWT authorizer and the API function; null creates a Cognito user pool and uses it."
  type = object({
    issuer   = string
    audience = string
    jwks_url = string
  })
  default = null
}

variable "dashboard_sign_in" {
  description = "With var.jwt (another issuer): the OpenID Connect client the dashboard signs in with (authority, public client id, scope, api_token `access` or `id`, and the origins of its discovery and token endpoints). null: tokens are pasted."
  type = object({
    authority       = string
    client_id       = string
    scope           = string
    api_token       = string
    connect_origins = list(string)
  })
  default = null
}

variable "email_from" {
  description = "From address of reminder e-mail (an SES-verified identity); null sends no e-mail."
  type        = string
  default     = null
}

variable "ses_identity_arn" {
  description = "ARN of the SES identity (domain or address) email_from belongs to."
  type        = string
  default     = null
}

variable "consumer" {
  description = "Consumer functions: timeout (queue visibility is 6×), memory, SQS batch and maximum concurrency (the Atlas connection budget)."
  type = object({
    timeout_seconds = number
    memory_mb       = number
    batch_size      = number
    max_concurrency = number
  })
  default = {
    timeout_seconds = 30
    memory_mb       = 256
    batch_size      = 10
    max_concurrency = 2
  }
  nullable = false
}

variable "api_memory_mb" {
  type    = number
  default = 512
}

variable "sweep_schedule" {
  description = "When the maintenance sweep runs (idempotent per day)."
  type        = string
  default     = "cron(0 6 * * ? *)"
}

variable "delivery_schedule" {
  description = "How often the notification delivery worker sends what is due (webhooks, e-mail, retries)."
  type        = string
  default     = "rate(1 minute)"
}

variable "enable_revaluation" {
  description = "The valuation service's daily re-valuation (vwc-lambda-revalue, packaged by scripts/package) on its schedule."
  type        = bool
  default     = true
  nullable    = false
}

variable "revaluation_schedule" {
  description = "When the daily re-valuation runs (with enable_revaluation)."
  type        = string
  default     = "cron(0 5 * * ? *)"
}

variable "enable_chat" {
  description = "The chat historian's streaming function (vwc-lambda-chat, packaged by scripts/package) behind a Lambda function URL in RESPONSE_STREAM mode, reached through the dashboard's distribution (API Gateway HTTP APIs buffer and stop at 29 s); false leaves the chat to the API function, buffered."
  type        = bool
  default     = true
  nullable    = false
}

variable "throttle_rate" {
  type     = number
  default  = 50
  nullable = false
}

variable "throttle_burst" {
  type     = number
  default  = 100
  nullable = false
}

variable "monthly_budget_usd" {
  type     = number
  default  = 5
  nullable = false
}

variable "log_retention_days" {
  type     = number
  default  = 30
  nullable = false
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "attachments_noncurrent_days" {
  description = "Days a replaced or deleted attachment's previous version is kept (versioning undoes mistakes for this long)."
  type        = number
  default     = 90
}
