# The prod environment: Atlas Flex (daily snapshots for restores), more consumer concurrency, longer logs.
# Committed; what is the operator's (account ids, addresses) goes in terraform.tfvars beside it (git-ignored).
environment        = "prod"
atlas_cluster_tier = "FLEX"
monthly_budget_usd = 50
log_retention_days = 90

consumer = {
  timeout_seconds = 30
  memory_mb       = 256
  batch_size      = 10
  max_concurrency = 5
}
throttle_rate  = 200
throttle_burst = 400
