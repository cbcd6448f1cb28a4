# Scale-out: N identical A1 machines from one instance configuration, behind
# a flexible load balancer that sends each request to a healthy one. Same
# network, same cloud-init as the single VM (the shared modules).

locals {
  name = "driftpool"
}

resource "oci_core_instance_configuration" "drift" {
  compartment_id = var.compartment_ocid
  display_name   = "drift"

  # A change (a new container_image) makes a new configuration; the pool
  # must move to it before the old one, which it uses, can be deleted.
  lifecycle {
    create_before_destroy = true
  }

  instance_details {
    instance_type = "compute"

    launch_details {
      compartment_id = var.compartment_ocid
      shape          = module.host.shape

      shape_config {
        ocpus         = var.ocpus
        memory_in_gbs = var.memory_in_gbs
      }

      source_details {
        source_type = "image"
        image_id    = module.host.image_id
      }

      # A public IP each: without a NAT gateway it is how a machine reaches
      # the registry, and it lets `just deploy` ssh to each one.
      create_vnic_details {
        assign_public_ip = true
      }

      metadata = module.host.metadata
    }
  }
}

resource "oci_core_instance_pool" "drift" {
  compartment_id            = var.compartment_ocid
  instance_configuration_id = oci_core_instance_configuration.drift.id
  size                      = var.pool_size
  display_name              = "drift"

  placement_configurations {
    availability_domain = module.host.availability_domain
    primary_subnet_id   = module.network.subnet_id
  }

  # The pool registers each machine it launches with the backend set (and
  # removes it when the machine goes), so no backend is listed by hand.
  load_balancers {
    load_balancer_id = oci_load_balancer_load_balancer.drift.id
    backend_set_name = oci_load_balancer_backend_set.drift.name
    port             = 80
    vnic_selection   = "PrimaryVnic"
  }
}

resource "oci_load_balancer_load_balancer" "drift" {
  compartment_id = var.compartment_ocid
  display_name   = "drift"
  shape          = "flexible"
  subnet_ids     = [module.network.subnet_id]
  is_private     = false

  # 10 Mbps both ways: the Always Free load balancer.
  shape_details {
    minimum_bandwidth_in_mbps = var.lb_bandwidth_mbps
    maximum_bandwidth_in_mbps = var.lb_bandwidth_mbps
  }
}

resource "oci_load_balancer_backend_set" "drift" {
  load_balancer_id = oci_load_balancer_load_balancer.drift.id
  name             = "drift"
  policy           = "ROUND_ROBIN"

  # A machine gets traffic only while GET / answers 200; both images do.
  health_checker {
    protocol          = "HTTP"
    port              = 80
    url_path          = "/"
    return_code       = 200
    interval_ms       = 10000
    timeout_in_millis = 3000
    retries           = 3
  }
}

resource "oci_load_balancer_listener" "http" {
  load_balancer_id         = oci_load_balancer_load_balancer.drift.id
  name                     = "http"
  default_backend_set_name = oci_load_balancer_backend_set.drift.name
  port                     = 80
  protocol                 = "HTTP"
}
