# The dashboard's static files: a private S3 bucket readable only by this CloudFront distribution through
# origin access control. `scripts/deploy` syncs dashboard/dist into it and invalidates the cache.
# The API's paths go through the same distribution to the HTTP API, uncached: the page calls its API on its
# own origin (no CORS, and the CSP's connect-src stays 'self' plus the sign-in provider).
# The chat's paths go to the chat function's URL instead (response streaming; API Gateway would buffer), signed
# by origin access control for Lambda, in a behaviour ordered before `/v1/*`.

locals {
  # The page's API calls, health, the contract and the dealer webhook: everything the HTTP API routes.
  api_path_patterns = ["/v1/*", "/webhooks/*", "/calendar/*", "/healthz", "/readyz", "/openapi.json"]
  # "https://abc.execute-api.eu-west-1.amazonaws.com" → the origin's host name.
  api_domain = var.api_endpoint == null ? null : trimsuffix(trimprefix(var.api_endpoint, "https://"), "/")
  # Every chat route: ask (POST …/chat), suggestions, a conversation, feedback. CloudFront's `*` spans `/`.
  chat_path_pattern = "/v1/vehicles/*/chat*"
  # "https://abc.lambda-url.eu-west-1.on.aws/" → the origin's host name.
  chat_domain = var.chat_enabled ? trimsuffix(trimprefix(var.chat_function_url, "https://"), "/") : null
  # Origins besides the bucket. An answer from the chat may wait for the LLM (8 s at most) before its first
  # byte: 60 s, the most CloudFront allows without a quota increase (the API keeps the default 30 s).
  custom_origins = concat(
    local.api_domain == null ? [] : [
      { id = "api", domain = local.api_domain, access_control = null, read_timeout = 30 },
    ],
    var.chat_enabled ? [
      { id = "chat", domain = local.chat_domain, access_control = aws_cloudfront_origin_access_control.this["lambda"].id, read_timeout = 60 },
    ] : [],
  )
  # The uncached behaviours in CloudFront's order. The chat's comes before `/v1/*`, which would otherwise take
  # its paths to API Gateway (which buffers the stream and ends it at 29 s); it is not compressed (compression
  # would hold events back) and carries the viewer's token past the signature (carry_authorization). A POST's
  # body must come with its SHA-256 in `x-amz-content-sha256` (Lambda accepts no unsigned payload); the
  # dashboard sends it.
  uncached_behaviors = concat(
    var.chat_enabled ? [
      { path = local.chat_path_pattern, origin = "chat", compress = false, carry_authorization = true },
    ] : [],
    local.api_domain == null ? [] : [
      for path in local.api_path_patterns : { path = path, origin = "api", compress = true, carry_authorization = false }
    ],
  )
  # The dashboard's policy as `vwc` serves it (services/vwc/src/dashboard.rs), plus the sign-in provider.
  content_security_policy = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    join(" ", concat(["connect-src 'self'"], var.connect_src_origins)),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])
}

# The bucket as every bucket here is kept (modules/private_bucket): private, owner-enforced, versioned,
# encrypted. SSE-S3, not the environment's key: CloudFront reads these files on every cache miss, and SSE-KMS
# would need the key to grant CloudFront decrypt and add a KMS request each time. Old bundles are kept a
# little for rollback, then removed.
module "bucket" {
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is used: SSE-KMS would need the CMK to grant CloudFront decrypt on every request and adds KMS request charges for public files.
  source = "../private_bucket"
  name   = var.bucket_name
  lifecycle_rules = [
    { id = "expire-old-bundles", noncurrent_days = 30 },
  ]
  policy = module.cloudfront_read.json
  tags   = var.tags
}

# Origin access control, by origin type: CloudFront signs every request (SigV4) to the bucket, and to the chat
# function URL, whose auth type is AWS_IAM, so nothing but this distribution can invoke it (the stack's
# permissions name the distribution).
resource "aws_cloudfront_origin_access_control" "this" {
  for_each = merge(
    { s3 = { name = var.bucket_name, description = null } },
    var.chat_enabled ? { lambda = { name = "${var.bucket_name}-chat", description = "Signs requests to the chat function URL" } } : {},
  )
  name                              = each.value.name
  description                       = each.value.description
  origin_access_control_origin_type = each.key
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# The signature overwrites the viewer's `Authorization` (the bearer token the function verifies), so the
# token travels to the function in `x-viewer-authorization` (services/vwc/src/lambda.rs puts it back). A
# viewer's own `x-viewer-authorization` is dropped: only what came as `Authorization` is carried.
resource "aws_cloudfront_function" "carry_authorization" {
  count   = var.chat_enabled ? 1 : 0
  name    = "${var.bucket_name}-carry-authorization"
  runtime = "cloudfront-js-2.0"
  comment = "Copies the viewer's Authorization to x-viewer-authorization before origin access control signs"
  publish = true
  code    = <<-EOT
    function handler(event) {
      var request = event.request;
      delete request.headers['x-viewer-authorization'];
      if (request.headers.authorization) {
        request.headers['x-viewer-authorization'] = { value: request.headers.authorization.value };
      }
      return request;
    }
  EOT
}

resource "aws_cloudfront_response_headers_policy" "security" {
  name = "${var.bucket_name}-security"
  security_headers_config {
    content_security_policy {
      content_security_policy = local.content_security_policy
      override                = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_68:AWS WAF costs at least a web ACL plus rules a month, more than this stack; the distribution serves static files only (the API has its own throttling).
  #checkov:skip=CKV_AWS_86:Standard logging needs a log bucket with ACLs; CloudFront's own metrics suffice for a static dashboard.
  #checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate is used (no custom domain), which fixes the minimum protocol; set a certificate and TLSv1.2_2021 with a custom domain.
  #checkov:skip=CKV_AWS_310:Origin failover needs a second copy of the bucket (and of the API, in another region); neither exists.
  #checkov:skip=CKV_AWS_374:The dashboard is for customers wherever they are; no geo restriction.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68), so no Log4j rule set.
  #checkov:skip=CKV2_AWS_42:No custom domain, so the default certificate (see CKV_AWS_174).
  enabled             = true
  default_root_object = "index.html"
  price_class         = var.price_class
  http_version        = "http2and3"
  comment             = "vwc dashboard"

  origin {
    domain_name              = module.bucket.bucket.bucket_regional_domain_name
    origin_id                = "dashboard"
    origin_access_control_id = aws_cloudfront_origin_access_control.this["s3"].id
  }

  # The HTTP API and the chat function URL (each when it exists); the chat's signed by origin access control
  # for Lambda and given longer for its first byte.
  dynamic "origin" {
    for_each = local.custom_origins
    content {
      domain_name              = origin.value.domain
      origin_id                = origin.value.id
      origin_access_control_id = origin.value.access_control
      custom_origin_config {
        http_port              = 80
        https_port             = 443
        origin_protocol_policy = "https-only"
        origin_ssl_protocols   = ["TLSv1.2"]
        origin_read_timeout    = origin.value.read_timeout
      }
    }
  }

  # The chat's behaviour and the API's, in local.uncached_behaviors' order (the chat's first). Never cached,
  # every method. Managed-CachingDisabled with Managed-AllViewerExceptHostHeader forwards every viewer header,
  # Authorization included (with caching off an origin request policy may forward it), every query string and
  # cookie, and lets the origin see its own Host.
  dynamic "ordered_cache_behavior" {
    for_each = local.uncached_behaviors
    content {
      path_pattern               = ordered_cache_behavior.value.path
      target_origin_id           = ordered_cache_behavior.value.origin
      viewer_protocol_policy     = "https-only"
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = ordered_cache_behavior.value.compress
      cache_policy_id            = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
      origin_request_policy_id   = "b689b0a8-53d0-40ab-baf2-68738e2966ac" # Managed-AllViewerExceptHostHeader
      response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
      dynamic "function_association" {
        for_each = ordered_cache_behavior.value.carry_authorization ? [aws_cloudfront_function.carry_authorization[0].arn] : []
        content {
          event_type   = "viewer-request"
          function_arn = function_association.value
        }
      }
    }
  }

  default_cache_behavior {
    target_origin_id           = "dashboard"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6" # Managed-CachingOptimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  # No custom_error_response: it would apply to the API's paths too and turn its 403 problems into the page
  # with a 200. The dashboard routes by hash (`/#/fleet`), so no deep path needs index.html; a missing file
  # answers 404 (CloudFront may list the bucket, so S3 says 404 rather than 403).

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = var.tags
}

# CloudFront reads the files, and may list the bucket, which lets S3 answer a missing file 404 instead of 403
# (nothing else is listed through CloudFront); only this distribution.
module "cloudfront_read" {
  source   = "../service_grant"
  services = ["cloudfront.amazonaws.com"]
  statements = {
    CloudFrontReadsThroughOac  = { actions = ["s3:GetObject"], resources = ["${module.bucket.bucket.arn}/*"] }
    CloudFrontSeesMissingFiles = { actions = ["s3:ListBucket"], resources = [module.bucket.bucket.arn] }
  }
  condition = { test = "StringEquals", variable = "AWS:SourceArn", values = [aws_cloudfront_distribution.this.arn] }
}
