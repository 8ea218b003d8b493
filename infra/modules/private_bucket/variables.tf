variable "name" {
  description = "The bucket's globally unique name."
  type        = string
}

variable "kms_key_arn" {
  description = "The KMS key objects are encrypted with (SSE-KMS, with a bucket key); null: SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "lifecycle_rules" {
  description = "Lifecycle rules in order, before abort-incomplete-uploads (every bucket's): a prefix (null: the whole bucket) and after how many days objects, and replaced versions, expire."
  type = list(object({
    id              = string
    prefix          = optional(string)
    expiration_days = optional(number)
    noncurrent_days = optional(number)
  }))
  default = []
}

variable "policy" {
  description = "The bucket policy (JSON): who besides the account may do what."
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
}
