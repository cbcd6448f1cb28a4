# Without this a module's oci resources would be looked up as hashicorp/oci.
terraform {
  required_providers {
    oci = { source = "oracle/oci" }
  }
}
