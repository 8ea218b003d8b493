variable "name" {
  type = string
}

variable "api_function_name" {
  type = string
}

variable "api_function_invoke_arn" {
  type = string
}

variable "jwt_issuer" {
  type = string
}

variable "jwt_audience" {
  type = list(string)
}

variable "cors_origins" {
  description = "Origins allowed to call the API from a browser; none when the dashboard reaches it through its own distribution."
  type        = list(string)
  default     = []
}

variable "throttle_rate" {
  description = "Requests per second across the API (the API function runs without its own rate limiter in AWS)."
  type        = number
  default     = 50
}

variable "throttle_burst" {
  type    = number
  default = 100
}

variable "kms_key_arn" {
  type = string
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "tags" {
  type    = map(string)
  default = {}
}
