variable "name" {
  type = string
}

variable "callback_urls" {
  description = "Where the hosted sign-in returns (the dashboard's root, with its trailing slash: the page's redirect_uri)."
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

variable "domain_prefix" {
  description = "Prefix of the Cognito domain (<prefix>.auth.<region>.amazoncognito.com); unique in the region."
  type        = string
}
