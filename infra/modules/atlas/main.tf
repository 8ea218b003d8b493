# MongoDB Atlas: a project, one cluster (M0 or Flex), one database user per service limited to its own
# database, the access list (or a private endpoint), and alerts. Connection strings are outputs, stored in
# SSM by the parameters module, never printed.

locals {
  database = { for s in var.services : s => "${var.database_prefix}_${replace(s, "-", "_")}" }
  users    = merge({ for s in var.services : s => [s] }, var.composite_users)
  srv = var.cluster_tier == "FLEX" ? mongodbatlas_flex_cluster.this[0].connection_strings.standard_srv : (
    mongodbatlas_advanced_cluster.free[0].connection_strings.standard_srv
  )
}

resource "mongodbatlas_project" "this" {
  name   = var.project_name
  org_id = var.org_id
}

resource "mongodbatlas_advanced_cluster" "free" {
  count        = var.cluster_tier == "M0" ? 1 : 0
  project_id   = mongodbatlas_project.this.id
  name         = var.cluster_name
  cluster_type = "REPLICASET"
  replication_specs = [{
    region_configs = [{
      provider_name         = "TENANT"
      backing_provider_name = "AWS"
      region_name           = var.region
      priority              = 7
      electable_specs = {
        instance_size = "M0"
      }
    }]
  }]
}

resource "mongodbatlas_flex_cluster" "this" {
  count      = var.cluster_tier == "FLEX" ? 1 : 0
  project_id = mongodbatlas_project.this.id
  name       = var.cluster_name
  provider_settings = {
    backing_provider_name = "AWS"
    region_name           = var.region
  }
  termination_protection_enabled = true
}

# Every store creates its indexes when a process starts, and the composition root opens every service's
# store; this role lets a service's user do exactly that in the others' databases (creating an index on a
# collection that does not exist yet creates the empty collection), and read or write nothing there.
resource "mongodbatlas_custom_db_role" "ensure_indexes" {
  project_id = mongodbatlas_project.this.id
  role_name  = "vwc-ensure-indexes"

  dynamic "actions" {
    for_each = toset(["CREATE_INDEX", "CREATE_COLLECTION", "LIST_INDEXES"])
    content {
      action = actions.value
      dynamic "resources" {
        for_each = local.database
        content {
          database_name   = resources.value
          collection_name = ""
        }
      }
    }
  }
}

resource "random_password" "user" {
  for_each = local.users
  length   = 40
  special  = false
}

resource "mongodbatlas_database_user" "this" {
  for_each           = local.users
  project_id         = mongodbatlas_project.this.id
  auth_database_name = "admin"
  username           = "vwc-${each.key}"
  password           = random_password.user[each.key].result

  dynamic "roles" {
    for_each = toset(each.value)
    content {
      role_name     = "readWrite"
      database_name = local.database[roles.value]
    }
  }

  roles {
    role_name     = mongodbatlas_custom_db_role.ensure_indexes.role_name
    database_name = "admin"
  }

  scopes {
    name = var.cluster_name
    type = "CLUSTER"
  }
}

resource "mongodbatlas_project_ip_access_list" "this" {
  for_each   = var.private_endpoint == null ? toset(var.access_cidrs) : toset([])
  project_id = mongodbatlas_project.this.id
  cidr_block = each.value
  comment    = "vwc functions"
}

resource "mongodbatlas_privatelink_endpoint" "this" {
  count         = var.private_endpoint == null ? 0 : 1
  project_id    = mongodbatlas_project.this.id
  provider_name = "AWS"
  region        = var.region
}

resource "aws_vpc_endpoint" "atlas" {
  count              = var.private_endpoint == null ? 0 : 1
  vpc_id             = var.private_endpoint.vpc_id
  service_name       = mongodbatlas_privatelink_endpoint.this[0].endpoint_service_name
  vpc_endpoint_type  = "Interface"
  subnet_ids         = var.private_endpoint.subnet_ids
  security_group_ids = var.private_endpoint.security_group_ids
}

resource "mongodbatlas_privatelink_endpoint_service" "this" {
  count               = var.private_endpoint == null ? 0 : 1
  project_id          = mongodbatlas_project.this.id
  private_link_id     = mongodbatlas_privatelink_endpoint.this[0].private_link_id
  endpoint_service_id = aws_vpc_endpoint.atlas[0].id
  provider_name       = "AWS"
}

resource "mongodbatlas_alert_configuration" "connections" {
  project_id = mongodbatlas_project.this.id
  event_type = "OUTSIDE_METRIC_THRESHOLD"
  enabled    = true

  notification {
    type_name     = "EMAIL"
    email_address = var.alert_email
    interval_min  = 60
    delay_min     = 0
  }

  # M0 and Flex allow 500 connections; every warm Lambda holds a small pool.
  metric_threshold_config {
    metric_name = "CONNECTIONS"
    operator    = "GREATER_THAN"
    threshold   = 400
    units       = "RAW"
    mode        = "AVERAGE"
  }
}

resource "mongodbatlas_alert_configuration" "no_primary" {
  project_id = mongodbatlas_project.this.id
  event_type = "NO_PRIMARY"
  enabled    = true

  notification {
    type_name     = "EMAIL"
    email_address = var.alert_email
    interval_min  = 15
    delay_min     = 0
  }
}
