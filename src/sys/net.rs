//! Sockets: the calls the walkthrough's server makes, and the address type.
use super::{BorrowedFd, OwnedFd, Result};
use linux_raw_sys::net;
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::net::{
    AF_INET, AF_INET6, AF_UNIX, IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT, SOCK_STREAM, SOL_SOCKET, TCP_DEFER_ACCEPT,
    TCP_NODELAY,
};
/// IPPROTO_IPV6 as the plain number setsockopt takes.
pub const IPPROTO_IPV6: u32 = net::IPPROTO_IPV6 as u32;
/// IPPROTO_TCP as the plain number setsockopt takes.
pub const IPPROTO_TCP: u32 = net::IPPROTO_TCP as u32;

/// An IPv6 socket address: 16 address bytes and a port (host order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketAddrV6 {
    pub ip: [u8; 16],
    pub port: u16,
}

impl SocketAddrV6 {
    /// `[::]:port`, every address (IPv4 too, when V6ONLY is off).
    pub const fn any(port: u16) -> Self {
        SocketAddrV6 { ip: [0; 16], port }
    }

    /// A peer on a Unix socket: `::` port 0, which no TCP peer can be
    /// (the access log writes it `unix`).
    pub const UNIX: SocketAddrV6 = SocketAddrV6 { ip: [0; 16], port: 0 };

    fn to_raw(self) -> net::sockaddr_in6 {
        // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
        let mut sa: net::sockaddr_in6 = unsafe { core::mem::zeroed() };
        sa.sin6_family = AF_INET6 as u16;
        sa.sin6_port = self.port.to_be(); // network byte order: 8080 is 1f 90
        sa.sin6_addr.in6_u.u6_addr8 = self.ip;
        sa
    }
}

/// socket(domain, type, 0) — [socket(2)].
pub fn socket(domain: u32, ty: u32) -> Result<OwnedFd> {
    // SAFETY: no pointers; the new descriptor is owned by the returned value.
    unsafe { syscall!(Sysno::socket, domain, ty, 0) }.map(OwnedFd::from_raw)
}

/// setsockopt(fd, level, name, &value, 4) — [setsockopt(2)] for int options.
pub fn setsockopt_int(fd: BorrowedFd<'_>, level: u32, name: u32, value: i32) -> Result<()> {
    let v = value;
    // SAFETY: the kernel reads 4 bytes from &v, which lives across the call.
    unsafe { syscall!(Sysno::setsockopt, fd.arg(), level, name, &v as *const i32, 4) }.map(drop)
}

/// bind(fd, &sockaddr_in6, 28) — [bind(2)].
pub fn bind_v6(fd: BorrowedFd<'_>, addr: SocketAddrV6) -> Result<()> {
    let sa = addr.to_raw();
    let len = core::mem::size_of::<net::sockaddr_in6>();
    // SAFETY: the kernel reads len bytes from &sa, which lives across the call.
    unsafe { syscall!(Sysno::bind, fd.arg(), &sa as *const net::sockaddr_in6, len) }.map(drop)
}

/// listen(fd, backlog) — [listen(2)].
pub fn listen(fd: BorrowedFd<'_>, backlog: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::listen, fd.arg(), backlog) }.map(drop)
}

/// socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) — [socket(2)].
pub fn socket_nonblocking(domain: u32, ty: u32) -> Result<OwnedFd> {
    socket(domain, ty | NONBLOCK | CLOEXEC)
}

const NONBLOCK: u32 = linux_raw_sys::general::O_NONBLOCK;
const CLOEXEC: u32 = linux_raw_sys::general::O_CLOEXEC;

/// bind(fd, &sockaddr_in, 16) — [bind(2)] for an IPv4-only listener.
pub fn bind_v4(fd: BorrowedFd<'_>, ip: [u8; 4], port: u16) -> Result<()> {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: net::sockaddr_in = unsafe { core::mem::zeroed() };
    sa.sin_family = AF_INET as u16;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from_ne_bytes(ip);
    let len = core::mem::size_of::<net::sockaddr_in>();
    // SAFETY: the kernel reads len bytes from &sa, which lives across the call.
    unsafe { syscall!(Sysno::bind, fd.arg(), &sa as *const net::sockaddr_in, len) }.map(drop)
}

/// accept4(fd, &addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC) — [accept4(2)]:
/// the next connection and its peer, IPv4 peers as `::ffff:a.b.c.d`.
pub fn accept_nonblocking(fd: BorrowedFd<'_>) -> Result<(OwnedFd, SocketAddrV6)> {
    let mut storage = [0u8; 128]; // sockaddr_storage
    let mut len: u32 = storage.len() as u32;
    // SAFETY: the kernel writes at most len bytes into storage and updates len.
    let fd = unsafe {
        syscall!(Sysno::accept4, fd.arg(), storage.as_mut_ptr(), &mut len as *mut u32, NONBLOCK | CLOEXEC)
    }
    .map(OwnedFd::from_raw)?;
    Ok((fd, from_storage(&storage)))
}

/// An AF_INET or AF_INET6 address the kernel wrote, as IPv6 (IPv4-mapped);
/// an AF_UNIX one as [`SocketAddrV6::UNIX`].
fn from_storage(storage: &[u8; 128]) -> SocketAddrV6 {
    let family = u16::from_ne_bytes([storage[0], storage[1]]);
    let port = u16::from_be_bytes([storage[2], storage[3]]);
    let mut ip = [0u8; 16];
    if u32::from(family) == AF_UNIX {
        return SocketAddrV6::UNIX;
    }
    if u32::from(family) == AF_INET {
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip[12..16].copy_from_slice(&storage[4..8]);
    } else {
        ip.copy_from_slice(&storage[8..24]);
    }
    SocketAddrV6 { ip, port }
}

/// getsockname(fd, &storage, &len) — [getsockname(2)]: where a socket is bound.
pub fn local_addr(fd: BorrowedFd<'_>) -> Result<SocketAddrV6> {
    let mut storage = [0u8; 128];
    let mut len: u32 = storage.len() as u32;
    // SAFETY: the kernel writes at most len bytes into storage and updates len.
    unsafe { syscall!(Sysno::getsockname, fd.arg(), storage.as_mut_ptr(), &mut len as *mut u32) }?;
    Ok(from_storage(&storage))
}

/// shutdown(fd, SHUT_WR) — [shutdown(2)]: send FIN, keep reading.
pub fn shutdown_write(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::shutdown, fd.arg(), net::SHUT_WR) }.map(drop)
}

/// sendto(fd, buf, len, MSG_MORE, NULL, 0) — [send(2)]: like write, but
/// more data follows at once, so a part-filled segment waits for it.
pub fn send_more(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize> {
    // SAFETY: the kernel reads at most buf.len() bytes from buf; a NULL
    // address with length 0 means "the connected peer".
    unsafe { syscall!(Sysno::sendto, fd.arg(), buf.as_ptr(), buf.len(), net::MSG_MORE, 0, 0) }
}

/// accept(fd, NULL, NULL) — [accept(2)]: the next connection, peer unasked.
pub fn accept(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: NULL address pointers ask the kernel to write nothing.
    unsafe { syscall!(Sysno::accept, fd.arg(), 0, 0) }.map(OwnedFd::from_raw)
}

// The client's calls (`driftd get` / `driftd check`): outgoing TCP and UDP.

pub use linux_raw_sys::net::SOCK_DGRAM;

impl SocketAddrV6 {
    /// AF_INET for an IPv4-mapped address (`::ffff:a.b.c.d`, reached over
    /// IPv4, as `accept` reports IPv4 peers), AF_INET6 for any other: the
    /// domain of the socket that [`connect`] can use for it.
    pub fn family(&self) -> u32 {
        if is_v4_mapped(&self.ip) { AF_INET } else { AF_INET6 }
    }
}

/// Whether `ip` is an IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`).
/// One 12-byte comparison: a slice pattern of twelve literals compiles to
/// twelve compares.
fn is_v4_mapped(ip: &[u8; 16]) -> bool {
    ip[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
}

/// connect(fd, &sockaddr, len) — [connect(2)]: a `sockaddr_in` for an
/// IPv4-mapped address (on an AF_INET socket), else a `sockaddr_in6`. On a
/// non-blocking stream socket, EINPROGRESS means: wait for POLLOUT, then ask
/// [`take_error`] how it ended.
pub fn connect(fd: BorrowedFd<'_>, addr: SocketAddrV6) -> Result<()> {
    // sockaddr_in and sockaddr_in6 share family and port; then the IPv4
    // address at 4, or flowinfo at 4 and the IPv6 address at 8.
    let mut sa = [0u8; 28];
    let (at, len) = if addr.family() == AF_INET { (4, 16) } else { (8, 28) };
    let ip = if at == 4 { &addr.ip[12..] } else { &addr.ip[..] };
    sa[..2].copy_from_slice(&(addr.family() as u16).to_ne_bytes());
    sa[2..4].copy_from_slice(&addr.port.to_be_bytes());
    sa[at..at + ip.len()].copy_from_slice(ip);
    // SAFETY: the kernel reads len (at most 28) bytes from sa during the call.
    unsafe { syscall!(Sysno::connect, fd.arg(), sa.as_ptr(), len) }.map(drop)
}

/// getsockopt(fd, SOL_SOCKET, SO_ERROR) — [getsockopt(2)]: the error a
/// non-blocking connect ended with, if any (reading it clears it).
pub fn take_error(fd: BorrowedFd<'_>) -> Result<()> {
    let mut v: i32 = 0;
    let mut len: u32 = 4;
    // SAFETY: the kernel writes at most len (4) bytes into v and updates len.
    unsafe { syscall!(Sysno::getsockopt, fd.arg(), SOL_SOCKET, net::SO_ERROR, &mut v as *mut i32, &mut len as *mut u32) }?;
    if v == 0 { Ok(()) } else { Err(super::Errno::new(v)) }
}

/// getrandom(buf, 2, 0) — [getrandom(2)]: an unpredictable 16-bit number,
/// for DNS query ids (RFC 5452: a guessable id invites forged replies).
pub fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    // SAFETY: the kernel writes at most 2 bytes into b. On failure b stays
    // zero: a poorer id, still checked against the question.
    let _ = unsafe { syscall!(Sysno::getrandom, b.as_mut_ptr(), 2, 0) };
    u16::from_ne_bytes(b)
}

/// getsockopt(fd, level, name, &value, &4) — [getsockopt(2)] for int options.
pub fn getsockopt_int(fd: BorrowedFd<'_>, level: u32, name: u32) -> Result<i32> {
    let mut v: i32 = 0;
    let mut len: u32 = 4;
    // SAFETY: the kernel writes at most `len` (4) bytes into v and the
    // length into len; both live across the call.
    unsafe { syscall!(Sysno::getsockopt, fd.arg(), level, name, &mut v as *mut i32, &mut len as *mut u32) }?;
    Ok(v)
}

/// A descriptor this process was started with (by systemd's socket
/// activation, or by the driftd it upgrades from), taken over if it is a
/// listening stream socket: made close-on-exec and non-blocking.
pub fn adopt_listener(n: i32) -> Result<OwnedFd> {
    let fd = super::fd::borrow_raw(n);
    let listening = getsockopt_int(fd, SOL_SOCKET, net::SO_ACCEPTCONN)?;
    if listening != 1 || getsockopt_int(fd, SOL_SOCKET, net::SO_TYPE)? != SOCK_STREAM as i32 {
        return Err(super::Errno::ENOTSOCK);
    }
    super::fd::set_cloexec(fd, true)?;
    // SAFETY: fcntl with integer arguments only.
    let flags = unsafe { syscall!(Sysno::fcntl, fd.arg(), linux_raw_sys::general::F_GETFL) }?;
    let nb = linux_raw_sys::general::O_NONBLOCK as usize;
    // SAFETY: as above.
    unsafe { syscall!(Sysno::fcntl, fd.arg(), linux_raw_sys::general::F_SETFL, flags | nb) }?;
    Ok(OwnedFd::from_raw(n as usize))
}

/// The longest socket file path: `sun_path` is 108 bytes with its NUL.
pub const UNIX_PATH_MAX: usize = 107;

/// A `sockaddr_un` for `path` and its length; None if the path is too long.
fn unix_addr(path: &[u8]) -> Option<([u8; 110], usize)> {
    if path.is_empty() || path.len() > UNIX_PATH_MAX || path.contains(&0) {
        return None;
    }
    let mut sa = [0u8; 110];
    sa[..2].copy_from_slice(&(AF_UNIX as u16).to_ne_bytes());
    sa[2..2 + path.len()].copy_from_slice(path);
    Some((sa, 2 + path.len() + 1))
}

/// bind(fd, &sockaddr_un, len) — [bind(2)] to a socket file.
pub fn bind_unix(fd: BorrowedFd<'_>, path: &[u8]) -> Result<()> {
    let (sa, len) = unix_addr(path).ok_or(super::Errno::ENAMETOOLONG)?;
    // SAFETY: the kernel reads len (at most 110) bytes from sa during the call.
    unsafe { syscall!(Sysno::bind, fd.arg(), sa.as_ptr(), len) }.map(drop)
}

/// connect(fd, &sockaddr_un, len) — [connect(2)] to a socket file.
pub fn connect_unix(fd: BorrowedFd<'_>, path: &[u8]) -> Result<()> {
    let (sa, len) = unix_addr(path).ok_or(super::Errno::ENAMETOOLONG)?;
    // SAFETY: the kernel reads len (at most 110) bytes from sa during the call.
    unsafe { syscall!(Sysno::connect, fd.arg(), sa.as_ptr(), len) }.map(drop)
}

/// getsockname(fd, &storage, &len) — [getsockname(2)] of a Unix socket:
/// its file's path, into `buf`; None for any other socket.
pub fn unix_path(fd: BorrowedFd<'_>, buf: &mut [u8; 128]) -> Option<usize> {
    let mut len: u32 = buf.len() as u32;
    // SAFETY: the kernel writes at most len bytes into buf and updates len.
    unsafe { syscall!(Sysno::getsockname, fd.arg(), buf.as_mut_ptr(), &mut len as *mut u32) }.ok()?;
    if u32::from(u16::from_ne_bytes([buf[0], buf[1]])) != AF_UNIX || len <= 2 {
        return None;
    }
    let path = buf.get(2..len as usize)?;
    let n = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    buf.copy_within(2..2 + n, 0);
    Some(n)
}

/// recvfrom(fd, buf, len, MSG_PEEK, NULL, NULL) — [recv(2)]: the bytes
/// waiting, left in the socket for the next read.
pub fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { syscall!(Sysno::recvfrom, fd.arg(), buf.as_mut_ptr(), buf.len(), net::MSG_PEEK, 0, 0) }
}
