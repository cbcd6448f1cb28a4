# The walkthrough's network, shared by the single VM and the pool: one VCN,
# one public subnet, a route to the internet and the only ports Drift needs.

resource "oci_core_vcn" "drift" {
  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name}-vcn"
  dns_label      = var.name
}

resource "oci_core_internet_gateway" "drift" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.drift.id
  display_name   = "${var.name}-igw"
  enabled        = true
}

resource "oci_core_route_table" "drift" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.drift.id
  display_name   = "${var.name}-rt"

  route_rules {
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_internet_gateway.drift.id
  }
}

resource "oci_core_security_list" "drift" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.drift.id
  display_name   = "${var.name}-sl"

  # Docker pulls, apt and the load balancer's health checks all go out.
  egress_security_rules {
    destination = "0.0.0.0/0"
    protocol    = "all"
  }

  # HTTP from anywhere: the server on one VM, or the load balancer and, behind
  # it, the pool's instances (the same subnet).
  ingress_security_rules {
    source   = "0.0.0.0/0"
    protocol = "6" # TCP
    tcp_options {
      min = 80
      max = 80
    }
  }

  # ssh for `just deploy`; the walkthrough allows the world, the variable
  # lets you narrow it to your own address.
  ingress_security_rules {
    source   = var.ssh_source_cidr
    protocol = "6" # TCP
    tcp_options {
      min = 22
      max = 22
    }
  }
}

resource "oci_core_subnet" "drift" {
  compartment_id    = var.compartment_ocid
  vcn_id            = oci_core_vcn.drift.id
  cidr_block        = var.subnet_cidr
  display_name      = "${var.name}-subnet"
  dns_label         = "public"
  route_table_id    = oci_core_route_table.drift.id
  security_list_ids = [oci_core_security_list.drift.id]
}
