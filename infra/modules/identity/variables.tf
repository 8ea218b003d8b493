variable "name" {
  type = string
}

variable "callback_urls" {
  description = "Where the hosted sign-in returns (the dashboard)."
  type        = list(string)
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "token_claims_function" {
  description = "The pre-token-generation function (vwc-lambda-token-claims) that puts org and roles into tokens."
  type = object({
    arn  = string
    name = string
  })
}
