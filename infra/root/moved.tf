# Every address a refactor changed, old → new, in one place: an environment deployed before the change moves
# to the new addresses on its next plan instead of destroying and recreating anything. Terraform resolves these
# from the root down into its (local) modules, and follows a chain: an object at the oldest address takes
# every later move in turn. They stay as long as a deployment may hold an old address; removing one is a
# breaking change for such a deployment.

# Everything here was modules/stack, called by this root as module "stack": each of its module calls and
# resources (and the addresses its own moves below start from) comes up one level.
moved {
  from = module.stack.module.atlas
  to   = module.atlas
}

moved {
  from = module.stack.module.bus
  to   = module.bus
}

moved {
  from = module.stack.module.failures
  to   = module.failures
}

moved {
  from = module.stack.module.schedule_failures_policy
  to   = module.schedule_failures_policy
}

moved {
  from = module.stack.module.identity
  to   = module.identity
}

moved {
  from = module.stack.module.token_claims
  to   = module.token_claims
}

moved {
  from = module.stack.module.parameters
  to   = module.parameters
}

moved {
  from = module.stack.module.function
  to   = module.function
}

moved {
  from = module.stack.module.chat_function
  to   = module.chat_function
}

moved {
  from = module.stack.module.http_api
  to   = module.http_api
}

moved {
  from = module.stack.module.dashboard
  to   = module.dashboard
}

moved {
  from = module.stack.module.alarms
  to   = module.alarms
}

moved {
  from = module.stack.module.attachments_bucket
  to   = module.attachments_bucket
}

moved {
  from = module.stack.aws_kms_key.this
  to   = aws_kms_key.this
}

moved {
  from = module.stack.aws_kms_alias.this
  to   = aws_kms_alias.this
}

moved {
  from = module.stack.aws_sqs_queue_policy.schedule_failures
  to   = aws_sqs_queue_policy.schedule_failures
}

moved {
  from = module.stack.aws_lambda_event_source_mapping.consumer
  to   = aws_lambda_event_source_mapping.consumer
}

moved {
  from = module.stack.aws_cloudwatch_event_rule.schedule
  to   = aws_cloudwatch_event_rule.schedule
}

moved {
  from = module.stack.aws_cloudwatch_event_target.schedule
  to   = aws_cloudwatch_event_target.schedule
}

moved {
  from = module.stack.aws_lambda_permission.schedule
  to   = aws_lambda_permission.schedule
}

moved {
  from = module.stack.aws_lambda_function_url.chat
  to   = aws_lambda_function_url.chat
}

moved {
  from = module.stack.aws_lambda_permission.chat
  to   = aws_lambda_permission.chat
}

moved {
  from = module.stack.aws_s3_bucket_cors_configuration.attachments
  to   = aws_s3_bucket_cors_configuration.attachments
}

moved {
  from = module.stack.aws_sqs_queue.failures
  to   = aws_sqs_queue.failures
}

moved {
  from = module.stack.aws_sqs_queue.async_failures
  to   = aws_sqs_queue.async_failures
}

moved {
  from = module.stack.aws_sqs_queue.schedule_failures
  to   = aws_sqs_queue.schedule_failures
}

moved {
  from = module.stack.aws_s3_bucket.attachments
  to   = aws_s3_bucket.attachments
}

moved {
  from = module.stack.aws_s3_bucket_public_access_block.attachments
  to   = aws_s3_bucket_public_access_block.attachments
}

moved {
  from = module.stack.aws_s3_bucket_ownership_controls.attachments
  to   = aws_s3_bucket_ownership_controls.attachments
}

moved {
  from = module.stack.aws_s3_bucket_versioning.attachments
  to   = aws_s3_bucket_versioning.attachments
}

moved {
  from = module.stack.aws_s3_bucket_server_side_encryption_configuration.attachments
  to   = aws_s3_bucket_server_side_encryption_configuration.attachments
}

moved {
  from = module.stack.aws_s3_bucket_lifecycle_configuration.attachments
  to   = aws_s3_bucket_lifecycle_configuration.attachments
}

moved {
  from = module.stack.aws_s3_bucket_policy.attachments
  to   = aws_s3_bucket_policy.attachments
}

# The functions' dead-letter queues: aws_sqs_queue.failures (a table here), and before that one resource
# each; every earlier address moves straight to modules/dead_letters.
moved {
  from = aws_sqs_queue.failures
  to   = module.failures.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue.async_failures
  to   = module.failures.aws_sqs_queue.this["lambda-async"]
}

moved {
  from = aws_sqs_queue.schedule_failures
  to   = module.failures.aws_sqs_queue.this["schedule"]
}

# The bus's two kinds of dead-letter queue: resources of modules/bus at first, then one modules/dead_letters
# call each, now one call keyed by kind. Same consumer keys, same queues.
moved {
  from = module.bus.aws_sqs_queue.dead_letter
  to   = module.bus.module.dead_letters["consumer"].aws_sqs_queue.this
}

moved {
  from = module.bus.aws_sqs_queue.target_dead_letter
  to   = module.bus.module.dead_letters["target"].aws_sqs_queue.this
}

moved {
  from = module.bus.module.dead_letter
  to   = module.bus.module.dead_letters["consumer"]
}

moved {
  from = module.bus.module.target_dead_letter
  to   = module.bus.module.dead_letters["target"]
}

# The dashboard's two origin access controls, separate resources before, are one table by origin type.
moved {
  from = module.dashboard.aws_cloudfront_origin_access_control.this
  to   = module.dashboard.aws_cloudfront_origin_access_control.this["s3"]
}

moved {
  from = module.dashboard.aws_cloudfront_origin_access_control.chat[0]
  to   = module.dashboard.aws_cloudfront_origin_access_control.this["lambda"]
}

# Both buckets' settings were written out where each bucket is (modules/dashboard, attachments.tf) before
# modules/private_bucket; the same bucket and settings move into it.
moved {
  from = module.dashboard.aws_s3_bucket.this
  to   = module.dashboard.module.bucket.aws_s3_bucket.this
}

moved {
  from = module.dashboard.aws_s3_bucket_public_access_block.this
  to   = module.dashboard.module.bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = module.dashboard.aws_s3_bucket_ownership_controls.this
  to   = module.dashboard.module.bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = module.dashboard.aws_s3_bucket_versioning.this
  to   = module.dashboard.module.bucket.aws_s3_bucket_versioning.this
}

moved {
  from = module.dashboard.aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.dashboard.module.bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = module.dashboard.aws_s3_bucket_lifecycle_configuration.this
  to   = module.dashboard.module.bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = module.dashboard.aws_s3_bucket_policy.this
  to   = module.dashboard.module.bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket.attachments
  to   = module.attachments_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.attachments
  to   = module.attachments_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.attachments
  to   = module.attachments_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.attachments
  to   = module.attachments_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.attachments
  to   = module.attachments_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.attachments
  to   = module.attachments_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.attachments
  to   = module.attachments_bucket.aws_s3_bucket_policy.this
}
