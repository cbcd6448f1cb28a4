//! HTTP as pure functions over byte slices: no syscalls, no clock, no I/O.
//! Everything here runs and is tested on the host.

/// Chunked request bodies, decoded in place from any split of the input.
pub mod chunked;
/// IMF-fixdate formatting and HTTP date parsing, by calendar arithmetic.
pub mod date;
/// Common Log Format lines and client address text.
pub mod log;
/// driftd's counters as Prometheus text.
pub mod metrics;
/// Request heads: framing, connection and conditional headers, or a reject.
pub mod request;
/// Response heads and small error pages in a caller's buffer.
pub mod response;
/// Reason phrases for the status codes the server sends.
pub mod status;
