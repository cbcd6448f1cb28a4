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

output "metadata" {
  description = "Instance metadata: the ssh key, and cloud-init user data (base64) that runs the container."
  value = {
    ssh_authorized_keys = var.ssh_public_key
    user_data           = base64encode(templatefile("${path.module}/cloud-init.yaml.tftpl", { image = var.container_image }))
  }
}
