# What the environment reports, as one object rather than an output each: `scripts/tf ENV output -json stack`
# (scripts/deploy reads its fields). The API's and the dashboard's addresses, the bundle's bucket and
# distribution, the chat function's URL, the functions', bus's, alarm topic's and parameters' names.
output "stack" {
  value = {
    api_url                   = module.http_api.endpoint
    dashboard_url             = module.dashboard.url
    dashboard_bucket          = module.dashboard.bucket
    dashboard_distribution_id = module.dashboard.distribution.id
    chat_url                  = var.enable_chat ? aws_lambda_function_url.chat[0].function_url : null
    bus_name                  = module.bus.bus.name
    functions                 = merge({ for k, f in module.function : k => f.lambda.function_name }, { for k, f in module.chat_function : k => f.lambda.function_name })
    alarm_topic_arn           = module.alarms.topic_arn
    ssm_parameters            = module.parameters.names
  }
}
