output "names" {
  value = concat(
    [for p in aws_ssm_parameter.managed : p.name],
    [for p in aws_ssm_parameter.operator_managed : p.name],
  )
}
