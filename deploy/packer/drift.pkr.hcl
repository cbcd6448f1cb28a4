# The walkthrough's base image: Ubuntu ARM64 on an A1 instance, Docker
# installed and enabled, saved as a custom image. Terraform's image_ocid
# takes the result; without it the VMs install Docker at first boot instead.
#
#   packer init deploy/packer && packer build -var-file=drift.pkrvars.hcl deploy/packer

packer {
  required_plugins {
    oracle = {
      source  = "github.com/hashicorp/oracle"
      version = "~> 1"
    }
  }
}

variable "tenancy_ocid" {
  type        = string
  description = "OCID of your tenancy."
}

variable "user_ocid" {
  type        = string
  description = "OCID of the user whose API key signs the requests."
}

variable "fingerprint" {
  type        = string
  description = "Fingerprint of that API key."
}

variable "key_file" {
  type        = string
  description = "Path to the API key's private PEM file."
}

variable "region" {
  type        = string
  description = "Region identifier, e.g. eu-frankfurt-1."
}

variable "compartment_ocid" {
  type        = string
  description = "OCID of the compartment the build instance and the image go in."
}

variable "availability_domain" {
  type        = string
  description = "Full availability domain name for the build instance, e.g. Xyz1:EU-FRANKFURT-1-AD-1."
}

variable "subnet_ocid" {
  type        = string
  description = "OCID of a public subnet the build instance can be reached in over ssh (e.g. Terraform's)."
}

variable "base_image_ocid" {
  type        = string
  description = "OCID of the Canonical Ubuntu aarch64 platform image for your region."
}

variable "image_name" {
  type        = string
  default     = "drift-ubuntu-arm64-docker"
  description = "Display name of the image Packer saves."
}

source "oracle-oci" "ubuntu_arm64" {
  tenancy_ocid        = var.tenancy_ocid
  user_ocid           = var.user_ocid
  fingerprint         = var.fingerprint
  key_file            = var.key_file
  region              = var.region
  compartment_ocid    = var.compartment_ocid
  availability_domain = var.availability_domain
  subnet_ocid         = var.subnet_ocid
  base_image_ocid     = var.base_image_ocid
  image_name          = var.image_name
  # The Always Free Arm shape; a flexible shape needs its size.
  shape = "VM.Standard.A1.Flex"
  shape_config {
    ocpus         = 1
    memory_in_gbs = 6
  }
  ssh_username = "ubuntu"
}

build {
  sources = ["source.oracle-oci.ubuntu_arm64"]

  provisioner "shell" {
    script          = "${path.root}/install-docker.sh"
    execute_command = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
  }
}
