# What an environment sets. The shapes of structured values are declared once, by the module that uses them
# (modules/stack, modules/bus); a null here leaves the stack's default.

variable "consumers" {
  description = "Set by routes.auto.tfvars.json (generated from contracts/routes.json; do not edit). Typed by modules/bus."
  type        = map(any)
}

variable "max_receive_count" {
  description = "Set by routes.auto.tfvars.json."
  type        = number
}

variable "environment" {
  description = "dev, prod, …: from the environment's settings.tfvars; names every resource and tags it."
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

variable "atlas_org_id" {
  type = string
}

variable "atlas_region" {
  type    = string
  default = "US_EAST_1"
}

variable "atlas_cluster_tier" {
  description = "M0 (free) or FLEX; null: the stack's default."
  type        = string
  default     = null
}

variable "alarm_email" {
  type = string
}

variable "email_from" {
  type    = string
  default = null
}

variable "ses_identity_arn" {
  type    = string
  default = null
}

variable "jwt" {
  description = "An external issuer instead of the Cognito user pool (null): { issuer, audience, jwks_url }, see modules/stack."
  type        = any
  default     = null
}

variable "dashboard_sign_in" {
  description = "With an external issuer (jwt): the OpenID Connect client the dashboard signs in with, see modules/stack; null: tokens are pasted."
  type        = any
  default     = null
}

variable "enable_revaluation" {
  description = "The daily re-valuation (vwc-lambda-revalue, packaged by scripts/package) on its schedule."
  type        = bool
  default     = true
}

variable "enable_chat" {
  description = "The chat streamed by its own function (vwc-lambda-chat, packaged by scripts/package) through the dashboard's distribution; false leaves the chat to the API function (buffered, 29 s)."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "null: the stack's default."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "null: the stack's default."
  type        = number
  default     = null
}

variable "consumer" {
  description = "Consumer functions' timeout, memory, batch and concurrency (see modules/stack); null: the stack's default."
  type        = any
  default     = null
}

variable "throttle_rate" {
  description = "The HTTP API's steady requests per second; null: the stack's default."
  type        = number
  default     = null
}

variable "throttle_burst" {
  description = "The HTTP API's burst; null: the stack's default."
  type        = number
  default     = null
}
