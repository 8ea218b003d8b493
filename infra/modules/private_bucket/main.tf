# A private S3 bucket as this stack keeps every bucket: public access blocked, objects owned by the bucket
# owner (no ACLs), versioned, encrypted at rest (the caller's KMS key with a bucket key, or SSE-S3 without
# one), the caller's lifecycle rules, and the caller's bucket policy. What differs between buckets — who may
# read, CORS, the rules — stays with the caller; what every bucket must have is written here once.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a log bucket of their own; the dashboard's only reader is CloudFront and the API logs every attachment upload and download itself.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage for a disaster this stack does not plan for (the databases are single-region too); versioning covers deletion and overwrite, and the dashboard's bundle is re-uploaded from any commit.
  #checkov:skip=CKV2_AWS_62:No consumer of object events: the dashboard's files change only through scripts/deploy, and the API confirms each attachment upload itself (it reads the object before accepting it).
  bucket = var.name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # A bucket key saves a KMS request per object; SSE-S3 has no key to save requests of.
    bucket_key_enabled = var.kms_key_arn == null ? null : true
  }
}

# The caller's rules in its order, then the rule every bucket has: parts of an upload nobody completed are
# billed until removed, and a day is enough to finish one.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  dynamic "rule" {
    for_each = var.lifecycle_rules
    content {
      id     = rule.value.id
      status = "Enabled"
      # A null prefix is `filter {}`: the whole bucket. `x[*]` is [] for a null x, else [x]: each expiration
      # is there only when its days are given.
      filter {
        prefix = rule.value.prefix
      }
      dynamic "expiration" {
        for_each = rule.value.expiration_days[*]
        content {
          days = expiration.value
        }
      }
      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_days[*]
        content {
          noncurrent_days = noncurrent_version_expiration.value
        }
      }
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
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "this" {
  bucket     = aws_s3_bucket.this.id
  policy     = var.policy
  depends_on = [aws_s3_bucket_public_access_block.this]
}
