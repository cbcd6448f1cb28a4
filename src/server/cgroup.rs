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
//! ours up to the mount's root is read and the smallest limit wins. The
//! hierarchies are found in `/proc/self/mountinfo`, with the cgroup each
//! mount's root is: in a container without a cgroup namespace our path is
//! the host's (`/docker/ID/...`) and the mount's root is `/docker/ID`, so
//! the levels below that root are read under the mount point. Levels that
//! do not exist are passed over.
//!
//! `DRIFTD_NO_CGROUP=1` makes driftd ignore all of this (the tests set it,
//! so that a limit on the machine running them changes nothing).
use crate::fmt::parse_u64;
use crate::sys::{fs, io};

/// Where the hierarchies usually are, for when mountinfo cannot be read.
const FALLBACK: [Mount<'static>; 4] = [
    Mount { root: b"/", point: b"/sys/fs/cgroup", v1: None },
    Mount { root: b"/", point: b"/sys/fs/cgroup/cpu", v1: Some(b"cpu") },
    Mount { root: b"/", point: b"/sys/fs/cgroup/cpu,cpuacct", v1: Some(b"cpu") },
    Mount { root: b"/", point: b"/sys/fs/cgroup/memory", v1: Some(b"memory") },
];
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

/// Our cgroup in each hierarchy that matters, from `/proc/self/cgroup`.
struct Paths<'t> {
    v2: Option<&'t [u8]>,
    cpu: Option<&'t [u8]>,
    memory: Option<&'t [u8]>,
}

/// A cgroup hierarchy's mount, from a line of `/proc/self/mountinfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mount<'t> {
    /// The cgroup at the mount's root (`/` unless it is a subtree).
    pub root: &'t [u8],
    /// Where it is mounted.
    pub point: &'t [u8],
    /// v1: the super options, which name its controllers; None: v2.
    pub v1: Option<&'t [u8]>,
}

/// Reads this process's limits.
pub fn limits() -> Limits {
    let mut buf = [0u8; 4096];
    let Some(text) = read(b"/proc/self/cgroup\0", &mut buf) else { return Limits::default() };
    let paths = Paths { v2: v2_path(text), cpu: v1_path(text, b"cpu"), memory: v1_path(text, b"memory") };
    let mut l = Limits::default();
    let scanned = fs::scan_lines(b"/proc/self/mountinfo", &mut |lines| {
        for m in lines.split(|&b| b == b'\n').filter_map(cgroup_mount) {
            read_mount(&m, &paths, &mut l);
        }
        false
    });
    if scanned.is_none() {
        for m in FALLBACK {
            read_mount(&m, &paths, &mut l);
        }
    }
    l
}

/// The limits under one mount, at every level of our cgroup below its root.
fn read_mount(m: &Mount, p: &Paths, l: &mut Limits) {
    let has = |opts: &[u8], c: &[u8]| opts.split(|&b| b == b',').any(|o| o == c);
    match m.v1 {
        None => {
            if let Some(path) = p.v2 {
                walk(m.point, below(path, m.root), &mut |dir| {
                    least(&mut l.cpus, v2_cpus(dir));
                    least(&mut l.memory, v2_memory(dir));
                });
            }
        }
        Some(opts) => {
            if has(opts, b"cpu")
                && let Some(path) = p.cpu
            {
                walk(m.point, below(path, m.root), &mut |dir| least(&mut l.cpus, v1_cpus(dir)));
            }
            if has(opts, b"memory")
                && let Some(path) = p.memory
            {
                walk(m.point, below(path, m.root), &mut |dir| least(&mut l.memory, v1_memory(dir)));
            }
        }
    }
}

/// A cgroup mount in a mountinfo line: `ID PARENT MAJ:MIN ROOT POINT OPTS
/// [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS`; None for any other mount.
pub fn cgroup_mount(line: &[u8]) -> Option<Mount<'_>> {
    let mut f = line.split(|&b| b == b' ');
    let (root, point) = (f.nth(3)?, f.next()?);
    f.next()?; // mount options
    while f.next()? != b"-" {} // optional fields
    let (fstype, _source, superopts) = (f.next()?, f.next()?, f.next().unwrap_or(b""));
    match fstype {
        b"cgroup2" => Some(Mount { root, point, v1: None }),
        b"cgroup" => Some(Mount { root, point, v1: Some(superopts) }),
        _ => None,
    }
}

/// Our cgroup `path` below a mount whose root is the cgroup `root`: the
/// levels to read under its mount point. A path not under the root (the
/// mount is some other subtree) reads the mount point alone.
pub fn below<'p>(path: &'p [u8], root: &[u8]) -> &'p [u8] {
    let root = root.strip_suffix(b"/").unwrap_or(root);
    match path.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with(b"/") => rest,
        _ => b"",
    }
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
    let (quota, period) = parse_cpu_max(read_in(dir, b"cpu.max", &mut buf)?)?;
    Some(cpus_of(quota, period))
}

/// `dir` + `cpu.cfs_quota_us` and `cpu.cfs_period_us`, parsed.
fn v1_cpus(dir: &[u8]) -> Option<usize> {
    let (mut q, mut p) = ([0u8; 32], [0u8; 32]);
    let quota = parse_limit(read_in(dir, b"cpu.cfs_quota_us", &mut q)?)?;
    let period = parse_limit(read_in(dir, b"cpu.cfs_period_us", &mut p)?)?;
    Some(cpus_of(quota, period))
}

/// `dir` + `memory.max`: bytes, or `max`.
fn v2_memory(dir: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    parse_limit(read_in(dir, b"memory.max", &mut buf)?)
}

/// `dir` + `memory.limit_in_bytes`.
fn v1_memory(dir: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    parse_limit(read_in(dir, b"memory.limit_in_bytes", &mut buf)?)
}

/// A number in a limit file (`memory.max`, `memory.limit_in_bytes`,
/// `cpu.cfs_quota_us`, `cpu.cfs_period_us`): positive, and under v1's huge
/// "no limit"; `max`, `-1` and anything else are None.
pub fn parse_limit(text: &[u8]) -> Option<u64> {
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

/// CPUs' worth of time: the quota over the period, rounded up (1.5 CPUs
/// is 2 workers, which together can use the 1.5), at least 1.
pub fn cpus_of(quota: u64, period: u64) -> usize {
    quota.div_ceil(period).clamp(1, usize::MAX as u64) as usize
}

/// The file `name` in the directory `dir` (ending in `/`).
fn read_in<'b>(dir: &[u8], name: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut path = [0u8; PATH_MAX + 32];
    fs::path_in(&mut path, 0, dir)?;
    read(fs::path_in(&mut path, dir.len(), name)?, buf)
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
        assert_eq!(parse_limit(b"-1\n"), None);
        assert_eq!(parse_limit(b"150000\n"), Some(150000));
        assert_eq!(parse_limit(b"99999999999999999999\n"), None);
        assert_eq!((cpus_of(50_000, 100_000), cpus_of(100_000, 100_000), cpus_of(150_000, 100_000)), (1, 1, 2));
        assert_eq!(cpus_of(1, 1_000_000), 1);
        assert_eq!(parse_limit(b"max\n"), None);
        assert_eq!(parse_limit(b"67108864\n"), Some(64 << 20));
        assert_eq!(parse_limit(b"9223372036854771712\n"), None, "v1's no limit");
        assert_eq!(parse_limit(b"0\n"), None);
    }

    #[test]
    fn mountinfo_lines() {
        let v1 = b"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct";
        let ns = b"40 30 0:35 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory";
        let v2 = b"25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(cgroup_mount(v1), Some(Mount { root: b"/", point: b"/sys/fs/cgroup/cpu", v1: Some(b"rw,cpu,cpuacct") }));
        assert_eq!(cgroup_mount(ns), Some(Mount { root: b"/docker/abc", point: b"/sys/fs/cgroup/memory", v1: Some(b"rw,memory") }));
        assert_eq!(cgroup_mount(v2), Some(Mount { root: b"/", point: b"/sys/fs/cgroup", v1: None }));
        for other in [&b"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755"[..], b"", b"1 2 3 4 5 6 7", b"1 2 3 / /x rw -"] {
            assert_eq!(cgroup_mount(other), None, "{:?}", core::str::from_utf8(other));
        }
        // Our path, read under a mount whose root is a subtree.
        assert_eq!(below(b"/docker/abc/x/y", b"/docker/abc"), b"/x/y");
        assert_eq!(below(b"/docker/abc", b"/docker/abc"), b"");
        assert_eq!(below(b"/docker/abcd", b"/docker/abc"), b"", "a sibling is not under it");
        assert_eq!(below(b"/a/b", b"/"), b"/a/b");
        assert_eq!(below(b"/", b"/"), b"/");
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
