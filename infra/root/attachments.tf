# Event attachments (receipts, invoices, photos; docs/attachments.md): one private bucket, encrypted with
# the environment's key, versioned, public access blocked. Only the API function reads and writes objects
# (its IAM policy names this bucket; the bucket policy refuses every other principal's object access and
# any request without TLS). Browsers upload and download through pre-signed URLs the API signs, so CORS
# allows the dashboard's origin for PUT and GET. Unconfirmed uploads (`pending/`) expire after a day.

module "attachments_bucket" {
  source      = "../modules/private_bucket"
  name        = "${local.prefix}-attachments-${data.aws_caller_identity.current.account_id}"
  kms_key_arn = aws_kms_key.this.arn
  lifecycle_rules = [
    { id = "expire-unconfirmed-uploads", prefix = "pending/", expiration_days = 1, noncurrent_days = 1 },
    { id = "keep-replaced-versions-a-while", prefix = "attachments/", noncurrent_days = var.attachments_noncurrent_days },
  ]
  policy = data.aws_iam_policy_document.attachments.json
  tags   = local.tags
}

resource "aws_s3_bucket_cors_configuration" "attachments" {
  bucket = module.attachments_bucket.bucket.id
  cors_rule {
    allowed_methods = ["PUT", "GET"]
    allowed_origins = [module.dashboard.url]
    allowed_headers = ["content-type", "content-length"]
    max_age_seconds = 600
  }
}

data "aws_iam_policy_document" "attachments" {
  statement {
    sid       = "OnlyTheApiFunctionTouchesObjects"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.attachments_bucket.bucket.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalArn"
      values   = [module.function["api"].role_arn]
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [module.attachments_bucket.bucket.arn, "${module.attachments_bucket.bucket.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
