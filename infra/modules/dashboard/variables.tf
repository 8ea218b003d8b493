variable "bucket_name" {
  type = string
}

variable "price_class" {
  type    = string
  default = "PriceClass_100"
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "api_endpoint" {
  description = "The HTTP API's invoke URL (https://…execute-api…); its paths are served through this distribution. null serves the dashboard alone."
  type        = string
  default     = null
}

variable "connect_src_origins" {
  description = "Origins the page may fetch from besides its own (the OpenID Connect provider's discovery and token endpoints)."
  type        = list(string)
  default     = []
}

variable "chat_enabled" {
  description = "Whether the chat's paths go to the chat function's URL (known at plan time, unlike the URL: counts depend on it). false leaves the chat to the API."
  type        = bool
  default     = false
}

variable "chat_function_url" {
  description = "The chat function's URL (https://…lambda-url…, auth type AWS_IAM, RESPONSE_STREAM) when chat_enabled; its paths are served through this distribution, signed by origin access control."
  type        = string
  default     = null
}
