output "lambda" {
  description = "The function itself (arn, function_name, invoke_arn, …)."
  value       = aws_lambda_function.this
}

output "role_arn" {
  value = aws_iam_role.this.arn
}
