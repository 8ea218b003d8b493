output "bucket" {
  value = aws_s3_bucket.this.id
}

output "distribution_id" {
  value = aws_cloudfront_distribution.this.id
}

output "url" {
  value = "https://${aws_cloudfront_distribution.this.domain_name}"
}

output "distribution_arn" {
  value = aws_cloudfront_distribution.this.arn
}
