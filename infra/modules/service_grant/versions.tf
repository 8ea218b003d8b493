# Only a policy document (hashicorp/aws, implied by the data source's type): the aws provider and its
# version come from the module calling it, which pins them.
terraform {
  required_version = ">= 1.7"
}
