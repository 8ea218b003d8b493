output "issuer" {
  value = "https://cognito-idp.${data.aws_region.current.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

output "audience" {
  value = aws_cognito_user_pool_client.dashboard.id
}

output "jwks_url" {
  value = "https://cognito-idp.${data.aws_region.current.region}.amazonaws.com/${aws_cognito_user_pool.this.id}/.well-known/jwks.json"
}

output "sign_in_origins" {
  description = "Origins the dashboard fetches from to sign in: the discovery document's and the token endpoint's."
  value = [
    "https://cognito-idp.${data.aws_region.current.region}.amazonaws.com",
    "https://${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.region}.amazoncognito.com",
  ]
}
