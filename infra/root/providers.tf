terraform {
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

# MongoDB Atlas is required and pinned by modules/atlas, and configured by nothing here: it takes its
# credentials from MONGODB_ATLAS_PUBLIC_KEY / MONGODB_ATLAS_PRIVATE_KEY (or a service account), so the default
# (empty) configuration Terraform gives a provider no block configures is all it needs. The lock file
# (.terraform.lock.hcl, here) records it with the others.
