output "api_url" {
  value = module.http_api.endpoint
}

output "dashboard_url" {
  value = module.dashboard.url
}

output "dashboard_bucket" {
  value = module.dashboard.bucket
}

output "dashboard_distribution_id" {
  value = module.dashboard.distribution.id
}

output "chat_url" {
  value = var.chat.enabled ? aws_lambda_function_url.chat[0].function_url : null
}

output "bus_name" {
  value = module.bus.bus.name
}

output "functions" {
  value = merge({ for k, f in module.function : k => f.lambda.function_name }, { for k, f in module.chat_function : k => f.lambda.function_name })
}

output "alarm_topic_arn" {
  value = module.alarms.topic_arn
}

output "ssm_parameters" {
  value = module.parameters.names
}
