variable "path_prefix" {
  description = "/vwc/<env>; each function's parameters live under <path_prefix>/<function>/."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "values" {
  description = "\"<function>/<name>\" → value, kept in line by Terraform (connection strings, JWT and bus settings)."
  type        = map(string)
  sensitive   = true
}

variable "operator_managed" {
  description = "\"<function>/<name>\" entries Terraform only creates (with a placeholder): operators set and rotate them (the LLM key, dealer integration settings); see docs/runbooks/secrets.md."
  type        = set(string)
  default     = []
}

variable "tags" {
  type    = map(string)
  default = {}
}
