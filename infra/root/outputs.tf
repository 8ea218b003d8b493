# Everything the stack reports (modules/stack/outputs.tf: the API's and the dashboard's addresses, the bundle's
# bucket and distribution, the chat function's URL, the functions', bus's, alarm topic's and parameters' names),
# passed on as one object rather than an output each: `scripts/tf ENV output -json stack`. scripts/deploy
# reads its fields from it, so an output the stack adds needs nothing here.
output "stack" {
  value = module.stack
}
