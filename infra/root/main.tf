# The one Terraform root every environment deploys: `module "stack"` configured by the environment's
# settings (infra/environments/<env>/settings.tfvars, committed), its operator's terraform.tfvars and its
# backend.hcl (both git-ignored). scripts/deploy passes all three; see infra/README.md.

module "stack" {
  source             = "../modules/stack"
  environment        = var.environment
  consumers          = var.consumers
  max_receive_count  = var.max_receive_count
  lambda_dir         = "${path.root}/../../target/lambda"
  atlas_org_id       = var.atlas_org_id
  atlas_cluster_tier = var.atlas_cluster_tier
  atlas_region       = var.atlas_region
  alarm_email        = var.alarm_email
  email_from         = var.email_from
  ses_identity_arn   = var.ses_identity_arn
  jwt                = var.jwt
  dashboard_sign_in  = var.dashboard_sign_in
  monthly_budget_usd = var.monthly_budget_usd
  log_retention_days = var.log_retention_days
  consumer           = var.consumer
  throttle_rate      = var.throttle_rate
  throttle_burst     = var.throttle_burst

  revaluation = {
    enabled  = var.enable_revaluation
    binary   = "vwc-lambda-revalue"
    schedule = "cron(0 5 * * ? *)"
  }
  chat = {
    enabled         = var.enable_chat
    binary          = "vwc-lambda-chat"
    memory_mb       = 512
    timeout_seconds = 120
  }
}
