variable "compartment_ocid" {
  description = "OCID of the compartment that holds the network."
  type        = string
}

variable "name" {
  description = "Prefix of the display names, and the VCN's DNS label (letters and digits, at most 15)."
  type        = string
}

variable "ssh_source_cidr" {
  description = "Addresses allowed to reach port 22."
  type        = string
}

variable "vcn_cidr" {
  description = "The VCN's address range."
  type        = string
  default     = "10.0.0.0/16"
}

variable "subnet_cidr" {
  description = "The public subnet's address range, inside vcn_cidr."
  type        = string
  default     = "10.0.1.0/24"
}
