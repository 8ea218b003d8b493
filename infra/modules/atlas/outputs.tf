output "project_id" {
  value = mongodbatlas_project.this.id
}

output "connection_strings" {
  description = "user (service, or composite function) → its mongodb+srv URI with credentials."
  sensitive   = true
  value = {
    for user, _ in local.users : user => "${replace(
      local.srv,
      "mongodb+srv://",
      "mongodb+srv://${mongodbatlas_database_user.this[user].username}:${random_password.user[user].result}@",
    )}/?retryWrites=true&w=majority&appName=vwc-${user}"
  }
}
