//! The limits a container runtime put on us, from the cgroup files.
//!
//! - **CPU.** A container may run on a 64-CPU host under a quota of 2 CPUs
//!   (`docker run --cpus 2`, a Kubernetes `limits.cpu`): `sched_getaffinity`
//!   still says 64, and 64 workers under a 2-CPU quota would spend their
//!   time throttled. So the default worker count is the affinity count
//!   capped by the quota, rounded up. The quota is `cpu.max` (`QUOTA
//!   PERIOD`, or `max`) on cgroup v2; `cpu.cfs_quota_us` and
//!   `cpu.cfs_period_us` (-1: none) on v1.
//! - **Memory.** Past `memory.max` (v2) or `memory.limit_in_bytes` (v1)
//!   the kernel kills the process. The supervisor sizes the workers' buffer
//!   pools to fit under it (see `config::memory_plan`).
//!
//! A limit may be set on any ancestor of our cgroup, so every level from
//! ours up to the mount's root is read and the smallest limit wins. Inside
//! a container the mount's root is the container's own cgroup, and the
//! path in `/proc/self/cgroup` may be one that does not exist there: the
//! levels that do not exist are passed over.
use crate::sys::{fs, io};

/// Where each hierarchy is mounted (v1: where Docker, Podman and systemd
/// mount the controller, on its own or joined with cpuacct).
const V2_ROOT: &[u8] = b"/sys/fs/cgroup";
const V1_CPU_ROOTS: [&[u8]; 2] = [b"/sys/fs/cgroup/cpu", b"/sys/fs/cgroup/cpu,cpuacct"];
const V1_MEMORY_ROOTS: [&[u8]; 1] = [b"/sys/fs/cgroup/memory"];
/// cgroup v1 says "no limit" with the largest page-aligned signed 64-bit
/// number; anything this large is no limit.
const NO_LIMIT: u64 = 1 << 62;
const PATH_MAX: usize = 512;

/// What the cgroup files allow; None where no level sets a limit (or
/// none can be read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// CPUs' worth of time, rounded up; at least 1.
    pub cpus: Option<usize>,
    /// Bytes of memory.
    pub memory: Option<u64>,
}

/// Reads this process's limits.
pub fn limits() -> Limits {
    let mut buf = [0u8; 4096];
    let Some(text) = read(b"/proc/self/cgroup\0", &mut buf) else { return Limits::default() };
    let v2 = v2_path(text);
    let mut l = Limits::default();
    if let Some(path) = v2 {
        walk(V2_ROOT, path, &mut |dir| {
            least(&mut l.cpus, v2_cpus(dir));
            least(&mut l.memory, v2_memory(dir));
        });
    }
    if let Some(path) = v1_path(text, b"cpu") {
        for root in V1_CPU_ROOTS {
            walk(root, path, &mut |dir| least(&mut l.cpus, v1_cpus(dir)));
        }
    }
    if let Some(path) = v1_path(text, b"memory") {
        for root in V1_MEMORY_ROOTS {
            walk(root, path, &mut |dir| least(&mut l.memory, v1_memory(dir)));
        }
    }
    l
}

fn least<T: Ord + Copy>(acc: &mut Option<T>, n: Option<T>) {
    if let Some(n) = n {
        *acc = Some(acc.map_or(n, |a| a.min(n)));
    }
}

/// The v2 path in `/proc/self/cgroup` (`0::/path`).
pub fn v2_path(text: &[u8]) -> Option<&[u8]> {
    lines(text).find(|(id, controllers, _)| *id == b"0" && controllers.is_empty()).map(|(_, _, path)| path)
}

/// The v1 path of the hierarchy that has `controller`
/// (`4:cpu,cpuacct:/path` for `cpu`).
pub fn v1_path<'t>(text: &'t [u8], controller: &[u8]) -> Option<&'t [u8]> {
    lines(text).find(|(_, controllers, _)| controllers.split(|&b| b == b',').any(|c| c == controller)).map(|(_, _, path)| path)
}

/// `ID:CONTROLLERS:/PATH` lines.
fn lines(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], &[u8])> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        path.starts_with(b"/").then_some((id, controllers, path))
    })
}

/// Calls `f` with `root + path`, then with each parent of it down to `root`
/// itself, each as a directory path with a trailing `/`.
fn walk(root: &[u8], path: &[u8], f: &mut dyn FnMut(&[u8])) {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    if root.len() + path.len() + 2 > PATH_MAX {
        return;
    }
    let mut dir = path;
    loop {
        let mut buf = [0u8; PATH_MAX];
        let n = root.len() + dir.len();
        buf[..root.len()].copy_from_slice(root);
        buf[root.len()..n].copy_from_slice(dir);
        buf[n] = b'/';
        f(&buf[..n + 1]);
        match dir.iter().rposition(|&b| b == b'/') {
            Some(i) if !dir.is_empty() => dir = &dir[..i],
            _ => return,
        }
    }
}

/// `dir` + `cpu.max`, parsed.
fn v2_cpus(dir: &[u8]) -> Option<usize> {
    let mut buf = [0u8; 64];
    let (quota, period) = parse_cpu_max(read_in(dir, b"cpu.max\0", &mut buf)?)?;
    Some(cpus_of(quota, period))
}

/// `dir` + `cpu.cfs_quota_us` and `cpu.cfs_period_us`, parsed.
fn v1_cpus(dir: &[u8]) -> Option<usize> {
    let (mut q, mut p) = ([0u8; 32], [0u8; 32]);
    let quota = parse_v1_number(read_in(dir, b"cpu.cfs_quota_us\0", &mut q)?)?;
    let period = parse_v1_number(read_in(dir, b"cpu.cfs_period_us\0", &mut p)?)?;
    Some(cpus_of(quota, period))
}

/// `dir` + `memory.max`: bytes, or `max`.
fn v2_memory(dir: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    parse_bytes(read_in(dir, b"memory.max\0", &mut buf)?)
}

/// `dir` + `memory.limit_in_bytes`.
fn v1_memory(dir: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    parse_bytes(read_in(dir, b"memory.limit_in_bytes\0", &mut buf)?)
}

/// A memory limit file: bytes; `max` and v1's huge "unlimited" are None.
pub fn parse_bytes(text: &[u8]) -> Option<u64> {
    let n = parse_u64(text.strip_suffix(b"\n").unwrap_or(text))?;
    (n > 0 && n < NO_LIMIT).then_some(n)
}

/// `cpu.max`: `QUOTA PERIOD` in microseconds; `max PERIOD` is no limit.
pub fn parse_cpu_max(text: &[u8]) -> Option<(u64, u64)> {
    let mut words = text.split(|&b| b == b' ' || b == b'\n').filter(|w| !w.is_empty());
    let quota = parse_u64(words.next()?)?;
    let period = parse_u64(words.next()?)?;
    (quota > 0 && period > 0).then_some((quota, period))
}

/// `cpu.cfs_quota_us` or `cpu.cfs_period_us`: a positive number; `-1` (no
/// quota) and anything else is None.
pub fn parse_v1_number(text: &[u8]) -> Option<u64> {
    let n = parse_u64(text.strip_suffix(b"\n").unwrap_or(text))?;
    (n > 0).then_some(n)
}

/// CPUs' worth of time: the quota over the period, rounded up (1.5 CPUs
/// is 2 workers, which together can use the 1.5), at least 1.
pub fn cpus_of(quota: u64, period: u64) -> usize {
    quota.div_ceil(period).clamp(1, usize::MAX as u64) as usize
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// The file `name` (NUL-terminated) in the directory `dir` (ending in `/`).
fn read_in<'b>(dir: &[u8], name: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut path = [0u8; PATH_MAX + 32];
    let n = dir.len() + name.len();
    path.get_mut(..dir.len())?.copy_from_slice(dir);
    path.get_mut(dir.len()..n)?.copy_from_slice(name);
    read(&path[..n], buf)
}

/// A small file's bytes (what fits in `buf`); `path` ends in NUL.
fn read<'b>(path: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let fd = fs::openat(fs::CWD, path, fs::O_RDONLY, 0).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match io::read(fd.as_fd(), &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return None,
        }
    }
    Some(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_self_cgroup_lines() {
        type Row<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>);
        let rows: [Row; 6] = [
            (b"0::/\n", Some(b"/"), None, None),
            (b"0::/kubepods.slice/pod1/cri-abc\n", Some(b"/kubepods.slice/pod1/cri-abc"), None, None),
            // cgroup v1 beside the empty v2 hierarchy (a hybrid host)
            (b"4:memory:/m\n2:cpuacct:/\n1:cpu,cpuacct:/docker/abc\n0::/\n", Some(b"/"), Some(b"/docker/abc"), Some(b"/m")),
            (b"3:cpuset:/\n1:cpu:/a:b\n", None, Some(b"/a:b"), None),
            // neither: a controller named like cpu is not cpu; a missing path
            (b"5:cpuset,cpuacct:/x\n0::\n6:memory:\n", None, None, None),
            (b"", None, None, None),
        ];
        for (text, v2, cpu, memory) in rows {
            let got = (v2_path(text), v1_path(text, b"cpu"), v1_path(text, b"memory"));
            assert_eq!(got, (v2, cpu, memory), "{:?}", core::str::from_utf8(text));
        }
    }

    #[test]
    fn quota_files() {
        assert_eq!(parse_cpu_max(b"max 100000\n"), None);
        assert_eq!(parse_cpu_max(b"50000 100000\n"), Some((50000, 100000)));
        assert_eq!(parse_cpu_max(b"250000 100000"), Some((250000, 100000)));
        assert_eq!(parse_cpu_max(b"0 100000\n"), None);
        assert_eq!(parse_cpu_max(b"100000\n"), None);
        assert_eq!(parse_cpu_max(b""), None);
        assert_eq!(parse_v1_number(b"-1\n"), None);
        assert_eq!(parse_v1_number(b"150000\n"), Some(150000));
        assert_eq!(parse_v1_number(b"99999999999999999999\n"), None);
        assert_eq!((cpus_of(50_000, 100_000), cpus_of(100_000, 100_000), cpus_of(150_000, 100_000)), (1, 1, 2));
        assert_eq!(cpus_of(1, 1_000_000), 1);
        assert_eq!(parse_bytes(b"max\n"), None);
        assert_eq!(parse_bytes(b"67108864\n"), Some(64 << 20));
        assert_eq!(parse_bytes(b"9223372036854771712\n"), None, "v1's no limit");
        assert_eq!(parse_bytes(b"0\n"), None);
    }

    #[test]
    fn every_level_from_ours_to_the_root() {
        let mut seen = std::vec::Vec::new();
        walk(b"/sys/fs/cgroup", b"/a/b/c", &mut |d| seen.push(std::string::String::from_utf8(d.to_vec()).unwrap()));
        assert_eq!(seen, ["/sys/fs/cgroup/a/b/c/", "/sys/fs/cgroup/a/b/", "/sys/fs/cgroup/a/", "/sys/fs/cgroup/"]);
        seen.clear();
        walk(b"/sys/fs/cgroup", b"/", &mut |d| seen.push(std::string::String::from_utf8(d.to_vec()).unwrap()));
        assert_eq!(seen, ["/sys/fs/cgroup/"]);
        seen.clear();
        walk(b"/r", &[b'x'; 600], &mut |d| seen.push(std::string::String::from_utf8(d.to_vec()).unwrap()));
        assert!(seen.is_empty(), "a path too long for the buffer is passed over");
    }
}
