# The HTTP API (API Gateway v2) in front of the API function: `/v1/*` behind a JWT authorizer, the
# dealer webhook (HMAC-signed, verified by the function), the signed calendar feeds (HMAC in the URL,
# verified by the function), health and the OpenAPI document without one.

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  # The dashboard reaches the API through its own CloudFront distribution (same origin): CORS only for
  # origins named here.
  dynamic "cors_configuration" {
    for_each = length(var.cors_origins) > 0 ? [var.cors_origins] : []
    content {
      allow_origins = cors_configuration.value
      allow_methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
      allow_headers = ["authorization", "content-type", "idempotency-key", "accept"]
      max_age       = 600
    }
  }
  tags = var.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  authorizer_type  = "JWT"
  name             = "jwt"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.api_function_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

locals {
  # Routes that carry their own proof (a webhook signature, a signed calendar URL) or none (health, the
  # public contract, and how to sign in, which a page reads before it has a token; more specific than
  # `/v1/{proxy+}`, so it wins).
  public_routes = toset([
    "GET /healthz",
    "GET /readyz",
    "GET /openapi.json",
    "GET /v1/auth/config",
    "POST /webhooks/dealers/{dealerId}",
    "GET /calendar/{proxy+}",
  ])
}

resource "aws_apigatewayv2_route" "authorized" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /v1/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:Health, the OpenAPI document, the sign-in configuration, the dealer webhook and the signed calendar feeds are public by contract; the webhook is authenticated by its Standard Webhooks HMAC signature and each calendar URL by its HMAC signature inside the function.
  for_each  = local.public_routes
  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is a per-environment variable (14 days dev, 90 prod): a year of operational logs is a cost, not a control, for this project; the records that matter are in the databases.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttle_rate
    throttling_burst_limit = var.throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId   = "$context.requestId"
      ip          = "$context.identity.sourceIp"
      time        = "$context.requestTime"
      method      = "$context.httpMethod"
      route       = "$context.routeKey"
      status      = "$context.status"
      latencyMs   = "$context.responseLatency"
      authorizer  = "$context.authorizer.error"
      integration = "$context.integrationErrorMessage"
    })
  }
  tags = var.tags
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = var.api_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
