# The walkthrough's deployment: one A1 VM with a public IP that starts
# serving on port 80 by itself (cloud-init runs the container).

locals {
  name = "drift"
}

resource "oci_core_instance" "drift" {
  compartment_id      = var.compartment_ocid
  availability_domain = module.host.availability_domain
  display_name        = "drift"
  shape               = module.host.shape

  shape_config {
    ocpus         = var.ocpus
    memory_in_gbs = var.memory_in_gbs
  }

  source_details {
    source_type = "image"
    source_id   = module.host.image_id
  }

  create_vnic_details {
    subnet_id        = module.network.subnet_id
    assign_public_ip = true
  }

  metadata = module.host.metadata
}
