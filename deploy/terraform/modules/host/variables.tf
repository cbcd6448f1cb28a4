variable "tenancy_ocid" {
  description = "OCID of the tenancy, whose availability domains are listed."
  type        = string
}

variable "compartment_ocid" {
  description = "OCID of the compartment the images are looked up in."
  type        = string
}

variable "image_ocid" {
  description = "OCID of the boot image (e.g. the Packer build); empty: the newest Canonical Ubuntu for A1."
  type        = string
}

variable "ubuntu_version" {
  description = "Canonical Ubuntu release used when image_ocid is empty."
  type        = string
  default     = "24.04"
}

variable "availability_domain_index" {
  description = "Which availability domain (0-based) to launch in; A1 capacity differs between them."
  type        = number
}

variable "container_image" {
  description = "The image cloud-init runs: ghcr.io/OWNER/drift:TAG (the mirror) or ghcr.io/OWNER/driftd:TAG."
  type        = string
}

variable "ssh_public_key" {
  description = "Public key installed for the ubuntu user."
  type        = string
}
