output "api_url" {
  value = module.stack.api_url
}

output "dashboard_url" {
  value = module.stack.dashboard_url
}

output "dashboard_bucket" {
  value = module.stack.dashboard_bucket
}

output "dashboard_distribution_id" {
  value = module.stack.dashboard_distribution_id
}

output "chat_url" {
  value = module.stack.chat_url
}

output "functions" {
  value = module.stack.functions
}

output "alarm_topic_arn" {
  value = module.stack.alarm_topic_arn
}
