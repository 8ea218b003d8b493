terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    mongodbatlas = {
      source  = "mongodb/mongodbatlas"
      version = "~> 2.0"
    }
  }

  # State in S3 (versioned, encrypted, native lock file), one state per environment: scripts/deploy passes
  # -backend-config=infra/environments/<env>/backend.hcl (bucket, key, region), see docs/runbooks/first-deploy.md.
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = { project = "vwc", environment = var.environment, managed_by = "terraform" }
  }
}

# Credentials from MONGODB_ATLAS_PUBLIC_KEY / MONGODB_ATLAS_PRIVATE_KEY (or a service account).
provider "mongodbatlas" {}
