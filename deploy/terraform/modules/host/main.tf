# What every Drift machine is, whether alone or in the pool: an A1 shape, the
# Ubuntu ARM64 image (or the Packer one), and cloud-init that runs the
# container. It creates nothing; the roots launch machines from its outputs.

data "oci_identity_availability_domains" "all" {
  compartment_id = var.tenancy_ocid
}

# The newest Canonical Ubuntu for the A1 shape, when no Packer image is given.
data "oci_core_images" "ubuntu" {
  compartment_id           = var.compartment_ocid
  operating_system         = "Canonical Ubuntu"
  operating_system_version = var.ubuntu_version
  shape                    = local.shape
  sort_by                  = "TIMECREATED"
  sort_order               = "DESC"
}

locals {
  # Ampere A1: the Always Free Arm shape, which the arm64 images run on.
  shape = "VM.Standard.A1.Flex"
}
