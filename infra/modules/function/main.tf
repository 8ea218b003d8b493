# One Lambda function (provided.al2023, arm64, a cargo-lambda zip) with its own execution role, log group
# and least-privilege policy: its log group, its SSM path, its bus, and — when given — its queue and SES.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  ssm_path_arn = var.function.ssm_path == null ? null : "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:parameter${var.function.ssm_path}"

  # The policy's optional statements, in order: resources null where the function has no such resource
  # (present_statements leaves those out).
  # SSE-KMS attachments: writing needs a data key, reading (and pre-signed downloads) decrypts.
  optional_statements = [
    { sid = "OwnParameters", actions = ["ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"], resources = local.ssm_path_arn == null ? null : [local.ssm_path_arn, "${local.ssm_path_arn}/*"] },
    { sid = "PublishToOwnBus", actions = ["events:PutEvents", "events:DescribeEventBus"], resources = var.function.bus_arn == null ? null : [var.function.bus_arn] },
    { sid = "ConsumeOwnQueue", actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"], resources = var.function.consumer_queue_arn == null ? null : [var.function.consumer_queue_arn] },
    { sid = "OwnAttachmentObjects", actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources = var.function.attachments_bucket_arn == null ? null : ["${var.function.attachments_bucket_arn}/*"] },
    { sid = "ListOwnAttachments", actions = ["s3:ListBucket"], resources = var.function.attachments_bucket_arn == null ? null : [var.function.attachments_bucket_arn] },
    { sid = "EncryptAttachments", actions = ["kms:GenerateDataKey"], resources = var.function.attachments_bucket_arn == null ? null : [var.shared.kms_key_arn] },
  ]
  present_statements = [for s in local.optional_statements : s if s.resources != null]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a per-environment variable (14 days dev, 90 prod): a year of operational logs is a cost, not a control, for this project; the records that matter are in the databases.
  name              = "/aws/lambda/${var.function.name}"
  retention_in_days = var.shared.log_retention_days
  kms_key_id        = var.shared.kms_key_arn
  tags              = var.shared.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.function.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.shared.tags
}

data "aws_iam_policy_document" "own" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "DecryptOwnSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.shared.kms_key_arn]
  }

  statement {
    sid       = "AsyncFailuresToOwnDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [var.shared.async_dead_letter_arn]
  }

  # What the function has of its own besides those.
  dynamic "statement" {
    for_each = local.present_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  dynamic "statement" {
    for_each = length(var.function.ses_identity_arns) == 0 ? [] : [var.function.ses_identity_arns]
    content {
      sid       = "SendReminderEmail"
      actions   = ["ses:SendEmail", "ses:SendRawEmail"]
      resources = statement.value
      condition {
        test     = "StringEquals"
        variable = "ses:FromAddress"
        values   = [var.function.ses_from_address]
      }
    }
  }
}

resource "aws_iam_role_policy" "own" {
  name   = "own-resources"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.own.json
}

# X-Ray's write actions support no resource-level permissions; the AWS managed policy grants exactly them.
resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_iam_role_policy_attachment" "vpc" {
  count      = var.shared.vpc == null ? 0 : 1
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:Code signing needs AWS Signer profiles and a signing step in scripts/package; the zips are built in CI from a tagged commit and uploaded by the deploy role only.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded where load enters (SQS event source maximum_concurrency, API Gateway throttling; the chat function URL takes only CloudFront's signed requests and limits each organisation itself); new accounts have a 10-execution quota that leaves no room for reservations.
  #checkov:skip=CKV_AWS_117:No VPC by default: a NAT gateway would cost more than the whole free-tier stack; Atlas is reached over TLS with per-function credentials (set shared.vpc with the private-endpoint option).
  function_name = var.function.name
  description   = var.function.description
  role          = aws_iam_role.this.arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  filename      = var.function.zip_path
  # The zip exists after scripts/package; without it (terraform validate in CI) the hash is left unknown and
  # an apply fails on the missing file, which is what should happen.
  source_code_hash = try(filebase64sha256(var.function.zip_path), null)
  memory_size      = var.function.memory_mb
  timeout          = var.function.timeout_seconds
  kms_key_arn      = var.shared.kms_key_arn

  environment {
    variables = merge({ RUST_LOG = "info" }, var.function.environment)
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = var.shared.async_dead_letter_arn
  }

  dynamic "vpc_config" {
    for_each = var.shared.vpc == null ? [] : [var.shared.vpc]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags       = var.shared.tags
  depends_on = [aws_iam_role_policy.own]
}
