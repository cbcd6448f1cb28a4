//! The walkthrough's server, call for call: socket, two setsockopts, bind
//! [::]:8080, listen(10), the banner, then accept → read → write → close
//! forever. It never parses the request; it must never grow a syscall that
//! the walkthrough's trace does not have (signal set-up before socket aside).
use crate::errno;
use crate::fmt::{Line, parse_u32};
use crate::sys::{Errno, StaticCell, env::ProcEnv, fd, io, net, signal};

#[cfg(target_arch = "aarch64")]
pub const BODY: &str = "Hello from Drift on ARM64!\n";
#[cfg(not(target_arch = "aarch64"))]
pub const BODY: &str = "Hello from Drift on x86_64!\n";

/// The fixed response. The walkthrough sent a 26-byte body under
/// `Content-Length: 27` (curl: "transfer closed with 1 bytes remaining");
/// the body here ends in the newline its hello-world step printed.
#[cfg(target_arch = "aarch64")]
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nHello from Drift on ARM64!\n";
#[cfg(not(target_arch = "aarch64"))]
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 28\r\nConnection: close\r\n\r\nHello from Drift on x86_64!\n";

pub const DEFAULT_PORT: u16 = 8080;
const BACKLOG: u32 = 10; // the walkthrough's listen(fd, 10)
const READ_SIZE: usize = 1024; // the walkthrough's .bss request buffer

const USAGE: &[u8] = b"usage: drift [PORT]  (1-65535; else $PORT; else 8080)\n";

/// The request buffer lives in .bss, as in the walkthrough. Before the
/// first accept it also holds the banner, and after a failure the error line.
static SCRATCH: StaticCell<[u8; READ_SIZE]> = StaticCell::new([0; READ_SIZE]);

/// The set-up call that failed, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub call: &'static str,
    pub errno: Errno,
}

/// `drift [PORT]`: the port from the first argument, else from `$PORT`,
/// else 8080. `None` means "print the usage": a second argument, or a port
/// that is not 1-65535 in plain decimal (`--help` lands here too).
pub fn parse_port(arg_count: usize, arg1: Option<&[u8]>, env_port: Option<&[u8]>) -> Option<u16> {
    if arg_count > 2 {
        return None;
    }
    match arg1.or(env_port) {
        None => Some(DEFAULT_PORT),
        Some(s) => match parse_u32(s) {
            Some(p @ 1..=65535) => Some(p as u16),
            _ => None,
        },
    }
}

/// The whole program: returns the exit status (serving never returns).
pub fn main(env: ProcEnv) -> i32 {
    let Some(buf) = SCRATCH.take() else { return 1 };
    let Some(port) = parse_port(env.arg_count(), env.arg(1), env.var(b"PORT")) else {
        let _ = io::write_all(fd::STDERR, USAGE);
        return 2;
    };
    // A reset client must not kill us with SIGPIPE; SIGTERM/SIGINT must stop
    // us even as PID 1. The walkthrough has neither.
    let _ = signal::ignore(signal::SIGPIPE);
    let _ = signal::exit_zero_on(signal::SIGTERM);
    let _ = signal::exit_zero_on(signal::SIGINT);

    let failure = serve(port, buf);
    let _ = io::write_all(fd::STDERR, failure_line(buf, failure, port).as_bytes());
    1
}

/// Sets up the listener and serves forever; returns only on a set-up failure.
pub fn serve(port: u16, buf: &mut [u8]) -> Failure {
    let fail = |call, errno| Failure { call, errno };
    let listener = match net::socket(net::AF_INET6, net::SOCK_STREAM) {
        Ok(fd) => fd,
        Err(e) => return fail("socket", e),
    };
    let l = listener.as_fd();
    // Results ignored, as in the walkthrough: where either option is
    // refused, bind still reports what matters.
    let _ = net::setsockopt_int(l, net::IPPROTO_IPV6, net::IPV6_V6ONLY, 0);
    let _ = net::setsockopt_int(l, net::SOL_SOCKET, net::SO_REUSEADDR, 1);
    if let Err(e) = net::bind_v6(l, net::SocketAddrV6::any(port)) {
        return fail("bind", e);
    }
    if let Err(e) = net::listen(l, BACKLOG) {
        return fail("listen", e);
    }
    let _ = io::write_all(fd::STDOUT, banner(buf, port).as_bytes());

    loop {
        // On error, accept again (the walkthrough's `b.ne accept_loop`).
        let Ok(client) = net::accept(l) else { continue };
        let c = client.as_fd();
        let _ = io::read(c, buf); // read and not looked at, as in the walkthrough
        let _ = io::write_all(c, RESPONSE); // EPIPE/ECONNRESET: the client left
        drop(client); // close(client)
    }
}

/// `Drift listening on http://localhost:PORT\n` (41 bytes for 8080).
pub fn banner(buf: &mut [u8], port: u16) -> Line<'_> {
    let mut l = Line::new(buf);
    l.push(b"Drift listening on http://localhost:").push_u32(u32::from(port)).push(b"\n");
    l
}

/// `drift: bind [::]:8080: Address already in use (EADDRINUSE)\n`
pub fn failure_line(buf: &mut [u8], f: Failure, port: u16) -> Line<'_> {
    let mut l = Line::new(buf);
    l.push(b"drift: ").push(f.call.as_bytes()).push(b" [::]:").push_u32(u32::from(port)).push(b": ");
    errno::push_text(&mut l, f.errno);
    l.push(b"\n");
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_is_the_walkthrough_bytes_with_the_body_fixed() {
        let text = core::str::from_utf8(RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, BODY);
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        #[cfg(target_arch = "aarch64")]
        assert_eq!(RESPONSE.len(), 111);
    }

    #[test]
    fn banner_is_41_bytes_for_8080() {
        let mut b = [0; 48];
        assert_eq!(banner(&mut b, 8080).as_bytes(), b"Drift listening on http://localhost:8080\n");
        assert_eq!(banner(&mut b, 8080).as_bytes().len(), 41);
        assert_eq!(banner(&mut b, 65535).as_bytes(), b"Drift listening on http://localhost:65535\n");
    }

    #[test]
    fn command_line() {
        let rows: &[(usize, Option<&[u8]>, Option<&[u8]>, Option<u16>)] = &[
            (1, None, None, Some(8080)),
            (2, Some(b"3000"), None, Some(3000)),
            (1, None, Some(b"9000"), Some(9000)),
            (2, Some(b"3000"), Some(b"9000"), Some(3000)),
            (2, Some(b"65535"), None, Some(65535)),
            (2, Some(b"1"), None, Some(1)),
            (2, Some(b"--help"), None, None),
            (2, Some(b"-h"), None, None),
            (2, Some(b"0"), None, None),
            (2, Some(b"65536"), None, None),
            (2, Some(b"80a"), None, None),
            (2, Some(b""), None, None),
            (2, Some(b"-1"), None, None),
            (2, Some(b"99999999999"), None, None),
            (1, None, Some(b"x"), None),
            (1, None, Some(b""), None),
            (3, Some(b"80"), None, None),
        ];
        for &(n, a1, env, want) in rows {
            assert_eq!(parse_port(n, a1, env), want, "{n} {a1:?} {env:?}");
        }
    }

    #[test]
    fn failure_lines() {
        let mut b = [0; 128];
        let l = failure_line(&mut b, Failure { call: "bind", errno: Errno::EADDRINUSE }, 8080);
        assert_eq!(l.as_bytes(), b"drift: bind [::]:8080: Address already in use (EADDRINUSE)\n");
        let mut b = [0; 128];
        let l = failure_line(&mut b, Failure { call: "socket", errno: Errno::EAFNOSUPPORT }, 80);
        assert_eq!(
            l.as_bytes(),
            b"drift: socket [::]:80: Address family not supported by protocol (EAFNOSUPPORT)\n"
        );
        let mut b = [0; 128];
        let l = failure_line(&mut b, Failure { call: "listen", errno: Errno::ENOENT }, 1);
        assert_eq!(l.as_bytes(), b"drift: listen [::]:1: errno 2\n");
    }
}
