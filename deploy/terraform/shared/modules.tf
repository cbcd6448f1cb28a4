# The network and the machine description both roots build on; each root
# links to this file and sets local.name.

module "network" {
  source           = "../modules/network"
  compartment_ocid = var.compartment_ocid
  name             = local.name
  ssh_source_cidr  = var.ssh_source_cidr
}

module "host" {
  source                    = "../modules/host"
  tenancy_ocid              = var.tenancy_ocid
  compartment_ocid          = var.compartment_ocid
  image_ocid                = var.image_ocid
  availability_domain_index = var.availability_domain_index
  container_image           = var.container_image
  ssh_public_key            = var.ssh_public_key
}
