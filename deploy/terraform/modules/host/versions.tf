terraform {
  required_providers {
    oci = { source = "oracle/oci" }
  }
}
