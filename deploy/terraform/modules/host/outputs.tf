output "shape" {
  description = "The compute shape every Drift machine uses."
  value       = local.shape
}

output "availability_domain" {
  description = "Name of the availability domain to launch in."
  value       = data.oci_identity_availability_domains.all.availability_domains[var.availability_domain_index].name
}

output "image_id" {
  description = "OCID of the boot image."
  value       = var.image_ocid != "" ? var.image_ocid : data.oci_core_images.ubuntu.images[0].id
}

output "user_data" {
  description = "cloud-init user data (base64), as instance metadata wants it."
  value       = base64encode(templatefile("${path.module}/cloud-init.yaml.tftpl", { image = var.container_image }))
}
