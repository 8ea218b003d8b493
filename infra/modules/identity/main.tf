# The default token issuer: a Cognito user pool and the dashboard's app client. The API Gateway JWT
# authorizer and the API function both check its issuer and audience (the app client id).
# The API also needs the `org` and `roles` claims: the pool keeps them as custom attributes, and a
# pre-token-generation trigger must copy them into the token (not provided here; see docs/runbooks).

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  user_pool_tier           = "LITE" # sign-in and tokens are all the API needs; the cheapest plan
  deletion_protection      = "ACTIVE"
  mfa_configuration        = "OPTIONAL"
  auto_verified_attributes = ["email"]
  username_attributes      = ["email"]

  software_token_mfa_configuration {
    enabled = true
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
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  # Only the user pool writes org and roles (through an administrator), never the user.
  write_attributes = ["email"]
}

data "aws_region" "current" {}
