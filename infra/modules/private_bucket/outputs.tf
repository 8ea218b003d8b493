output "bucket" {
  description = "The bucket (id, arn, bucket, bucket_regional_domain_name, …)."
  value       = aws_s3_bucket.this
}
