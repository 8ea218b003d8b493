# The default token issuer: a Cognito user pool and the dashboard's app client. The API Gateway JWT
# authorizer and the API function both check its issuer and audience (the app client id, the `aud` of ID
# tokens: clients send the ID token). The API also needs the `org` and `roles` claims: the pool keeps them as
# custom attributes that only administrators set, and the pre-token-generation trigger (V2, which needs the
# Essentials plan) copies them into the tokens.

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  user_pool_tier           = "ESSENTIALS" # the V2 pre-token-generation trigger needs it
  deletion_protection      = "ACTIVE"
  mfa_configuration        = "OPTIONAL"
  auto_verified_attributes = ["email"]
  username_attributes      = ["email"]

  software_token_mfa_configuration {
    enabled = true
  }

  lambda_config {
    pre_token_generation_config {
      lambda_arn     = var.token_claims_function.arn
      lambda_version = "V2_0"
    }
  }

  password_policy {
    minimum_length    = 12
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = false
  }

  schema {
    name                     = "org"
    attribute_data_type      = "String"
    mutable                  = false
    developer_only_attribute = false
    string_attribute_constraints {
      min_length = 1
      max_length = 64
    }
  }

  schema {
    name                     = "roles"
    attribute_data_type      = "String"
    mutable                  = true
    developer_only_attribute = false
    string_attribute_constraints {
      min_length = 1
      max_length = 128
    }
  }

  tags = var.tags
}

resource "aws_cognito_user_pool_client" "dashboard" {
  name                                 = "${var.name}-dashboard"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = var.callback_urls
  logout_urls                          = var.callback_urls
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  # Only the user pool writes org and roles (through an administrator), never the user.
  write_attributes = ["email"]
}

# The hosted sign-in pages and the OAuth endpoints (/oauth2/authorize, /oauth2/token) the dashboard's
# authorization code flow with PKCE uses; the pool's discovery document names them. The classic hosted UI
# (no managed-login branding to create).
resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_lambda_permission" "token_claims" {
  statement_id  = "AllowThisUserPool"
  action        = "lambda:InvokeFunction"
  function_name = var.token_claims_function.name
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = aws_cognito_user_pool.this.arn
}

data "aws_region" "current" {}
