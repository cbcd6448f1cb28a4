output "load_balancer_ip" {
  description = "The load balancer's public address."
  value       = oci_load_balancer_load_balancer.drift.ip_address_details[0].ip_address
}

output "url" {
  description = "Where the pool answers once a machine passes the health check."
  value       = "http://${oci_load_balancer_load_balancer.drift.ip_address_details[0].ip_address}/"
}
