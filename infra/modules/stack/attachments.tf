# Event attachments (receipts, invoices, photos; docs/attachments.md): one private bucket, encrypted with
# the environment's key, versioned, public access blocked. Only the API function reads and writes objects
# (its IAM policy names this bucket; the bucket policy refuses every other principal's object access and
# any request without TLS). Browsers upload and download through pre-signed URLs the API signs, so CORS
# allows the dashboard's origin for PUT and GET. Unconfirmed uploads (`pending/`) expire after a day.

resource "aws_s3_bucket" "attachments" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket and duplicate what the API logs per request (who uploaded or downloaded which attachment).
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage for a disaster this stack does not plan for (the databases are single-region too); versioning covers deletion and overwrite.
  #checkov:skip=CKV2_AWS_62:No consumer of object events: the API confirms each upload itself (it reads the object before accepting it).
  bucket = "${local.prefix}-attachments-${data.aws_caller_identity.current.account_id}"
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "attachments" {
  bucket                  = aws_s3_bucket.attachments.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  rule {
    id     = "expire-unconfirmed-uploads"
    status = "Enabled"
    filter {
      prefix = "pending/"
    }
    expiration {
      days = 1
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }
  rule {
    id     = "keep-replaced-versions-a-while"
    status = "Enabled"
    filter {
      prefix = "attachments/"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.attachments_noncurrent_days
    }
  }
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.attachments]
}

resource "aws_s3_bucket_cors_configuration" "attachments" {
  bucket = aws_s3_bucket.attachments.id
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
    resources = ["${aws_s3_bucket.attachments.arn}/*"]
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
    resources = [aws_s3_bucket.attachments.arn, "${aws_s3_bucket.attachments.arn}/*"]
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

resource "aws_s3_bucket_policy" "attachments" {
  bucket     = aws_s3_bucket.attachments.id
  policy     = data.aws_iam_policy_document.attachments.json
  depends_on = [aws_s3_bucket_public_access_block.attachments]
}
