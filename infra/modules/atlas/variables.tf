variable "org_id" {
  description = "Atlas organisation id."
  type        = string
}

variable "project_name" {
  type = string
}

variable "cluster_name" {
  type    = string
  default = "vwc"
}

variable "cluster_tier" {
  description = "M0 (free, no backups) or FLEX (daily snapshots, billed by operations)."
  type        = string
  default     = "M0"
  validation {
    condition     = contains(["M0", "FLEX"], var.cluster_tier)
    error_message = "cluster_tier is M0 or FLEX."
  }
}

variable "region" {
  description = "Atlas region name, e.g. US_EAST_1 (the same AWS region as the functions)."
  type        = string
}

variable "database_prefix" {
  description = "Databases are <prefix>_<service> (vwc --mongodb-prefix)."
  type        = string
  default     = "vwc"
}

variable "services" {
  description = "Services owning a database; each gets a user limited to it."
  type        = list(string)
}

variable "composite_users" {
  description = "Users of functions that host several services (the API composes every service's routes): user → services."
  type        = map(list(string))
  default     = {}
}

variable "access_cidrs" {
  description = "IP access list. Lambda outside a VPC has no fixed egress address, hence 0.0.0.0/0 by default: TLS and per-service credentials guard the cluster; choose private_endpoint to close it."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "private_endpoint" {
  description = "Reach Atlas through AWS PrivateLink (dedicated tiers only) from these subnets."
  type = object({
    vpc_id             = string
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "alert_email" {
  description = "Where Atlas sends its alerts (Atlas cannot publish to SNS; subscribe the same address there)."
  type        = string
}
