//! Where convoy's threads run while a database server on the same machine
//! feeds the copy.
//!
//! A server session (a PostgreSQL backend, a SQL Server worker) runs on one
//! thread of its own, and when a copy reads from a server on this machine
//! into files, that thread is the copy's slowest stage. Spread over every
//! core, convoy's decoding and encoding threads take turns with it on its
//! core; kept off one core, they leave it one of its own. On 2 cores, 2
//! million rows from PostgreSQL to Parquet took 1.45 s confined to one core
//! against 1.75 s spread over both, and `psql … > /dev/null` 1.50 s (convoy
//! spent the same CPU time either way).
//!
//! Linux only; elsewhere, or when `CONVOY_LEAVE_CORE=0`, nothing changes.

/// The environment variable that turns the confinement off (`0`).
pub const ENV: &str = "CONVOY_LEAVE_CORE";

/// Whether a host name or address is this machine (loopback).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The CPUs of the process before a core was left to a server (0: none
/// was left).
static BEFORE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many CPUs convoy may use, counting a core left to a server: what
/// decides how many sessions to read with, which a server's core serves.
pub fn usable() -> usize {
    match BEFORE.load(std::sync::atomic::Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Whether the environment asks convoy to keep every core.
pub fn disabled() -> bool {
    std::env::var_os(ENV).is_some_and(|v| v == "0")
}

/// While alive, every thread of the process runs on all its cores but one;
/// dropping it gives every thread back the cores it had.
pub struct Confined {
    #[cfg(target_os = "linux")]
    previous: linux::CpuSet,
    /// The core left to the server.
    pub left: usize,
}

/// Keep convoy's threads (those running and those started later) off one
/// of the cores it may use, the lowest. `None` when it may use fewer than
/// two, when the system refuses, or off Linux.
pub fn leave_one_core() -> Option<Confined> {
    #[cfg(target_os = "linux")]
    {
        let previous = linux::CpuSet::of_current_thread()?;
        let cpus = previous.cpus();
        if cpus.len() < 2 {
            return None;
        }
        let left = cpus[0];
        // Before the confinement: it counts the CPU quota too.
        let usable_before = std::thread::available_parallelism().map_or(cpus.len(), |n| n.get());
        let mut confined = previous.clone();
        confined.remove(left);
        if !confined.apply_to_all_threads() {
            previous.apply_to_all_threads();
            return None;
        }
        BEFORE.store(usable_before, std::sync::atomic::Ordering::Relaxed);
        Some(Confined { previous, left })
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

impl Drop for Confined {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        self.previous.apply_to_all_threads();
        BEFORE.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// A set of CPUs, as `sched_getaffinity` gives it.
    #[derive(Clone)]
    pub struct CpuSet(libc::cpu_set_t);

    impl CpuSet {
        pub fn of_current_thread() -> Option<CpuSet> {
            // SAFETY: cpu_set_t is plain bits; zeroed is the empty set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: the size passed is the size of `set`, which lives
            // for the call; 0 names the calling thread.
            let rc = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
            };
            (rc == 0).then_some(CpuSet(set))
        }

        pub fn cpus(&self) -> Vec<usize> {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: the index is below CPU_SETSIZE.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &self.0) })
                .collect()
        }

        pub fn remove(&mut self, cpu: usize) {
            // SAFETY: callers pass a CPU taken from `cpus`.
            unsafe { libc::CPU_CLR(cpu, &mut self.0) }
        }

        /// Set on the calling thread first (that failing is a refusal),
        /// then on every other thread of the process; a thread that ended
        /// meanwhile is no failure. New threads inherit their creator's.
        pub fn apply_to_all_threads(&self) -> bool {
            if !self.apply(0) {
                return false;
            }
            let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
                return false;
            };
            for task in tasks.flatten() {
                if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
                    self.apply(tid);
                }
            }
            true
        }

        fn apply(&self, tid: libc::pid_t) -> bool {
            // SAFETY: the set outlives the call and its size is given.
            unsafe {
                libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &self.0) == 0
            }
        }
    }

    /// The CPUs thread `tid` of this process may run on (for tests).
    #[cfg(test)]
    pub fn of_thread(tid: libc::pid_t) -> Option<Vec<usize>> {
        // SAFETY: as in `of_current_thread`.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
        };
        (rc == 0).then(|| CpuSet(set).cpus())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_this_machine() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "db.example.com",
            "10.0.0.5",
            "::2",
            "localhost.example.com",
            "",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn every_thread_leaves_one_core_until_dropped() {
        let before = linux::CpuSet::of_current_thread().unwrap().cpus();
        let usable_before = usable();
        // A thread started before, and one after, the confinement.
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let early = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            stop_rx.recv().ok();
        });
        let early_tid = tid_rx.recv().unwrap();
        let confined = leave_one_core();
        if before.len() < 2 {
            assert!(confined.is_none(), "one core cannot be left");
            stop_tx.send(()).unwrap();
            early.join().unwrap();
            return;
        }
        let c = confined.expect("confined on a machine of several cores");
        let expected: Vec<usize> = before.iter().copied().filter(|&x| x != c.left).collect();
        assert_eq!(c.left, before[0]);
        assert_eq!(linux::of_thread(0).unwrap(), expected);
        assert_eq!(linux::of_thread(early_tid).unwrap(), expected);
        let late = std::thread::spawn(|| linux::of_thread(0).unwrap())
            .join()
            .unwrap();
        assert_eq!(late, expected);
        // Sessions are still counted on every core.
        assert_eq!(usable(), usable_before);
        drop(c);
        assert_eq!(usable(), usable_before);
        assert_eq!(linux::of_thread(0).unwrap(), before);
        assert_eq!(linux::of_thread(early_tid).unwrap(), before);
        stop_tx.send(()).unwrap();
        early.join().unwrap();
    }
}
