//! HTTP as pure functions over byte slices: no syscalls, no clock, no I/O.
//! Everything here runs and is tested on the host.
