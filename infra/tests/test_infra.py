"""Static checks of infra/ (no provider plugin needed): routes, queues, event sources, IAM, schedules."""

import json
import os
import re

from conftest import INFRA, REPO


def test_every_route_in_routes_json_has_its_rule_pattern_and_queues(routes, generated):
    assert set(generated["consumers"]) == set(routes["consumers"])
    for consumer, types in routes["consumers"].items():
        entry = generated["consumers"][consumer]
        assert entry["detail_types"] == types
        assert json.loads(entry["event_pattern"]) == {"detail-type": types}
        assert entry["queue"] == f"{{bus}}-{consumer}"
        assert entry["dead_letter_queue"] == f"{{bus}}-{consumer}-dlq"
        assert entry["rule"] == f"vwc-to-{consumer}"


def test_each_environment_reads_the_generated_routes(environments):
    generated = (INFRA / "generated" / "routes.auto.tfvars.json").resolve()
    for name, env in environments.items():
        link = env.directory / "routes.auto.tfvars.json"
        assert link.resolve() == generated, f"{name}: routes.auto.tfvars.json must point at the generated file"
        stack = env.modules["stack"]
        assert stack["consumers"] == "${var.consumers}", name
        assert stack["max_receive_count"] == "${var.max_receive_count}", name


def test_the_bus_builds_one_rule_target_queue_and_dead_letter_queue_per_consumer(modules):
    bus = modules["bus"].resources
    for rtype, name in [
        ("aws_sqs_queue", "consumer"),
        ("aws_sqs_queue", "dead_letter"),
        ("aws_sqs_queue", "target_dead_letter"),
        ("aws_sqs_queue_policy", "consumer"),
        ("aws_cloudwatch_event_rule", "consumer"),
        ("aws_cloudwatch_event_target", "consumer"),
    ]:
        assert bus[rtype][name]["for_each"] == "${var.consumers}", (rtype, name)
    rule = bus["aws_cloudwatch_event_rule"]["consumer"]
    assert rule["event_pattern"] == "${each.value.event_pattern}"
    assert rule["name"] == "${each.value.rule}"
    # Names come from the generated file; only the bus name is put in.
    assert modules["bus"].locals["names"].count('replace(c.queue, "{bus}", var.bus_name)') >= 1
    assert 'replace(c.dead_letter_queue, "{bus}", var.bus_name)' in modules["bus"].locals["names"]


def test_every_consumer_queue_has_a_dead_letter_queue_and_a_redrive_policy(modules):
    queue = modules["bus"].resources["aws_sqs_queue"]["consumer"]
    redrive = queue["redrive_policy"]
    assert "deadLetterTargetArn = aws_sqs_queue.dead_letter[each.key].arn" in redrive
    assert "maxReceiveCount = var.max_receive_count" in redrive
    assert queue["sqs_managed_sse_enabled"] is True


def test_queue_visibility_is_at_least_six_times_the_consumer_timeout(modules):
    bus = modules["bus"]
    assert bus.locals["visibility_timeout_seconds"] == "${6 * var.consumer_timeout_seconds}"
    queue = bus.resources["aws_sqs_queue"]["consumer"]
    assert queue["visibility_timeout_seconds"] == "${local.visibility_timeout_seconds}"
    stack = modules["stack"]
    assert stack.modules["bus"]["consumer_timeout_seconds"] == "${var.consumer.timeout_seconds}"
    assert "timeout     = var.consumer.timeout_seconds" in stack.text()


def test_rule_targets_have_their_own_dead_letter_queue_and_retry_policy(modules):
    targets = [modules["bus"].resources["aws_cloudwatch_event_target"]["consumer"]]
    targets += [modules["stack"].resources["aws_cloudwatch_event_target"]["schedule"]]
    for target in targets:
        assert target["dead_letter_config"][0]["arn"]
        assert target["retry_policy"][0]["maximum_retry_attempts"] > 0


def all_modules_and_roots(modules, environments):
    return list(modules.values()) + list(environments.values())


def test_every_event_source_mapping_reports_batch_item_failures(modules, environments):
    found = 0
    for module in all_modules_and_roots(modules, environments):
        for name, mapping in module.resources.get("aws_lambda_event_source_mapping", {}).items():
            found += 1
            assert mapping["function_response_types"] == ["ReportBatchItemFailures"], name
            assert mapping["scaling_config"][0]["maximum_concurrency"], name
    assert found > 0


def test_every_consumer_function_consumes_only_its_own_queue(modules):
    stack = modules["stack"]
    consumers = stack.locals["consumer_functions"]
    # "consumer-<c>" reads queue <c>, and the function module is handed that queue's ARN only.
    assert 'for c in keys(var.consumers) : "consumer-${c}" =>' in consumers
    assert re.search(r"queue\s*=\s*c\b", consumers)
    function = stack.modules["function"]
    assert function["consumer_queue_arn"] == (
        "${each.value.queue == null ? null : module.bus.queue_arns[each.value.queue]}"
    )
    mapping = stack.resources["aws_lambda_event_source_mapping"]["consumer"]
    assert mapping["event_source_arn"] == "${module.bus.queue_arns[each.key]}"
    assert mapping["function_name"] == '${module.function["consumer-${each.key}"].arn}'


def test_every_function_policy_names_only_its_own_resources(modules):
    function = modules["function"]
    policy = function.data["aws_iam_policy_document"]["own"]
    own = {
        "OwnLogs": ["${aws_cloudwatch_log_group.this.arn}:*"],
        "DecryptOwnSecrets": ["${var.kms_key_arn}"],
        "AsyncFailuresToOwnDeadLetterQueue": ["${var.async_dead_letter_arn}"],
    }
    for statement in policy["statement"]:
        assert statement["resources"] == own[statement["sid"]], statement["sid"]
    # Optional statements, each present only when the function has that resource of its own.
    dynamic = [d for block in policy["dynamic"] for d in block.values()]
    sources = {d["content"][0]["sid"]: d["for_each"] for d in dynamic}
    assert sources == {
        "OwnParameters": "${local.ssm_path_arn == null ? [] : [local.ssm_path_arn]}",
        "PublishToOwnBus": "${var.bus_arn == null ? [] : [var.bus_arn]}",
        "ConsumeOwnQueue": "${var.consumer_queue_arn == null ? [] : [var.consumer_queue_arn]}",
        "SendReminderEmail": "${length(var.ses_identity_arns) == 0 ? [] : [var.ses_identity_arns]}",
        "OwnAttachmentObjects": "${var.attachments_bucket_arn == null ? [] : [var.attachments_bucket_arn]}",
        "ListOwnAttachments": "${var.attachments_bucket_arn == null ? [] : [var.attachments_bucket_arn]}",
        "EncryptAttachments": "${var.attachments_bucket_arn == null ? [] : [var.kms_key_arn]}",
    }
    statements = {d["content"][0]["sid"]: d["content"][0] for d in dynamic}
    assert statements["OwnAttachmentObjects"]["resources"] == ["${statement.value}/*"]
    assert statements["ListOwnAttachments"]["resources"] == ["${statement.value}"]
    assert statements["EncryptAttachments"]["actions"] == ["kms:GenerateDataKey"]
    assert statements["OwnParameters"]["resources"] == ["${statement.value}", "${statement.value}/*"]
    assert statements["PublishToOwnBus"]["resources"] == ["${statement.value}"]
    assert statements["ConsumeOwnQueue"]["resources"] == ["${statement.value}"]
    ses = statements["SendReminderEmail"]
    assert ses["resources"] == "${statement.value}"
    assert ses["condition"][0]["variable"] == "ses:FromAddress"
    # The SSM path is the function's own: /vwc/<env>/<function>.
    assert function.locals["ssm_path_arn"].endswith(':parameter${var.ssm_path}"}')
    stack = modules["stack"].modules["function"]
    assert stack["ssm_path"] == "${local.ssm_root}/${each.key}"
    assert stack["environment"] == '${merge({VWC_ENV = "${var.environment}/${each.key}"}, each.value.environment)}'
    # SES only for the delivery worker.
    assert stack["ses_identity_arns"].startswith('${each.key == "delivery"')


def test_no_iam_statement_grants_every_resource_outside_the_key_policy(modules, environments):
    for module in all_modules_and_roots(modules, environments):
        for name, doc in module.data.get("aws_iam_policy_document", {}).items():
            if module.directory.name == "stack" and name == "kms":
                continue  # a key policy's "*" is the key itself (skip justified inline)
            for statement in doc.get("statement", []):
                assert "*" not in statement.get("resources", []), (module.directory.name, name)


def test_every_schedule_may_invoke_only_its_own_function(modules):
    stack = modules["stack"]
    permission = stack.resources["aws_lambda_permission"]["schedule"]
    assert permission["for_each"] == "${local.schedules}"
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.schedule[each.key].arn}"
    assert permission["function_name"] == "${module.function[each.key].name}"
    target = stack.resources["aws_cloudwatch_event_target"]["schedule"]
    assert target["for_each"] == "${local.schedules}"
    assert target["arn"] == "${module.function[each.key].arn}"
    schedules = stack.locals["schedules"]
    for job in ("sweep", "delivery", "revaluation"):
        assert re.search(rf"\b{job}\s*=", schedules), job


def test_the_delivery_worker_runs_on_a_schedule_from_its_own_binary(modules):
    stack = modules["stack"]
    functions = stack.locals["functions"]
    assert 'binary      = "vwc-lambda-delivery"' in stack.text()
    assert "delivery" in functions
    assert stack.variables["delivery_schedule"]["default"] == "rate(1 minute)"


def test_every_packaged_binary_the_stack_names_exists(modules):
    names = set(re.findall(r'"(?:\$\{var\.lambda_dir\}/)?(vwc-lambda-[a-z-]+)', modules["stack"].text()))
    assert "vwc-lambda-token-claims" in names and "vwc-lambda-delivery" in names
    bins = {p.stem for p in (REPO / "services" / "vwc" / "src" / "bin").glob("vwc-lambda-*.rs")}
    optional = {"vwc-lambda-revalue", "vwc-lambda-chat"}  # behind enable flags until they land
    assert names - optional <= bins, names - optional - bins
    # scripts/package builds every services/vwc/src/bin/vwc-lambda-*.rs, so each of them gets a zip.
    package = (REPO / "scripts" / "package").read_text()
    assert "services/vwc/src/bin/vwc-lambda-*.rs" in package


def test_the_chat_function_streams(modules):
    url = modules["stack"].resources["aws_lambda_function_url"]["chat"]
    assert url["invoke_mode"] == "RESPONSE_STREAM"


def test_the_http_api_authorizes_v1_with_jwt_and_leaves_the_dealer_webhook_to_its_signature(modules):
    api = modules["http_api"]
    authorized = api.resources["aws_apigatewayv2_route"]["authorized"]
    assert authorized["route_key"] == "ANY /v1/{proxy+}"
    assert authorized["authorization_type"] == "JWT"
    authorizer = api.resources["aws_apigatewayv2_authorizer"]["jwt"]
    assert authorizer["jwt_configuration"][0]["issuer"] == "${var.jwt_issuer}"
    public = public_routes(api)
    assert "POST /webhooks/dealers/{dealerId}" in public
    # Under /v1 only how to sign in is public: a page reads it before it has a token.
    assert [r for r in public if "/v1/" in r] == ["GET /v1/auth/config"]
    # Signed calendar feeds carry their own proof (an HMAC in the URL).
    assert "GET /calendar/{proxy+}" in public


def public_routes(api) -> list:
    """The route keys of `local.public_routes` (python-hcl2 keeps the `toset([...])` expression as text)."""
    return re.findall(r'"([A-Z]+ /[^"]*)"', api.locals["public_routes"])


def test_every_parameter_is_a_secure_string_under_the_key(modules):
    for name, parameter in modules["parameters"].resources["aws_ssm_parameter"].items():
        assert parameter["type"] == "SecureString", name
        assert parameter["key_id"] == "${var.kms_key_arn}", name


def test_the_dashboard_bucket_is_private_and_read_through_origin_access_control(modules):
    dashboard = modules["dashboard"].resources
    block = dashboard["aws_s3_bucket_public_access_block"]["this"]
    assert all(block[k] is True for k in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    origin = dashboard["aws_cloudfront_distribution"]["this"]["origin"][0]
    assert origin["origin_access_control_id"] == "${aws_cloudfront_origin_access_control.this.id}"


def test_the_attachments_bucket_is_private_encrypted_versioned_and_only_the_api_touches_it(modules):
    stack = modules["stack"]
    r = stack.resources
    block = r["aws_s3_bucket_public_access_block"]["attachments"]
    assert all(block[k] is True for k in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    assert r["aws_s3_bucket_ownership_controls"]["attachments"]["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    assert r["aws_s3_bucket_versioning"]["attachments"]["versioning_configuration"][0]["status"] == "Enabled"
    sse = r["aws_s3_bucket_server_side_encryption_configuration"]["attachments"]["rule"][0]
    default = sse["apply_server_side_encryption_by_default"][0]
    assert (default["sse_algorithm"], default["kms_master_key_id"]) == ("aws:kms", "${aws_kms_key.this.arn}")
    # Unconfirmed uploads expire; the API confirms (reads) every upload before it is an attachment.
    rules = {rule["id"]: rule for rule in r["aws_s3_bucket_lifecycle_configuration"]["attachments"]["rule"]}
    assert rules["expire-unconfirmed-uploads"]["filter"][0]["prefix"] == "pending/"
    assert rules["expire-unconfirmed-uploads"]["expiration"][0]["days"] == 1
    assert "abort_incomplete_multipart_upload" in rules["abort-incomplete-uploads"]
    # Object access: the API function's role only (its policy names the bucket; the bucket denies others).
    policy = stack.data["aws_iam_policy_document"]["attachments"]["statement"]
    only_api = next(s for s in policy if s["sid"] == "OnlyTheApiFunctionTouchesObjects")
    assert only_api["effect"] == "Deny"
    assert only_api["condition"][0]["values"] == ['${module.function["api"].role_arn}']
    tls = next(s for s in policy if s["sid"] == "TlsOnly")
    assert tls["condition"][0]["variable"] == "aws:SecureTransport"
    function = stack.modules["function"]
    assert function["attachments_bucket_arn"] == '${each.key == "api" ? aws_s3_bucket.attachments.arn : null}'
    # The API function reads the bucket's name from its own parameters (attachments_bucket).
    assert "api/attachments_bucket" in str(stack.locals["parameters"])


def test_alarms_cover_dead_letters_errors_throttles_5xx_and_the_budget(modules):
    alarms = modules["alarms"].resources
    metrics = {a["metric_name"] for a in alarms["aws_cloudwatch_metric_alarm"].values()}
    assert metrics == {"ApproximateNumberOfMessagesVisible", "Errors", "Throttles", "5xx"}
    assert "monthly" in alarms["aws_budgets_budget"]
    stack = modules["stack"].modules["alarms"]
    assert "module.bus.dead_letter_queues" in stack["dead_letter_queues"]
    assert "lambda-async-dlq" in stack["dead_letter_queues"]


def test_every_checkov_skip_says_why():
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                reason = line.split("checkov:skip=", 1)[1].split(":", 1)
                assert len(reason) == 2 and len(reason[1].strip()) >= 30, f"{path}: {line.strip()}"


def test_terraform_and_providers_are_pinned(modules, environments):
    for module in all_modules_and_roots(modules, environments):
        assert module.terraform, module.directory
        for block in module.terraform:
            assert block["required_version"] == ">= 1.6", module.directory
            for providers in block["required_providers"]:
                for name, spec in providers.items():
                    assert re.match(r"~> \d+\.\d+", spec["version"]), (module.directory, name)


def test_the_generated_file_is_committed_next_to_a_generator():
    assert os.access(REPO / "scripts" / "gen-infra-routes", os.X_OK)


def test_each_atlas_user_reads_and_writes_only_its_own_database(modules):
    atlas = modules["atlas"]
    user = atlas.resources["mongodbatlas_database_user"]["this"]
    # Atlas allows a user with a custom role no other role: exactly one, its own.
    assert len(user["roles"]) == 1
    assert user["roles"][0]["role_name"] == "${mongodbatlas_custom_db_role.user[each.key].role_name}"
    role = atlas.resources["mongodbatlas_custom_db_role"]["user"]
    assert role["for_each"] == "${local.users}"
    inherited = [d for block in role["dynamic"] for name, d in block.items() if name == "inherited_roles"]
    assert inherited[0]["for_each"] == "${toset(each.value)}"
    assert inherited[0]["content"][0]["role_name"] == "readWrite"
    actions = [d for block in role["dynamic"] for name, d in block.items() if name == "actions"]
    assert actions[0]["for_each"] == '${toset(["CREATE_INDEX", "CREATE_COLLECTION", "LIST_INDEXES"])}'
    # A user per service, each with its own database; only the API function's user spans several.
    assert atlas.locals["users"] == "${merge({for s in var.services : s => [s]}, var.composite_users)}"
    assert modules["stack"].modules["atlas"]["composite_users"] == {"api": "${local.services}"}


def test_the_workflow_packages_checks_validates_and_deploys_through_oidc():
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    lambda_job = workflow[workflow.index("\n  lambda:"):workflow.index("\n  terraform:")]
    # Python is installed before pip, and zig is pinned.
    assert lambda_job.index("actions/setup-python") < lambda_job.index("pip install")
    assert re.search(r"ziglang==\d", lambda_job) and "scripts/package" in lambda_job
    for command in ("terraform fmt -check", "init -backend=false", "validate", "scripts/check-infra"):
        assert command in workflow, command
    deploy = workflow[workflow.index("\n  deploy:"):]
    assert "startsWith(github.ref, 'refs/tags/v')" in deploy
    assert "id-token: write" in deploy and "role-to-assume" in deploy
    assert "scripts/deploy prod --yes" in deploy


def test_the_default_issuer_puts_org_and_roles_into_tokens(modules):
    identity = modules["identity"].resources
    pool = identity["aws_cognito_user_pool"]["this"]
    trigger = pool["lambda_config"][0]["pre_token_generation_config"][0]
    assert trigger["lambda_version"] == "V2_0"
    assert pool["user_pool_tier"] == "ESSENTIALS"  # V2 triggers need it
    permission = identity["aws_lambda_permission"]["token_claims"]
    assert permission["principal"] == "cognito-idp.amazonaws.com"
    assert permission["source_arn"] == "${aws_cognito_user_pool.this.arn}"
    token_claims = modules["stack"].modules["token_claims"]
    # No database, bus or parameters for this one.
    assert not {"bus_arn", "ssm_path", "consumer_queue_arn"} & set(token_claims)


API_PATHS = ["/v1/*", "/webhooks/*", "/calendar/*", "/healthz", "/readyz", "/openapi.json"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def test_the_dashboard_distribution_sends_every_api_path_to_the_http_api_uncached(modules):
    dashboard = modules["dashboard"]
    distribution = dashboard.resources["aws_cloudfront_distribution"]["this"]
    assert dashboard.locals["api_path_patterns"] == API_PATHS
    api_origin = distribution["dynamic"][0]["origin"]
    assert api_origin["for_each"] == "${local.api_domain == null ? [] : [local.api_domain]}"
    origin = api_origin["content"][0]
    assert origin["origin_id"] == "api"
    assert origin["custom_origin_config"][0]["origin_protocol_policy"] == "https-only"
    behaviours = distribution["dynamic"][1]["ordered_cache_behavior"]
    assert behaviours["for_each"] == "${local.api_domain == null ? [] : local.api_path_patterns}"
    behaviour = behaviours["content"][0]
    assert behaviour["target_origin_id"] == "api"
    assert behaviour["path_pattern"] == "${ordered_cache_behavior.value}"
    assert sorted(behaviour["allowed_methods"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"])
    # Never cached; every viewer header (Authorization too: allowed with caching off) but Host.
    assert behaviour["cache_policy_id"] == CACHING_DISABLED
    assert behaviour["origin_request_policy_id"] == ALL_VIEWER_EXCEPT_HOST
    assert behaviour["viewer_protocol_policy"] == "https-only"
    # An error page rewrite would apply to the API too, turning its 403 problems into the page.
    assert "custom_error_response" not in distribution
    # The stack points the distribution at its HTTP API.
    stack_dashboard = modules["stack"].modules["dashboard"]
    assert stack_dashboard["api_endpoint"] == "${module.http_api.endpoint}"


def test_every_path_the_http_api_routes_is_a_behaviour_of_the_dashboard_distribution(modules):
    api = modules["http_api"]
    keys = [api.resources["aws_apigatewayv2_route"]["authorized"]["route_key"], *public_routes(api)]
    assert len(keys) >= 6
    for key in keys:
        path = key.split(" ", 1)[1]
        assert any(
            path == pattern or (pattern.endswith("/*") and path.startswith(pattern[:-1]))
            for pattern in API_PATHS
        ), f"{key} is not routed to the API by CloudFront"


def test_the_dashboard_signs_in_with_cognito_through_the_pages_csp_and_a_public_config_route(modules):
    api = modules["http_api"]
    assert "GET /v1/auth/config" in public_routes(api)
    dashboard = modules["dashboard"]
    csp = dashboard.locals["content_security_policy"]
    assert "var.connect_src_origins" in csp and "connect-src 'self'" in csp
    policy = dashboard.resources["aws_cloudfront_response_headers_policy"]["security"]
    header = policy["security_headers_config"][0]["content_security_policy"][0]
    assert header["content_security_policy"] == "${local.content_security_policy}"
    identity = modules["identity"]
    assert identity.resources["aws_cognito_user_pool_domain"]["this"]["domain"] == "${var.domain_prefix}"
    client = identity.resources["aws_cognito_user_pool_client"]["dashboard"]
    assert client["allowed_oauth_flows"] == ["code"] and client["generate_secret"] is False
    stack = modules["stack"]
    # The page's redirect_uri is the distribution's root with its slash.
    assert stack.modules["identity"]["callback_urls"] == ["${module.dashboard.url}/"]
    text = stack.text()
    for name in ("oidc_authority", "oidc_client_id", "oidc_scope", "oidc_api_token"):
        assert f'"api/{name}"' in text, name
    # The API no longer names the distribution (that would be a cycle: the distribution routes to the API).
    assert stack.modules["http_api"]["cors_origins"] == []
