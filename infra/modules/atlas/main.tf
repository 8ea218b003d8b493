# MongoDB Atlas: a project, one cluster (M0 or Flex), one database user per service limited to its own
# database, the access list (or a private endpoint), and alerts. Connection strings are outputs, stored in
# SSM by the parameters module, never printed.

locals {
  database = { for s in var.services : s => "${var.database_prefix}_${replace(s, "-", "_")}" }
  users    = merge({ for s in var.services : s => [s] }, var.composite_users)
  srv      = mongodbatlas_advanced_cluster.this.connection_strings.standard_srv
}

resource "mongodbatlas_project" "this" {
  name   = var.project_name
  org_id = var.org_id
}

# One resource for both tiers (the provider's advice; it also upgrades M0 → Flex → dedicated in place).
resource "mongodbatlas_advanced_cluster" "this" {
  project_id   = mongodbatlas_project.this.id
  name         = var.cluster_name
  cluster_type = "REPLICASET"
  # Flex takes daily snapshots (docs/runbooks/atlas-restore.md); M0 has no backups.
  backup_enabled = var.cluster_tier == "FLEX"
  replication_specs = [{
    region_configs = [{
      provider_name         = var.cluster_tier == "M0" ? "TENANT" : "FLEX"
      backing_provider_name = "AWS"
      region_name           = var.region
      priority              = 7
      electable_specs       = var.cluster_tier == "M0" ? { instance_size = "M0" } : null
    }]
  }]
  termination_protection_enabled = var.cluster_tier != "M0"
}

# One role per user. Atlas gives a user with a custom role no other role, so the role carries both halves:
# readWrite on the user's own database(s), inherited; and, in every service's database, only what a store's
# start-up needs — the composition root opens every service's store and each ensures its indexes (creating an
# index on a collection that does not exist yet creates the empty collection). No reads or writes there.
resource "mongodbatlas_custom_db_role" "user" {
  for_each   = local.users
  project_id = mongodbatlas_project.this.id
  role_name  = "vwc-${each.key}"

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

  dynamic "inherited_roles" {
    for_each = toset(each.value)
    content {
      role_name     = "readWrite"
      database_name = local.database[inherited_roles.value]
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

  roles {
    role_name     = mongodbatlas_custom_db_role.user[each.key].role_name
    database_name = "admin"
  }

  scopes {
    name = mongodbatlas_advanced_cluster.this.name
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
