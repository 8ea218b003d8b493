# The Terraform and AWS provider versions, pinned once: the root's and every module's versions.tf is a link to
# this file, so a version is bumped in one place. modules/atlas pins its own (Terraform allows a module one
# required_providers block, and it needs mongodbatlas and random too); service_grant, with no resource, none.
terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
