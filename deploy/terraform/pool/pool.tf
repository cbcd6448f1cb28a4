# The variables only the pool takes (the shared ones are in variables.tf).

variable "pool_size" {
  description = "How many A1 machines run behind the load balancer (Always Free: up to 4 of 1 OCPU)."
  type        = number
  default     = 2
}

variable "lb_bandwidth_mbps" {
  description = "The flexible load balancer's bandwidth, minimum and maximum (Always Free: 10)."
  type        = number
  default     = 10
}
