output "subnet_id" {
  description = "OCID of the public subnet the servers (and the load balancer) live in."
  value       = oci_core_subnet.drift.id
}

output "vcn_id" {
  description = "OCID of the VCN."
  value       = oci_core_vcn.drift.id
}
