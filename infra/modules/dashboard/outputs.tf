output "bucket" {
  value = module.bucket.bucket.id
}

output "url" {
  value = "https://${aws_cloudfront_distribution.this.domain_name}"
}

output "distribution" {
  description = "The CloudFront distribution (id, arn, domain_name, …)."
  value       = aws_cloudfront_distribution.this
}
