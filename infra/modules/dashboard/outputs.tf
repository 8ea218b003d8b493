output "bucket" {
  value = aws_s3_bucket.this.id
}

output "url" {
  value = "https://${aws_cloudfront_distribution.this.domain_name}"
}

output "distribution" {
  description = "The CloudFront distribution (id, arn, domain_name, …)."
  value       = aws_cloudfront_distribution.this
}
