# The dev environment: Atlas M0 (free), small budget, short log retention.

module "stack" {
  source             = "../../modules/stack"
  environment        = "dev"
  consumers          = var.consumers
  max_receive_count  = var.max_receive_count
  lambda_dir         = "${path.root}/../../../target/lambda"
  atlas_org_id       = var.atlas_org_id
  atlas_cluster_tier = "M0"
  atlas_region       = var.atlas_region
  alarm_email        = var.alarm_email
  email_from         = var.email_from
  ses_identity_arn   = var.ses_identity_arn
  jwt                = var.jwt
  dashboard_sign_in  = var.dashboard_sign_in
  monthly_budget_usd = 5
  log_retention_days = 14

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
