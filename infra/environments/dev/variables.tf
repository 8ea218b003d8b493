variable "consumers" {
  description = "Set by routes.auto.tfvars.json (generated from contracts/routes.json; do not edit)."
  type = map(object({
    queue             = string
    dead_letter_queue = string
    rule              = string
    detail_types      = list(string)
    event_pattern     = string
  }))
}

variable "max_receive_count" {
  description = "Set by routes.auto.tfvars.json."
  type        = number
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
  description = "An external issuer instead of the Cognito user pool (null)."
  type = object({
    issuer   = string
    audience = string
    jwks_url = string
  })
  default = null
}

variable "dashboard_sign_in" {
  description = "With an external issuer (jwt): the OpenID Connect client the dashboard signs in with; null: tokens are pasted."
  type = object({
    authority       = string
    client_id       = string
    scope           = string
    api_token       = string
    connect_origins = list(string)
  })
  default = null
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
