output "public_ip" {
  description = "The VM's public address: DRIFT_HOST=ubuntu@<this> for `just deploy`."
  value       = oci_core_instance.drift.public_ip
}

output "url" {
  description = "Where the server answers once cloud-init has run (a minute or two)."
  value       = "http://${oci_core_instance.drift.public_ip}/"
}
