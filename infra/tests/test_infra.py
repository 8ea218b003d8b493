"""Static checks of infra/ (no provider plugin needed): routes, queues, event sources, IAM, schedules."""

import json
import os
import re

from conftest import INFRA, REPO, load


def test_every_route_in_routes_json_has_its_rule_pattern_and_queues(routes, generated):
    assert set(generated["consumers"]) == set(routes["consumers"])
    for consumer, types in routes["consumers"].items():
        entry = generated["consumers"][consumer]
        assert entry["detail_types"] == types
        assert json.loads(entry["event_pattern"]) == {"detail-type": types}
        assert entry["queue"] == f"{{bus}}-{consumer}"
        assert entry["dead_letter_queue"] == f"{{bus}}-{consumer}-dlq"
        assert entry["rule"] == f"vwc-to-{consumer}"


def test_the_root_reads_the_generated_routes_and_builds_the_bus_from_them(root):
    generated = (INFRA / "generated" / "routes.auto.tfvars.json").resolve()
    link = root.directory / "routes.auto.tfvars.json"
    assert link.resolve() == generated, "infra/root/routes.auto.tfvars.json must point at the generated file"
    assert set(json.loads(generated.read_text())) == {"consumers", "max_receive_count"}
    assert "default" not in root.variables["consumers"] and "default" not in root.variables["max_receive_count"]
    bus = root.modules["bus"]
    assert bus["consumers"] == "${var.consumers}"
    assert bus["max_receive_count"] == "${var.max_receive_count}"


def test_each_environment_is_the_root_configured_by_its_own_settings(root, environments):
    assert set(environments) == {"dev", "prod"}
    routes = set(json.loads((INFRA / "generated" / "routes.auto.tfvars.json").read_text()))
    for name, settings in environments.items():
        directory = INFRA / "environments" / name
        assert settings["environment"] == name
        # Only what the root declares (terraform would refuse the rest), and never what the routes set.
        assert set(settings) <= set(root.variables), (name, set(settings) - set(root.variables))
        assert not set(settings) & routes, name
        # Every variable without a default is set: by the routes, the settings, or the operator's file.
        operator = load(directory / "terraform.tfvars.example")
        required = {v for v, body in root.variables.items() if "default" not in body}
        assert required <= routes | set(settings) | set(operator), (name, required)
        # Its state apart from every other environment's.
        backend = (directory / "backend.hcl.example").read_text()
        assert f'key          = "vwc/{name}/terraform.tfstate"' in backend, name
    # The environments differ in sizing only: names, tags and state key all come from `environment`.
    providers = (root.directory / "providers.tf").read_text()
    assert "environment = var.environment" in providers
    assert root.locals["prefix"] == "vwc-${var.environment}"
    assert root.locals["ssm_root"] == "/vwc/${var.environment}"


def test_a_setting_an_environment_gives_as_null_takes_the_default(root, environments):
    # What any environment's settings set, it may also leave out or set to null: each has a default, and
    # `nullable = false` makes a null take it rather than reach the resources.
    settings = {name for env in environments.values() for name in env} - {"environment"}
    assert settings >= {"atlas_cluster_tier", "monthly_budget_usd", "log_retention_days"}
    for name in settings:
        variable = root.variables[name]
        assert variable.get("default") is not None and variable.get("nullable") is False, name


def test_the_bus_builds_one_rule_target_queue_and_dead_letter_queue_per_consumer(modules):
    bus = modules["bus"].resources
    for rtype, name in [
        ("aws_sqs_queue", "consumer"),
        ("aws_sqs_queue_policy", "consumer"),
        ("aws_sqs_queue_policy", "target_dead_letter"),
        ("aws_sqs_queue_redrive_allow_policy", "dead_letter"),
        ("aws_cloudwatch_event_rule", "consumer"),
        ("aws_cloudwatch_event_target", "consumer"),
    ]:
        assert bus[rtype][name]["for_each"] == "${var.consumers}", (rtype, name)
    # Both dead-letter queues of each consumer, through one modules/dead_letters call per kind (its resource
    # once per name): the consumer's (redrive) from the generated name, the rule target's from the queue's.
    dead_letters = modules["bus"].modules["dead_letters"]
    assert dead_letters["source"] == "../dead_letters"
    assert dead_letters["for_each"] == {"consumer": "dead_letter_queue", "target": "target_dlq"}
    assert dead_letters["names"] == "${{for consumer, n in local.names : consumer => n[each.value]}}"
    assert set(modules["bus"].modules) == {"dead_letters", "rule_sends"}
    assert '"${k}-target-dlq" => q.name' in modules["bus"].outputs["dead_letter_queues"]["value"]
    assert modules["dead_letters"].resources["aws_sqs_queue"]["this"]["for_each"] == "${var.names}"
    rule = bus["aws_cloudwatch_event_rule"]["consumer"]
    assert rule["event_pattern"] == "${each.value.event_pattern}"
    assert rule["name"] == "${each.value.rule}"
    # Names come from the generated file; only the bus name is put in.
    assert modules["bus"].locals["names"].count('replace(c.queue, "{bus}", var.bus_name)') >= 1
    assert 'replace(c.dead_letter_queue, "{bus}", var.bus_name)' in modules["bus"].locals["names"]


def test_every_consumer_queue_has_a_dead_letter_queue_and_a_redrive_policy(modules):
    queue = modules["bus"].resources["aws_sqs_queue"]["consumer"]
    redrive = queue["redrive_policy"]
    assert 'deadLetterTargetArn = module.dead_letters["consumer"].queues[each.key].arn' in redrive
    assert "maxReceiveCount = var.max_receive_count" in redrive
    assert queue["sqs_managed_sse_enabled"] is True


def test_queue_visibility_is_at_least_six_times_the_consumer_timeout(modules, root):
    bus = modules["bus"]
    assert bus.locals["visibility_timeout_seconds"] == "${6 * var.consumer_timeout_seconds}"
    queue = bus.resources["aws_sqs_queue"]["consumer"]
    assert queue["visibility_timeout_seconds"] == "${local.visibility_timeout_seconds}"
    stack = root
    assert stack.modules["bus"]["consumer_timeout_seconds"] == "${var.consumer.timeout_seconds}"
    assert "timeout     = var.consumer.timeout_seconds" in stack.text()


def test_rule_targets_have_their_own_dead_letter_queue_and_retry_policy(modules, root):
    targets = [modules["bus"].resources["aws_cloudwatch_event_target"]["consumer"]]
    targets += [root.resources["aws_cloudwatch_event_target"]["schedule"]]
    for target in targets:
        assert target["dead_letter_config"][0]["arn"]
        assert target["retry_policy"][0]["maximum_retry_attempts"] > 0


def all_modules_and_roots(modules, root):
    return list(modules.values()) + [root]


def test_every_event_source_mapping_reports_batch_item_failures(modules, root):
    found = 0
    for module in all_modules_and_roots(modules, root):
        for name, mapping in module.resources.get("aws_lambda_event_source_mapping", {}).items():
            found += 1
            assert mapping["function_response_types"] == ["ReportBatchItemFailures"], name
            assert mapping["scaling_config"][0]["maximum_concurrency"], name
    assert found > 0


def function_input(stack, field: str) -> str:
    """The expression the stack gives modules/function for `field` of each function (local.function_inputs)."""
    inputs = stack.locals["function_inputs"]
    assert inputs.startswith("${{for k, f in local.functions : k => {"), inputs
    match = re.search(rf"[{{ ]{field} = (.*?)(?:, [a-z_]+ = |\}}\}}\}}$)", inputs)
    assert match, field
    return match.group(1)


def test_every_consumer_function_consumes_only_its_own_queue(modules, root):
    stack = root
    consumers = stack.locals["consumer_functions"]
    # "consumer-<c>" reads queue <c>, and the function module is handed that queue's ARN only.
    assert 'for c in keys(var.consumers) : "consumer-${c}" =>' in consumers
    assert re.search(r"queue\s*=\s*c\b", consumers)
    assert function_input(stack, "consumer_queue_arn") == "f.queue == null ? null : module.bus.queue_arns[f.queue]"
    function = stack.modules["function"]
    assert function["for_each"] == '${{for k, f in local.function_inputs : k => f if k != "chat"}}'
    assert (function["function"], function["shared"]) == ("${each.value}", "${local.function_shared}")
    mapping = stack.resources["aws_lambda_event_source_mapping"]["consumer"]
    assert mapping["event_source_arn"] == "${module.bus.queue_arns[each.key]}"
    assert mapping["function_name"] == '${module.function["consumer-${each.key}"].lambda.arn}'


def test_every_function_policy_names_only_its_own_resources(modules, root):
    function = modules["function"]
    policy = function.data["aws_iam_policy_document"]["own"]
    own = {
        "OwnLogs": ["${aws_cloudwatch_log_group.this.arn}:*"],
        "DecryptOwnSecrets": ["${var.shared.kms_key_arn}"],
        "AsyncFailuresToOwnDeadLetterQueue": ["${var.shared.async_dead_letter_arn}"],
    }
    for statement in policy["statement"]:
        assert statement["resources"] == own[statement["sid"]], statement["sid"]
    # Optional statements, each present only when the function has that resource of its own: one table
    # (local.optional_statements) whose entries have null resources otherwise, and the SES statement with its
    # condition.
    dynamic = [d for block in policy["dynamic"] for d in block.values()]
    owned = dynamic[0]
    assert owned["for_each"] == "${local.present_statements}"
    assert function.locals["present_statements"] == (
        "${[for s in local.optional_statements : s if s.resources != null]}")
    assert owned["content"][0] == {
        "sid": "${statement.value.sid}",
        "actions": "${statement.value.actions}",
        "resources": "${statement.value.resources}",
    }
    statements = {s["sid"]: s for s in function.locals["optional_statements"]}
    resources = {sid: s["resources"] for sid, s in statements.items()}
    assert resources == {
        "OwnParameters": '${local.ssm_path_arn == null ? null : [local.ssm_path_arn, "${local.ssm_path_arn}/*"]}',
        "PublishToOwnBus": "${var.function.bus_arn == null ? null : [var.function.bus_arn]}",
        "ConsumeOwnQueue": "${var.function.consumer_queue_arn == null ? null : [var.function.consumer_queue_arn]}",
        "OwnAttachmentObjects":
            '${var.function.attachments_bucket_arn == null ? null : ["${var.function.attachments_bucket_arn}/*"]}',
        "ListOwnAttachments":
            "${var.function.attachments_bucket_arn == null ? null : [var.function.attachments_bucket_arn]}",
        "EncryptAttachments": "${var.function.attachments_bucket_arn == null ? null : [var.shared.kms_key_arn]}",
    }
    assert statements["EncryptAttachments"]["actions"] == ["kms:GenerateDataKey"]
    assert statements["ListOwnAttachments"]["actions"] == ["s3:ListBucket"]
    assert statements["PublishToOwnBus"]["actions"] == ["events:PutEvents", "events:DescribeEventBus"]
    assert not any("*" in a for s in statements.values() for a in s["actions"])
    ses = dynamic[1]
    assert ses["for_each"] == "${length(var.function.ses_identity_arns) == 0 ? [] : [var.function.ses_identity_arns]}"
    ses = ses["content"][0]
    assert ses["sid"] == "SendReminderEmail"
    assert ses["resources"] == "${statement.value}"
    assert ses["condition"][0]["variable"] == "ses:FromAddress"
    # The SSM path is the function's own: /vwc/<env>/<function>.
    assert function.locals["ssm_path_arn"].endswith(':parameter${var.function.ssm_path}"}')
    stack = root
    assert function_input(stack, "ssm_path") == '"${local.ssm_root}/${k}"'
    assert function_input(stack, "environment") == 'merge({VWC_ENV = "${var.environment}/${k}"}, f.environment)'
    # SES only for the delivery worker.
    assert function_input(stack, "ses_identity_arns").startswith('k == "delivery"')
    assert function_input(stack, "ses_from_address") == 'k == "delivery" ? var.email_from : null'


def test_no_iam_statement_grants_every_resource_outside_the_key_policy(modules, root):
    for module in all_modules_and_roots(modules, root):
        for name, doc in module.data.get("aws_iam_policy_document", {}).items():
            if module.directory.name == "root" and name == "kms":
                continue  # a key policy's "*" is the key itself (skip justified inline)
            for statement in doc.get("statement", []):
                assert "*" not in statement.get("resources", []), (module.directory.name, name)


def test_every_schedule_may_invoke_only_its_own_function(modules, root):
    stack = root
    permission = stack.resources["aws_lambda_permission"]["schedule"]
    assert permission["for_each"] == "${local.schedules}"
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.schedule[each.key].arn}"
    assert permission["function_name"] == "${module.function[each.key].lambda.function_name}"
    target = stack.resources["aws_cloudwatch_event_target"]["schedule"]
    assert target["for_each"] == "${local.schedules}"
    assert target["arn"] == "${module.function[each.key].lambda.arn}"
    schedules = stack.locals["schedules"]
    for job in ("sweep", "delivery", "revaluation"):
        assert re.search(rf"\b{job}\s*=", schedules), job


def test_the_delivery_worker_runs_on_a_schedule_from_its_own_binary(modules, root):
    stack = root
    functions = stack.locals["functions"]
    assert 'binary = "vwc-lambda-delivery"' in functions
    assert "delivery" in functions
    assert stack.variables["delivery_schedule"]["default"] == "rate(1 minute)"


def test_every_packaged_binary_the_stack_names_exists(modules, root):
    names = set(re.findall(r'"(?:\$\{local\.lambda_dir\}/)?(vwc-lambda-[a-z-]+)', root.text()))
    assert "vwc-lambda-token-claims" in names and "vwc-lambda-delivery" in names
    bins = {p.stem for p in (REPO / "services" / "vwc" / "src" / "bin").glob("vwc-lambda-*.rs")}
    assert names <= bins, names - bins
    # scripts/package builds every services/vwc/src/bin/vwc-lambda-*.rs, so each of them gets a zip.
    package = (REPO / "scripts" / "package").read_text()
    assert "services/vwc/src/bin/vwc-lambda-*.rs" in package


def test_the_chat_function_streams_through_an_iam_url_only_the_distribution_may_invoke(modules, root):
    stack = root
    url = stack.resources["aws_lambda_function_url"]["chat"]
    assert url["invoke_mode"] == "RESPONSE_STREAM"
    assert url["authorization_type"] == "AWS_IAM"
    assert "cors" not in url  # same origin: the distribution serves the page and the chat
    permission = stack.resources["aws_lambda_permission"]["chat"]
    actions = re.findall(r'= "(lambda:[A-Za-z]+)"', permission["for_each"])
    assert sorted(actions) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert permission["action"] == "${each.value}"
    # Nobody but the dashboard's distribution: no "*" principal, no public URL.
    assert permission["principal"] == "cloudfront.amazonaws.com"
    assert permission["source_arn"] == "${module.dashboard.distribution.arn}"
    assert "AWS_IAM" in permission["function_url_auth_type"]
    assert 'principal              = "*"' not in stack.text()
    # The distribution gets the URL only when the chat function exists (else the API serves the chat).
    assert stack.modules["dashboard"]["chat_function_url"] == (
        "${var.enable_chat ? aws_lambda_function_url.chat[0].function_url : null}")
    # What decides the counts is known at plan time; the URL is not until the first apply creates it.
    assert stack.modules["dashboard"]["chat_enabled"] == "${var.enable_chat}"
    dashboard = modules["dashboard"]
    assert dashboard.resources["aws_cloudfront_function"]["carry_authorization"]["count"] == (
        "${var.chat_enabled ? 1 : 0}")
    # The Lambda origin access control is in the table only with the chat (the bucket's always).
    access_controls = dashboard.resources["aws_cloudfront_origin_access_control"]["this"]["for_each"]
    assert re.search(r'\{\s*s3\s*=', access_controls)
    assert re.search(r'var\.chat_enabled \? \{\s*lambda\s*=[^}]*"\$\{var\.bucket_name\}-chat"', access_controls)
    # The distribution has the chat's origin and behaviour only when the chat function exists.
    distribution = dashboard.resources["aws_cloudfront_distribution"]["this"]
    assert [b["for_each"] for b in dynamic_blocks(distribution, "origin")] == ["${local.custom_origins}"]
    assert [b["for_each"] for b in dynamic_blocks(distribution, "ordered_cache_behavior")] == [
        "${local.uncached_behaviors}"]
    for name in ("custom_origins", "uncached_behaviors"):
        assert re.search(r'var\.chat_enabled \? \[\{[^}]*"chat"[^}]*\}\] : \[\]', dashboard.locals[name]), name
    variables = (INFRA / "root" / "variables.tf").read_text()
    assert re.search(r'variable "enable_chat" \{[^}]*default\s*=\s*true', variables)


def dynamic_blocks(resource, kind):
    """The resource's `dynamic "<kind>"` blocks, in the order they are written (CloudFront's order)."""
    return [block[kind] for block in resource.get("dynamic", []) if kind in block]


def table(expression):
    """The object literals of a local's table (`concat(cond ? [{a = 1, b = "x"}] : [], …)`), in the order they
    are written, each as its attributes' text without quotes."""
    rows = []
    for body in re.findall(r"\{([^{}]*)\}", expression):
        row = {}
        for part in re.split(r",\s*(?![^\[]*\])", body):
            key, value = part.split("=", 1)
            row[key.strip()] = value.strip().strip('"')
        rows.append(row)
    return rows


def test_the_chat_behaviour_precedes_v1_and_reaches_the_function_signed_and_uncached(modules):
    dashboard = modules["dashboard"]
    distribution = dashboard.resources["aws_cloudfront_distribution"]["this"]
    behaviours = table(dashboard.locals["uncached_behaviors"])
    targets = [b["origin"] for b in behaviours]
    assert targets == ["chat", "api"], "the chat's behaviour must come before /v1/*"
    chat = behaviours[0]
    assert chat["path"] == "local.chat_path_pattern"
    pattern = dashboard.locals["chat_path_pattern"]
    assert pattern == "/v1/vehicles/*/chat*"
    for path in ("/v1/vehicles/veh_1/chat", "/v1/vehicles/veh_1/chat/suggestions",
                 "/v1/vehicles/veh_1/chat/conv_1", "/v1/vehicles/veh_1/chat/conv_1/messages/msg_1/feedback"):
        assert re.fullmatch(pattern.replace("*", ".*"), path), path
    for path in ("/v1/vehicles/veh_1/events", "/v1/vehicles", "/v1/fleet/overview"):
        assert not re.fullmatch(pattern.replace("*", ".*"), path), path
    behaviour = dynamic_blocks(distribution, "ordered_cache_behavior")[0]["content"][0]
    assert behaviour["path_pattern"] == "${ordered_cache_behavior.value.path}"
    assert behaviour["target_origin_id"] == "${ordered_cache_behavior.value.origin}"
    assert behaviour["cache_policy_id"] == CACHING_DISABLED
    assert behaviour["origin_request_policy_id"] == ALL_VIEWER_EXCEPT_HOST
    assert behaviour["compress"] == "${ordered_cache_behavior.value.compress}"
    assert chat["compress"] == "false" and behaviours[1]["compress"] == "true"
    assert "POST" in behaviour["allowed_methods"]
    # Only the chat's behaviour carries the viewer's token past the signature.
    assert chat["carry_authorization"] == "true" and behaviours[1]["carry_authorization"] == "false"
    association = dynamic_blocks(behaviour, "function_association")[0]
    assert association["for_each"] == (
        "${ordered_cache_behavior.value.carry_authorization ? [aws_cloudfront_function.carry_authorization[0].arn] : []}")
    assert association["content"][0]["event_type"] == "viewer-request"
    assert association["content"][0]["function_arn"] == "${function_association.value}"
    # The origin is the function URL, signed by an origin access control for Lambda.
    origins = {o["id"]: o for o in table(dashboard.locals["custom_origins"])}
    assert origins["chat"]["domain"] == "local.chat_domain"
    assert origins["chat"]["access_control"] == 'aws_cloudfront_origin_access_control.this["lambda"].id'
    origin = dynamic_blocks(distribution, "origin")[0]["content"][0]
    assert origin["origin_access_control_id"] == "${origin.value.access_control}"
    assert origin["origin_id"] == "${origin.value.id}"
    oac = dashboard.resources["aws_cloudfront_origin_access_control"]["this"]
    assert oac["origin_access_control_origin_type"] == "${each.key}"  # "lambda" for the chat's
    assert oac["signing_behavior"] == "always" and oac["signing_protocol"] == "sigv4"
    # Signing overwrites Authorization, so the bearer token is carried in the header the function reads.
    code = dashboard.resources["aws_cloudfront_function"]["carry_authorization"]["code"]
    carried = (REPO / "services" / "vwc" / "src" / "lambda.rs").read_text()
    header = re.search(r'pub const VIEWER_AUTHORIZATION: &str = "([^"]+)"', carried).group(1)
    assert f"request.headers['{header}'] = {{ value: request.headers.authorization.value }}" in code
    assert f"delete request.headers['{header}']" in code


def test_the_chat_function_has_the_function_alarms_and_one_for_its_urls_5xx(modules, root):
    metrics = modules["alarms"].locals["lambda_metrics"]
    url = metrics["url-5xx"]
    assert url["functions"] == "${var.url_function_names}" and url["metric"] == "Url5xxCount"
    assert '"AWS/Lambda"' in modules["alarms"].locals["alarms"]
    stack = root.modules["alarms"]
    assert stack["url_function_names"] == "${{for k, f in module.chat_function : k => f.lambda.function_name}}"
    # Errors and throttles: every function, the chat's included.
    assert "for k, f in module.function" in stack["function_names"]
    assert "for k, f in module.chat_function" in stack["function_names"]


def test_the_chat_function_reads_only_its_own_parameters_and_store_and_publishes_nothing(modules, root):
    stack = root
    text = stack.text()
    chat = re.search(r"\{chat = \{([^}]*)\}", stack.locals["functions"]).group(1)
    assert 'db_user = "chat-historian"' in chat  # its Atlas user reads and writes only its database
    assert "publishes = false" in chat
    # No queue, no environment of its own: the defaults.
    assert "queue" not in chat and "environment" not in chat
    assert (stack.locals["function_default"]["queue"], stack.locals["function_default"]["environment"]) == (None, {})
    assert stack.locals["functions"].endswith(" : name => merge(local.function_default, f)}}")
    # Its own module call: the same function module and the same inputs as every function (its own SSM path
    # and environment), and no bus (it publishes nothing) — neither the PutEvents statement (bus_arn null)
    # nor the parameter; no queue, no SES (those go by queue and key).
    assert stack.modules["function"]["for_each"] == '${{for k, f in local.function_inputs : k => f if k != "chat"}}'
    module = stack.modules["chat_function"]
    assert module["for_each"] == '${{for k, f in local.function_inputs : k => f if k == "chat"}}'
    assert module["source"] == "../modules/function"
    assert (module["function"], module["shared"]) == ("${each.value}", "${local.function_shared}")
    assert function_input(stack, "bus_arn") == "f.publishes ? module.bus.bus.arn : null"
    assert function_input(stack, "consumer_queue_arn").startswith("f.queue == null ? null")
    # Not ordered after the parameters: the distribution → chat URL → function → parameters → Cognito
    # client → callback (the distribution) would be a cycle.
    assert "depends_on" not in module
    assert stack.modules["function"]["depends_on"] == ["${module.parameters}"]
    assert "if f.publishes" in stack.locals["bus_parameters"]
    assert "bus_name" not in stack.locals["common_parameters"]
    # Its parameters live under its own path: what it verifies tokens with and the optional LLM key.
    chat_parameters = set(re.findall(r'"chat/([a-z_]+)"', text))
    assert chat_parameters == {"jwks_url", "jwt_issuer", "jwt_audience", "llm_api_key"}


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


def test_every_bucket_is_private_owner_enforced_versioned_encrypted_and_aborts_stale_uploads(modules, root):
    bucket = modules["private_bucket"].resources
    block = bucket["aws_s3_bucket_public_access_block"]["this"]
    assert all(block[k] is True for k in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    assert bucket["aws_s3_bucket_ownership_controls"]["this"]["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    assert bucket["aws_s3_bucket_versioning"]["this"]["versioning_configuration"][0]["status"] == "Enabled"
    sse = bucket["aws_s3_bucket_server_side_encryption_configuration"]["this"]["rule"][0]
    default = sse["apply_server_side_encryption_by_default"][0]
    # The caller's key (SSE-KMS with a bucket key), or SSE-S3 without one.
    assert default["sse_algorithm"] == '${var.kms_key_arn == null ? "AES256" : "aws:kms"}'
    assert default["kms_master_key_id"] == "${var.kms_key_arn}"
    assert sse["bucket_key_enabled"] == "${var.kms_key_arn == null ? null : true}"
    # The caller's lifecycle rules, then every bucket's: incomplete multipart uploads go after a day.
    lifecycle = bucket["aws_s3_bucket_lifecycle_configuration"]["this"]
    assert lifecycle["dynamic"][0]["rule"]["for_each"] == "${var.lifecycle_rules}"
    (abort,) = lifecycle["rule"]
    assert (abort["id"], abort["filter"]) == ("abort-incomplete-uploads", [{}])
    assert abort["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1
    # The policy goes on after public access is blocked (a public-looking policy would be refused).
    policy = bucket["aws_s3_bucket_policy"]["this"]
    assert policy["policy"] == "${var.policy}"
    assert policy["depends_on"] == ["${aws_s3_bucket_public_access_block.this}"]
    # Every bucket of the stack is one of these: no bucket resource anywhere else.
    for name, module in [*modules.items(), ("root", root)]:
        if name != "private_bucket":
            assert not [t for t in module.resources if t.startswith("aws_s3_bucket") and t != "aws_s3_bucket_cors_configuration"], name
    callers = {(m.directory.name, n) for m in [*modules.values(), root] for n, c in m.modules.items()
               if c["source"].endswith("/private_bucket")}
    assert callers == {("dashboard", "bucket"), ("root", "attachments_bucket")}


def test_the_dashboard_bucket_is_private_and_read_through_origin_access_control(modules):
    dashboard = modules["dashboard"]
    bucket = dashboard.modules["bucket"]
    # SSE-S3: CloudFront reads the files without a key grant (the skip on the call says why).
    assert "kms_key_arn" not in bucket
    assert "checkov:skip=CKV_AWS_145:" in dashboard.text()
    assert bucket["lifecycle_rules"] == [{"id": "expire-old-bundles", "noncurrent_days": 30}]
    # Only this distribution reads (and lists) it.
    assert bucket["policy"] == "${module.cloudfront_read.json}"
    read = dashboard.modules["cloudfront_read"]
    assert read["condition"]["values"] == ["${aws_cloudfront_distribution.this.arn}"]
    origin = dashboard.resources["aws_cloudfront_distribution"]["this"]["origin"][0]
    assert origin["domain_name"] == "${module.bucket.bucket.bucket_regional_domain_name}"
    assert origin["origin_access_control_id"] == '${aws_cloudfront_origin_access_control.this["s3"].id}'
    oac = dashboard.resources["aws_cloudfront_origin_access_control"]["this"]
    assert (oac["origin_access_control_origin_type"], oac["signing_behavior"]) == ("${each.key}", "always")


def test_the_attachments_bucket_is_private_encrypted_versioned_and_only_the_api_touches_it(modules, root):
    stack = root
    bucket = stack.modules["attachments_bucket"]
    assert bucket["source"] == "../modules/private_bucket"
    assert bucket["kms_key_arn"] == "${aws_kms_key.this.arn}"
    # Unconfirmed uploads expire; the API confirms (reads) every upload before it is an attachment.
    rules = {rule["id"]: rule for rule in bucket["lifecycle_rules"]}
    assert rules["expire-unconfirmed-uploads"]["prefix"] == "pending/"
    assert rules["expire-unconfirmed-uploads"]["expiration_days"] == 1
    assert rules["keep-replaced-versions-a-while"]["noncurrent_days"] == "${var.attachments_noncurrent_days}"
    # Object access: the API function's role only (its policy names the bucket; the bucket denies others).
    assert bucket["policy"] == "${data.aws_iam_policy_document.attachments.json}"
    policy = stack.data["aws_iam_policy_document"]["attachments"]["statement"]
    only_api = next(s for s in policy if s["sid"] == "OnlyTheApiFunctionTouchesObjects")
    assert only_api["effect"] == "Deny"
    assert only_api["condition"][0]["values"] == ['${module.function["api"].role_arn}']
    tls = next(s for s in policy if s["sid"] == "TlsOnly")
    assert tls["condition"][0]["variable"] == "aws:SecureTransport"
    cors = stack.resources["aws_s3_bucket_cors_configuration"]["attachments"]
    assert cors["bucket"] == "${module.attachments_bucket.bucket.id}"
    assert cors["cors_rule"][0]["allowed_origins"] == ["${module.dashboard.url}"]
    assert function_input(stack, "attachments_bucket_arn") == 'k == "api" ? module.attachments_bucket.bucket.arn : null'
    # The API function reads the bucket's name from its own parameters (attachments_bucket).
    assert "api/attachments_bucket" in str(stack.locals["parameters"])


def test_the_api_signs_calendar_urls_under_the_distributions_url(root):
    # The API function reads `public_url` (VWC_PUBLIC_URL) and starts every signed calendar URL with it, so a
    # signature is never handed out under a host the request named (X-Forwarded-Host through CloudFront).
    assert '"api/public_url" = module.dashboard.url,' in root.locals["parameters"]
    # ...which is where CloudFront sends /calendar/* to the HTTP API.
    dashboard = (INFRA / "modules" / "dashboard" / "main.tf").read_text()
    assert '"/calendar/*"' in dashboard
    assert root.modules["dashboard"]["source"] == "../modules/dashboard"


def test_alarms_cover_dead_letters_errors_throttles_5xx_and_the_budget(modules, root):
    alarms = modules["alarms"]
    table = alarms.locals["alarms"]
    metrics = {m["metric"] for m in alarms.locals["lambda_metrics"].values()}
    metrics |= set(re.findall(r'metric\s*=\s*"([^"]+)"', table))
    assert metrics == {"ApproximateNumberOfMessagesVisible", "Errors", "Throttles", "5xx", "Url5xxCount"}
    # One alarm per queue, per function and metric, and the API; each notifies the topic.
    for source in ("var.dead_letter_queues", "m.functions", "var.api_id"):
        assert source in table, source
    alarm = alarms.resources["aws_cloudwatch_metric_alarm"]["this"]
    assert alarm["for_each"] == "${local.alarms}"
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    assert alarm["threshold"] == 0 and alarm["comparison_operator"] == "GreaterThanThreshold"
    assert "monthly" in alarms.resources["aws_budgets_budget"]
    stack = root.modules["alarms"]
    assert "module.bus.dead_letter_queues" in stack["dead_letter_queues"]
    # The functions' own dead-letter queues too (failed asynchronous invocations, undeliverable schedules).
    assert "for k, q in module.failures.queues" in stack["dead_letter_queues"]
    failures = root.modules["failures"]
    assert failures["source"] == "../modules/dead_letters"
    assert set(failures["names"]) == {"lambda-async", "schedule"}


def test_every_checkov_skip_says_why():
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                reason = line.split("checkov:skip=", 1)[1].split(":", 1)
                assert len(reason) == 2 and len(reason[1].strip()) >= 30, f"{path}: {line.strip()}"


def test_terraform_and_providers_are_pinned(modules, root):
    for module in all_modules_and_roots(modules, root):
        assert module.terraform, module.directory
        # The version in one block (versions.tf); other blocks add providers.
        assert [b["required_version"] for b in module.terraform if "required_version" in b] == [">= 1.7"], \
            module.directory
        # A module of data sources alone (service_grant) may leave the provider to its callers.
        required = {name: spec for block in module.terraform
                    for providers in block.get("required_providers", []) for name, spec in providers.items()}
        assert required or not module.resources, module.directory
        for name, spec in required.items():
            assert re.match(r"~> \d+\.\d+", spec["version"]), (module.directory, name)
        # Every provider the module's resources come from is pinned here (the prefix of the resource type).
        for rtype in module.resources:
            assert rtype.split("_", 1)[0] in required, (module.directory, rtype)
    # The root configures AWS; MongoDB Atlas takes its default configuration (credentials from the environment)
    # and its pin from modules/atlas.
    assert [p for block in root.terraform for p in block.get("required_providers", [])] == [
        {"aws": {"source": "hashicorp/aws", "version": "~> 6.0"}}]
    assert modules["atlas"].terraform[0]["required_providers"][0]["mongodbatlas"]["source"] == "mongodb/mongodbatlas"


def test_the_root_reports_one_object_and_deploy_reads_only_its_fields(root):
    # One object, everything the environment reports, rather than an output per field.
    assert set(root.outputs) == {"stack"}
    fields = root.outputs["stack"]["value"]
    assert set(fields) == {"api_url", "dashboard_url", "dashboard_bucket", "dashboard_distribution_id", "chat_url",
                           "bus_name", "functions", "alarm_topic_arn", "ssm_parameters"}
    # Every field scripts/deploy reads from it (`output NAME`) is one the root reports.
    deploy = (REPO / "scripts" / "deploy").read_text()
    assert "tf output -json stack" in deploy and "-raw" not in deploy
    read = set(re.findall(r'\$\(output ([a-z_]+)\)', deploy))
    assert read == {"api_url", "dashboard_bucket", "dashboard_distribution_id", "dashboard_url", "chat_url"}
    assert read <= set(fields), read - set(fields)


def test_the_generated_file_is_committed_next_to_a_generator():
    assert os.access(REPO / "scripts" / "gen-infra-routes", os.X_OK)


def test_each_atlas_user_reads_and_writes_only_its_own_database(modules, root):
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
    assert root.modules["atlas"]["composite_users"] == {"api": "${local.services}"}


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


def test_the_default_issuer_puts_org_and_roles_into_tokens(modules, root):
    identity = modules["identity"].resources
    pool = identity["aws_cognito_user_pool"]["this"]
    trigger = pool["lambda_config"][0]["pre_token_generation_config"][0]
    assert trigger["lambda_version"] == "V2_0"
    assert pool["user_pool_tier"] == "ESSENTIALS"  # V2 triggers need it
    permission = identity["aws_lambda_permission"]["token_claims"]
    assert permission["principal"] == "cognito-idp.amazonaws.com"
    assert permission["source_arn"] == "${aws_cognito_user_pool.this.arn}"
    token_claims = root.modules["token_claims"]
    # No database, bus or parameters for this one.
    assert not {"bus_arn", "ssm_path", "consumer_queue_arn"} & set(token_claims["function"])
    # Outside the VPC even with PrivateLink to Atlas: it reaches no database.
    assert token_claims["shared"] == "${merge(local.function_shared, {vpc = null})}"


API_PATHS = ["/v1/*", "/webhooks/*", "/calendar/*", "/healthz", "/readyz", "/openapi.json"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def test_the_dashboard_distribution_sends_every_api_path_to_the_http_api_uncached(modules, root):
    dashboard = modules["dashboard"]
    distribution = dashboard.resources["aws_cloudfront_distribution"]["this"]
    assert dashboard.locals["api_path_patterns"] == API_PATHS
    origins = dashboard.locals["custom_origins"]
    assert 'local.api_domain == null ? [] : [{id = "api", domain = local.api_domain,' in origins
    origin = dynamic_blocks(distribution, "origin")[0]["content"][0]
    assert origin["domain_name"] == "${origin.value.domain}"
    assert origin["custom_origin_config"][0]["origin_protocol_policy"] == "https-only"
    # One behaviour per API path, each to the API's origin.
    behaviours = dashboard.locals["uncached_behaviors"]
    assert ('local.api_domain == null ? [] : [for path in local.api_path_patterns : '
            '{path = path, origin = "api",') in behaviours
    behaviour = dynamic_blocks(distribution, "ordered_cache_behavior")[0]["content"][0]
    assert behaviour["target_origin_id"] == "${ordered_cache_behavior.value.origin}"
    assert behaviour["path_pattern"] == "${ordered_cache_behavior.value.path}"
    assert sorted(behaviour["allowed_methods"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"])
    # Never cached; every viewer header (Authorization too: allowed with caching off) but Host.
    assert behaviour["cache_policy_id"] == CACHING_DISABLED
    assert behaviour["origin_request_policy_id"] == ALL_VIEWER_EXCEPT_HOST
    assert behaviour["viewer_protocol_policy"] == "https-only"
    # An error page rewrite would apply to the API too, turning its 403 problems into the page.
    assert "custom_error_response" not in distribution
    # The stack points the distribution at its HTTP API.
    stack_dashboard = root.modules["dashboard"]
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


def test_the_dashboard_signs_in_with_cognito_through_the_pages_csp_and_a_public_config_route(modules, root):
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
    stack = root
    # The page's redirect_uri is the distribution's root with its slash.
    assert stack.modules["identity"]["callback_urls"] == ["${module.dashboard.url}/"]
    text = stack.text()
    for name in ("oidc_authority", "oidc_client_id", "oidc_scope", "oidc_api_token"):
        assert f'"api/{name}"' in text, name
    # The API no longer names the distribution (that would be a cycle: the distribution routes to the API).
    assert stack.modules["http_api"]["cors_origins"] == []


def test_every_grant_to_an_aws_service_names_on_whose_behalf_it_acts(modules, root):
    grant = modules["service_grant"]
    body = dynamic_blocks(grant.data["aws_iam_policy_document"]["this"], "statement")[0]
    assert body["for_each"] == "${var.statements}"
    statement = body["content"][0]
    assert statement["principals"][0]["type"] == "Service"
    assert statement["condition"][0]["variable"] == "${var.condition.variable}"
    assert "aws:SourceArn" in grant.variables["condition"]["validation"][0]["condition"]
    # The queue, bucket and topic policies that let a service in go through it.
    users = {(m.directory.name, name) for m in [*modules.values(), root]
             for name, call in m.modules.items() if call["source"].endswith("/service_grant")}
    assert users == {("bus", "rule_sends"), ("root", "schedule_failures_policy"),
                     ("dashboard", "cloudfront_read"), ("alarms", "publishers")}
    # Elsewhere a service principal comes with its condition too (a role's trust policy excepted).
    for module in [*modules.values(), root]:
        for name, doc in module.data.get("aws_iam_policy_document", {}).items():
            for s in doc.get("statement", []):
                if any(p["type"] == "Service" for p in s.get("principals", [])) and s["actions"] != ["sts:AssumeRole"]:
                    assert s.get("condition"), (module.directory.name, name, s.get("sid"))


def moves(directory) -> dict:
    """`moved` blocks of one module directory: from → to (addresses as python-hcl2 keeps them)."""
    found = {}
    for path in sorted(directory.glob("*.tf")):
        for block in load(path).get("moved", []):
            found[block["from"]] = block["to"]
    return found


# One step of an address: `module.NAME` or `TYPE.NAME`, either with an optional instance key.
ADDRESS_STEP = re.compile(r'(?:(module)\.([a-z0-9_]+)|([a-z0-9_]+)\.([a-z0-9_]+))(?:\[("[^"]*"|\d+)\])?')


def declared(modules, root, address: str, instance: bool = False) -> bool:
    """Whether a `moved` address names something the root declares: module calls down to a resource
    (or a module call), an instance key only where the call or resource has for_each or count. With
    `instance`, an address without a key names the unkeyed instance, which a for_each or count has not."""
    module, rest = root, address.removeprefix("${").removesuffix("}")
    while rest:
        step = ADDRESS_STEP.match(rest)
        is_module, call_name, rtype, name, key = step.groups()
        rest = rest[step.end():].removeprefix(".")
        if is_module:
            call = module.modules.get(call_name)
            body, module = call, call and modules.get(call["source"].rsplit("/", 1)[-1])
        else:
            body = module.resources.get(rtype, {}).get(name)
        repeated = body is not None and ("for_each" in body or "count" in body)
        if body is None or (key is not None and not repeated) or (instance and not rest and key is None and repeated):
            return False
    return True


def test_every_moved_address_leads_from_what_is_gone_to_what_is_declared(modules, root):
    moved = moves(root.directory)
    assert moved
    for old, new in moved.items():
        # Declared, or the start of a later move (a chain: modules/stack's addresses came up to the root, then
        # its own earlier moves take them on).
        assert declared(modules, root, new) or new in moved, new
        # From the unkeyed instance to a key (a resource given for_each) names the instance that is gone.
        assert not declared(modules, root, old, instance=new.endswith("]}")), old
    # Every chain ends at something declared.
    for old in moved:
        end = old
        for _ in range(len(moved)):
            end = moved.get(end, end)
        assert declared(modules, root, end), (old, end)
    # Each of modules/stack's module calls and resources moved up when it became the root.
    for call in root.modules:
        assert moved.get(f"${{module.stack.module.{call}}}") == f"${{module.{call}}}", call
    for rtype, named in root.resources.items():
        for name in named:
            assert moved.get(f"${{module.stack.{rtype}.{name}}}") == f"${{{rtype}.{name}}}", (rtype, name)
    # Every move is written once, in the root's moved.tf (the root calls every module; Terraform resolves a
    # move from the module declaring it down into its local modules). modules/alarms keeps its own, with
    # the `removed` blocks that go with them.
    for name, module in modules.items():
        if name != "alarms":
            assert not moves(module.directory), name
    assert [p.name for p in root.directory.glob("*.tf") if "moved {" in p.read_text()] == ["moved.tf"]


def test_dead_letter_queues_keep_two_weeks_encrypted_and_their_old_addresses_move(modules, root):
    queue = modules["dead_letters"].resources["aws_sqs_queue"]["this"]
    assert queue["message_retention_seconds"] == "${14 * 24 * 60 * 60}"
    assert queue["sqs_managed_sse_enabled"] is True
    # Each queue keeps its key, so an existing deployment's queues move rather than being replaced; every
    # earlier address moves straight to where the queue is now.
    queues = {old: new for old, new in moves(root.directory).items() if "aws_sqs_queue." in old or "dead_letter" in old}
    assert queues == {
        "${module.stack.aws_sqs_queue.failures}": "${aws_sqs_queue.failures}",
        "${module.stack.aws_sqs_queue.async_failures}": "${aws_sqs_queue.async_failures}",
        "${module.stack.aws_sqs_queue.schedule_failures}": "${aws_sqs_queue.schedule_failures}",
        "${aws_sqs_queue.failures}": "${module.failures.aws_sqs_queue.this}",
        "${aws_sqs_queue.async_failures}": '${module.failures.aws_sqs_queue.this["lambda-async"]}',
        "${aws_sqs_queue.schedule_failures}": '${module.failures.aws_sqs_queue.this["schedule"]}',
        "${module.bus.aws_sqs_queue.dead_letter}": '${module.bus.module.dead_letters["consumer"].aws_sqs_queue.this}',
        "${module.bus.aws_sqs_queue.target_dead_letter}": '${module.bus.module.dead_letters["target"].aws_sqs_queue.this}',
        "${module.bus.module.dead_letter}": '${module.bus.module.dead_letters["consumer"]}',
        "${module.bus.module.target_dead_letter}": '${module.bus.module.dead_letters["target"]}',
    }


def test_both_buckets_and_their_settings_move_into_the_shared_module(modules, root):
    moved = moves(root.directory)
    settings = [t for t in modules["private_bucket"].resources if t.startswith("aws_s3_bucket")]
    assert len(settings) == 7
    for rtype in settings:
        assert moved[f"${{module.dashboard.{rtype}.this}}"] == f"${{module.dashboard.module.bucket.{rtype}.this}}"
        assert moved[f"${{{rtype}.attachments}}"] == f"${{module.attachments_bucket.{rtype}.this}}"


def test_the_root_and_every_module_pin_terraform_and_aws_through_the_one_shared_file(modules, root):
    shared = (INFRA / "versions" / "aws.tf").resolve()
    for name, module in [*modules.items(), ("root", root)]:
        versions = module.directory / "versions.tf"
        if name in ("service_grant", "atlas"):  # no provider; three providers in its one required_providers
            assert not versions.is_symlink(), name
        else:
            assert versions.is_symlink() and versions.resolve() == shared, name
