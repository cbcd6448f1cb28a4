# The variables both roots take (each links to this file).

variable "tenancy_ocid" {
  description = "OCID of your tenancy (Profile > Tenancy)."
  type        = string
}

variable "user_ocid" {
  description = "OCID of the user whose API key signs the requests (Profile > My profile)."
  type        = string
}

variable "fingerprint" {
  description = "Fingerprint of that API key."
  type        = string
}

variable "private_key_path" {
  description = "Path to the API key's private PEM file."
  type        = string
}

variable "region" {
  description = "Region identifier, e.g. eu-frankfurt-1: your home region for the Always Free A1 shape."
  type        = string
}

variable "compartment_ocid" {
  description = "OCID of the compartment everything is created in (the tenancy OCID is the root compartment)."
  type        = string
}

variable "ssh_public_key" {
  description = "Public key (the text, e.g. \"ssh-ed25519 AAAA...\") installed for the ubuntu user."
  type        = string
}

variable "ssh_source_cidr" {
  description = "Addresses allowed to ssh in. 0.0.0.0/0 is the walkthrough's; your own address/32 is safer."
  type        = string
  default     = "0.0.0.0/0"
}

variable "container_image" {
  description = "Image to run: ghcr.io/OWNER/drift:TAG (the walkthrough's mirror) or ghcr.io/OWNER/driftd:TAG (production)."
  type        = string
}

variable "image_ocid" {
  description = "Boot image OCID, e.g. from the Packer build; empty: the newest Canonical Ubuntu 24.04 for A1."
  type        = string
  default     = ""
}

variable "availability_domain_index" {
  description = "Which availability domain (0-based) to launch in; try another when A1 capacity is out."
  type        = number
  default     = 0
}

variable "ocpus" {
  description = "OCPUs per machine (Always Free: 4 A1 OCPUs in total)."
  type        = number
  default     = 1
}

variable "memory_in_gbs" {
  description = "Memory per machine in GB (Always Free: 24 GB of A1 memory in total)."
  type        = number
  default     = 2
}
