terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    mongodbatlas = {
      source  = "mongodb/mongodbatlas"
      version = "~> 2.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State in S3 (versioned, encrypted, native lock file): scripts/deploy passes
  # -backend-config=backend.hcl (bucket, key, region), see docs/runbooks/first-deploy.md.
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = { project = "vwc", environment = "prod", managed_by = "terraform" }
  }
}

# Credentials from MONGODB_ATLAS_PUBLIC_KEY / MONGODB_ATLAS_PRIVATE_KEY (or a service account).
provider "mongodbatlas" {}
