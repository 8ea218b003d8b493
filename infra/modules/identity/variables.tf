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
