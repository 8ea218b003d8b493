# The dev environment: Atlas M0 (free), small budget, short log retention. Committed; what is the operator's
# (account ids, addresses) goes in terraform.tfvars beside it (git-ignored, see terraform.tfvars.example).
environment        = "dev"
atlas_cluster_tier = "M0"
monthly_budget_usd = 5
log_retention_days = 14
