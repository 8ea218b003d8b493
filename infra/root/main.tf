# The one Terraform root every environment deploys: one environment of the Vehicle Wellness Center on AWS +
# MongoDB Atlas, configured by the environment's settings (infra/environments/<env>/settings.tfvars,
# committed), its operator's terraform.tfvars and its backend.hcl (both git-ignored); scripts/deploy passes all
# three, see infra/README.md. Every consumer in contracts/routes.json (through the generated tfvars) gets a
# queue, a DLQ, a rule and a consumer function: a service added to routes.json joins without a change here.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # Where scripts/package leaves the zips: <lambda_dir>/<binary>/bootstrap.zip.
  lambda_dir = "${path.root}/../../target/lambda"
  prefix     = "vwc-${var.environment}"
  bus_name   = local.prefix
  ssm_root   = "/vwc/${var.environment}"
  tags       = merge({ project = "vwc", environment = var.environment }, var.tags)
  send_mail  = var.email_from != null && var.ses_identity_arn != null

  # Services owning a database: ingestion (the write side, no consumer) and every consumer.
  services = distinct(concat(
    ["ingestion"],
    keys(var.consumers),
    var.enable_revaluation ? ["valuation"] : [],
    var.enable_chat ? ["chat-historian"] : [],
  ))

  # Every function: its binary, the Atlas user it connects as, the queue it consumes, and its sizing; what an
  # entry leaves out is the default's (256 MB, no queue, publishes through the bus, no extra environment).
  function_default = { queue = null, memory_mb = 256, publishes = true, environment = {} }
  consumer_functions = {
    for c in keys(var.consumers) : "consumer-${c}" => {
      binary      = "vwc-lambda-consumer"
      description = "Consumes the ${c} queue (partial batch failures)"
      db_user     = c
      queue       = c
      memory_mb   = var.consumer.memory_mb
      timeout     = var.consumer.timeout_seconds
      environment = { VWC_SERVICE = c }
    }
  }
  functions = { for name, f in merge(
    {
      # No CORS: the dashboard calls the API on its own origin (its distribution routes the API's paths here),
      # and naming the distribution would make the API depend on itself through it.
      api      = { binary = "vwc-lambda-api", description = "The HTTP API behind API Gateway", db_user = "api", memory_mb = var.api_memory_mb, timeout = 29 }
      sweep    = { binary = "vwc-lambda-sweep", description = "The daily maintenance sweep", db_user = "maintenance-scheduler", timeout = 300 }
      delivery = { binary = "vwc-lambda-delivery", description = "Sends due notification deliveries (webhooks, e-mail, retries)", db_user = "notification", timeout = 60 }
    },
    local.consumer_functions,
    var.enable_revaluation ? {
      revaluation = { binary = "vwc-lambda-revalue", description = "The daily re-valuation", db_user = "valuation", timeout = 300 }
    } : {},
    # The chat reads and writes its store only (conversations, the audit trail) and publishes nothing: no bus,
    # no bus parameter. No CORS: the dashboard's distribution routes the chat's paths here.
    var.enable_chat ? {
      chat = { binary = "vwc-lambda-chat", description = "The chat historian, streamed through a function URL", db_user = "chat-historian", memory_mb = 512, timeout = 120, publishes = false }
    } : {},
  ) : name => merge(local.function_default, f) }

  # Scheduled functions: the rule, and the permission for that rule (only) to invoke the function.
  schedules = merge(
    {
      sweep    = var.sweep_schedule
      delivery = var.delivery_schedule
    },
    var.enable_revaluation ? { revaluation = var.revaluation_schedule } : {},
  )

  jwt = var.jwt != null ? var.jwt : {
    issuer   = module.identity[0].issuer
    audience = module.identity[0].audience
    jwks_url = module.identity[0].jwks_url
  }

  # The dashboard's OpenID Connect sign-in: the Cognito pool's app client (it sends the ID token, whose
  # `aud` is the client id the authorizer checks), or what var.dashboard_sign_in names for another issuer.
  sign_in = var.jwt == null ? {
    authority       = module.identity[0].issuer
    client_id       = module.identity[0].audience
    scope           = "openid email"
    api_token       = "id"
    connect_origins = module.identity[0].sign_in_origins
  } : var.dashboard_sign_in

  # Parameter Store, per function: "<function>/<name>" → value.
  common_parameters = merge([
    for name, f in local.functions : {
      "${name}/mongodb_uri"    = module.atlas.connection_strings[f.db_user]
      "${name}/mongodb_prefix" = "vwc"
    }
  ]...)
  # Only a function that publishes is told the bus's name (the chat function publishes nothing).
  bus_parameters = { for name, f in local.functions : "${name}/bus_name" => module.bus.bus.name if f.publishes }

  parameters = merge(
    local.common_parameters,
    local.bus_parameters,
    {
      "api/attachments_bucket" = module.attachments_bucket.bucket.bucket
      # Where users reach the API: signed calendar URLs start with it, never with a host a request names.
      # No cycle: the distribution needs the HTTP API's endpoint and the chat's URL, not module.function.
      "api/public_url"   = module.dashboard.url
      "api/jwks_url"     = local.jwt.jwks_url
      "api/jwt_issuer"   = local.jwt.issuer
      "api/jwt_audience" = local.jwt.audience
    },
    # How the dashboard signs in (`GET /v1/auth/config`): Cognito's hosted sign-in by default.
    local.sign_in == null ? {} : {
      "api/oidc_authority" = local.sign_in.authority
      "api/oidc_client_id" = local.sign_in.client_id
      "api/oidc_scope"     = local.sign_in.scope
      "api/oidc_api_token" = local.sign_in.api_token
    },
    var.enable_chat ? {
      "chat/jwks_url"     = local.jwt.jwks_url
      "chat/jwt_issuer"   = local.jwt.issuer
      "chat/jwt_audience" = local.jwt.audience
    } : {},
    local.send_mail ? { "delivery/email_from" = var.email_from } : {},
  )
  # What modules/function is told of each function: its name, zip, sizing, Parameter Store path and VWC_ENV
  # follow from its key; what its policy names follows from what it is (the bus when it publishes, its queue
  # when it consumes one, the attachments bucket for the API, SES for the delivery worker).
  function_inputs = {
    for k, f in local.functions : k => {
      name                   = "${local.prefix}-${k}"
      description            = f.description
      zip_path               = "${local.lambda_dir}/${f.binary}/bootstrap.zip"
      memory_mb              = f.memory_mb
      timeout_seconds        = f.timeout
      ssm_path               = "${local.ssm_root}/${k}"
      environment            = merge({ VWC_ENV = "${var.environment}/${k}" }, f.environment)
      bus_arn                = f.publishes ? module.bus.bus.arn : null
      consumer_queue_arn     = f.queue == null ? null : module.bus.queue_arns[f.queue]
      attachments_bucket_arn = k == "api" ? module.attachments_bucket.bucket.arn : null
      ses_identity_arns      = k == "delivery" && local.send_mail ? [var.ses_identity_arn] : []
      ses_from_address       = k == "delivery" ? var.email_from : null
    }
  }
  # What every function shares. With PrivateLink to Atlas the functions run in its subnets.
  function_shared = {
    kms_key_arn           = aws_kms_key.this.arn
    async_dead_letter_arn = module.failures.queues["lambda-async"].arn
    log_retention_days    = var.log_retention_days
    vpc = var.atlas_private_endpoint == null ? null : {
      subnet_ids         = var.atlas_private_endpoint.subnet_ids
      security_group_ids = var.atlas_private_endpoint.security_group_ids
    }
    tags = local.tags
  }

  operator_parameters = toset(concat(
    # The API function serves the chat routes too (API Gateway clients), so both read the optional LLM key
    # (created as `unset`, which the code reads as "no provider").
    ["api/dealer_integration", "api/llm_api_key"],
    var.enable_chat ? ["chat/llm_api_key"] : [],
  ))
}

module "atlas" {
  source           = "../modules/atlas"
  org_id           = var.atlas_org_id
  project_name     = local.prefix
  cluster_tier     = var.atlas_cluster_tier
  region           = var.atlas_region
  services         = local.services
  composite_users  = { api = local.services }
  access_cidrs     = var.atlas_access_cidrs
  private_endpoint = var.atlas_private_endpoint
  alert_email      = var.alarm_email
}

module "bus" {
  source                   = "../modules/bus"
  bus_name                 = local.bus_name
  consumers                = var.consumers
  max_receive_count        = var.max_receive_count
  consumer_timeout_seconds = var.consumer.timeout_seconds
  tags                     = local.tags
}

# Dead-letter queues of the functions' own invocations: asynchronous invocations (the schedules) that failed
# every retry, and scheduled events EventBridge could not deliver to a function.
module "failures" {
  source = "../modules/dead_letters"
  names = {
    lambda-async = "${local.prefix}-lambda-async-dlq"
    schedule     = "${local.prefix}-schedule-dlq"
  }
  tags = local.tags
}

# Only the schedule rules may dead-letter into it.
module "schedule_failures_policy" {
  source   = "../modules/service_grant"
  services = ["events.amazonaws.com"]
  statements = {
    AllowTheScheduleRules = { actions = ["sqs:SendMessage"], resources = [module.failures.queues["schedule"].arn] }
  }
  condition = {
    test     = "ArnEquals"
    variable = "aws:SourceArn"
    values   = [for r in aws_cloudwatch_event_rule.schedule : r.arn]
  }
}

resource "aws_sqs_queue_policy" "schedule_failures" {
  queue_url = module.failures.queues["schedule"].id
  policy    = module.schedule_failures_policy.json
}

module "identity" {
  count         = var.jwt == null ? 1 : 0
  source        = "../modules/identity"
  name          = local.prefix
  callback_urls = ["${module.dashboard.url}/"]
  domain_prefix = "${local.prefix}-${data.aws_caller_identity.current.account_id}"
  token_claims_function = {
    arn  = module.token_claims[0].lambda.arn
    name = module.token_claims[0].lambda.function_name
  }
  tags = local.tags
}

# Cognito's pre-token-generation trigger: no database, no bus, no parameters — user attributes in, claims out.
module "token_claims" {
  count  = var.jwt == null ? 1 : 0
  source = "../modules/function"
  function = {
    name            = "${local.prefix}-token-claims"
    description     = "Puts org and roles into Cognito tokens"
    zip_path        = "${local.lambda_dir}/vwc-lambda-token-claims/bootstrap.zip"
    memory_mb       = 128
    timeout_seconds = 5
  }
  # Outside the VPC even with PrivateLink: it reaches no database.
  shared = merge(local.function_shared, { vpc = null })
}

module "parameters" {
  source           = "../modules/parameters"
  path_prefix      = local.ssm_root
  kms_key_arn      = aws_kms_key.this.arn
  values           = local.parameters
  operator_managed = local.operator_parameters
  tags             = local.tags
}

module "function" {
  source     = "../modules/function"
  for_each   = { for k, f in local.function_inputs : k => f if k != "chat" }
  function   = each.value
  shared     = local.function_shared
  depends_on = [module.parameters]
}

# The chat function apart from module.function, and not ordered after module.parameters: the dashboard's
# distribution has its URL as an origin, and the Cognito app client — whose audience is in the parameters —
# has the distribution as its callback, so that ordering would be a cycle. Until its parameters exist (the
# seconds of a first apply) a cold start fails and the next one reads them. It publishes nothing: no bus.
module "chat_function" {
  source   = "../modules/function"
  for_each = { for k, f in local.function_inputs : k => f if k == "chat" }
  function = each.value
  shared   = local.function_shared
}

resource "aws_lambda_event_source_mapping" "consumer" {
  for_each                           = var.consumers
  event_source_arn                   = module.bus.queue_arns[each.key]
  function_name                      = module.function["consumer-${each.key}"].lambda.arn
  batch_size                         = var.consumer.batch_size
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.consumer.max_concurrency
  }
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = local.schedules
  name                = "${local.prefix}-${each.key}"
  description         = "Runs ${local.prefix}-${each.key} (${each.value})"
  schedule_expression = each.value
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each  = local.schedules
  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = each.key
  arn       = module.function[each.key].lambda.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 3
  }

  dead_letter_config {
    arn = module.failures.queues["schedule"].arn
  }
}

# Without this the rule fires and Lambda refuses it: the scheduled rule may invoke its own function only.
resource "aws_lambda_permission" "schedule" {
  for_each      = local.schedules
  statement_id  = "AllowScheduleRule"
  action        = "lambda:InvokeFunction"
  function_name = module.function[each.key].lambda.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}

module "http_api" {
  source                  = "../modules/http_api"
  name                    = local.prefix
  api_function_name       = module.function["api"].lambda.function_name
  api_function_invoke_arn = module.function["api"].lambda.invoke_arn
  jwt_issuer              = local.jwt.issuer
  jwt_audience            = [local.jwt.audience]
  cors_origins            = [] # the dashboard's distribution routes the API's paths: same origin
  throttle_rate           = var.throttle_rate
  throttle_burst          = var.throttle_burst
  kms_key_arn             = aws_kms_key.this.arn
  log_retention_days      = var.log_retention_days
  tags                    = local.tags
}

# Chat answers stream (SSE) through a function URL in RESPONSE_STREAM mode: API Gateway HTTP APIs buffer
# responses and end them at 29 s. The URL's auth type is AWS_IAM and only the dashboard's distribution may
# invoke it (origin access control signs each request); the function then verifies the viewer's bearer token
# itself (RS256 via the JWKS, issuer, audience, expiry), as the API function does.
resource "aws_lambda_function_url" "chat" {
  count              = var.enable_chat ? 1 : 0
  function_name      = module.chat_function["chat"].lambda.function_name
  authorization_type = "AWS_IAM"
  invoke_mode        = "RESPONSE_STREAM"
}

# Only the dashboard's distribution may invoke it: lambda:InvokeFunctionUrl through the URL, and
# lambda:InvokeFunction, which function URLs created since late 2025 also need for the same principal.
resource "aws_lambda_permission" "chat" {
  for_each = var.enable_chat ? {
    AllowDashboardDistributionThroughUrl = "lambda:InvokeFunctionUrl"
    AllowDashboardDistributionToInvoke   = "lambda:InvokeFunction"
  } : {}
  statement_id           = each.key
  action                 = each.value
  function_name          = module.chat_function["chat"].lambda.function_name
  principal              = "cloudfront.amazonaws.com"
  source_arn             = module.dashboard.distribution.arn
  function_url_auth_type = each.value == "lambda:InvokeFunctionUrl" ? "AWS_IAM" : null
}

module "dashboard" {
  source       = "../modules/dashboard"
  bucket_name  = "${local.prefix}-dashboard-${data.aws_caller_identity.current.account_id}"
  api_endpoint = module.http_api.endpoint
  # The chat's paths stream from its function URL (disabled: the API serves them, buffered).
  chat_enabled      = var.enable_chat
  chat_function_url = var.enable_chat ? aws_lambda_function_url.chat[0].function_url : null
  # Not through local.sign_in: it also names the app client, whose callback URL is this distribution.
  connect_src_origins = var.jwt == null ? module.identity[0].sign_in_origins : (
    var.dashboard_sign_in == null ? [] : var.dashboard_sign_in.connect_origins
  )
  tags = local.tags
}

module "alarms" {
  source      = "../modules/alarms"
  name        = "${local.prefix}-alarms"
  kms_key_arn = aws_kms_key.this.arn
  alarm_email = var.alarm_email
  dead_letter_queues = merge(
    module.bus.dead_letter_queues,
    { for k, q in module.failures.queues : "${k}-dlq" => q.name },
  )
  function_names = merge(
    { for k, f in module.function : k => f.lambda.function_name },
    { for k, f in module.chat_function : k => f.lambda.function_name },
    { for f in module.token_claims : "token-claims" => f.lambda.function_name },
  )
  url_function_names = { for k, f in module.chat_function : k => f.lambda.function_name }
  api_id             = module.http_api.api_id
  monthly_budget_usd = var.monthly_budget_usd
  tags               = local.tags
}
