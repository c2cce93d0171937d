//! What a run measured: round-trip latencies, throughput, and the server process's memory and
//! CPU time read from `/proc`.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Round-trip latencies in microseconds, collected by many tasks and merged.
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies {
    micros: Vec<u32>,
}

impl Latencies {
    /// Records one round trip that started at `sent`.
    pub(crate) fn record(&mut self, sent: Instant) {
        self.record_between(sent, Instant::now());
    }

    /// Records one trip from `sent` to `arrived`.
    pub(crate) fn record_between(&mut self, sent: Instant, arrived: Instant) {
        let micros = arrived.saturating_duration_since(sent).as_micros();
        self.micros.push(u32::try_from(micros).unwrap_or(u32::MAX));
    }

    /// Takes in another task's latencies.
    pub(crate) fn merge(&mut self, other: Self) {
        self.micros.extend(other.micros);
    }

    /// How many round trips were recorded.
    pub(crate) fn count(&self) -> usize {
        self.micros.len()
    }

    /// The `q` quantile (0.0 to 1.0) in milliseconds, nearest rank; `None` without samples.
    pub(crate) fn quantile_ms(&mut self, q: f64) -> Option<f64> {
        if self.micros.is_empty() {
            return None;
        }
        self.micros.sort_unstable();
        let last = self.micros.len() - 1;
        let rank = ((last as f64) * q).round() as usize;
        self.micros
            .get(rank.min(last))
            .map(|&us| f64::from(us) / 1000.0)
    }
}

/// Memory and CPU time of a process, from `/proc/<pid>/status` and `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcSample {
    /// Resident set size, KiB (`VmRSS`).
    pub(crate) rss_kib: u64,
    /// User plus system CPU time, seconds.
    pub(crate) cpu_secs: f64,
}

/// The kernel's unit for times in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

impl ProcSample {
    /// Reads the current figures of process `pid`; zeros when `/proc` cannot tell.
    pub(crate) fn read(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        Self {
            rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
            cpu_secs: cpu_ticks(&stat).unwrap_or(0) as f64 / TICKS_PER_SEC,
        }
    }
}

/// A field in KiB of `/proc/<pid>/status`.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.get(field.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `utime + stime` of `/proc/<pid>/stat` (fields 14 and 15; the command name in parentheses
/// may contain spaces, so fields are counted after its closing parenthesis).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// Samples a process every `period` until stopped, keeping the peak RSS.
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Sampler {
    /// Starts sampling `pid`.
    pub(crate) fn start(pid: u32, period: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                peak = peak.max(ProcSample::read(pid).rss_kib);
                tokio::select! {
                    () = tokio::time::sleep(period) => {}
                    _ = stopped.changed() => return peak,
                }
            }
        });
        Self { stop, task }
    }

    /// Stops sampling; the peak RSS seen, KiB.
    pub(crate) async fn peak_kib(self) -> u64 {
        self.stop.send_replace(true);
        self.task.await.unwrap_or(0)
    }
}

/// The outcome of one timed run against one server.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// What was measured, e.g. "hub reported patch".
    pub(crate) label: String,
    /// Round trips completed inside the measured window.
    pub(crate) ops: usize,
    /// The window's length.
    pub(crate) window: Duration,
    /// Median round trip, ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile round trip, ms.
    pub(crate) p99_ms: f64,
    /// The server's CPU time per 1000 round trips, ms (0 when unknown).
    pub(crate) server_cpu_ms_per_k: f64,
    /// The server's peak RSS during the run, KiB (0 when unknown).
    pub(crate) server_peak_kib: u64,
    /// The generator's CPU time over the window's length: the cores it kept busy (when it
    /// nears its runtime's thread count, the generator limits the rate, not the server).
    pub(crate) generator_cores: f64,
}

/// The `/proc` samples of a run: the server's and the generator's at both ends of the window,
/// and the server's peak RSS.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Samples {
    /// The server when the window opened and when it closed.
    pub(crate) server: (ProcSample, ProcSample),
    /// The server's peak RSS, KiB.
    pub(crate) peak_kib: u64,
    /// The generator when the window opened and when it closed.
    pub(crate) generator: (ProcSample, ProcSample),
}

impl Samples {
    /// Samples `server` and this process now, as the start of a window.
    pub(crate) fn start(server: u32) -> Self {
        let (first, own) = (
            ProcSample::read(server),
            ProcSample::read(std::process::id()),
        );
        Self {
            server: (first, first),
            peak_kib: first.rss_kib,
            generator: (own, own),
        }
    }

    /// Samples `server` and this process again, as the end of the window.
    pub(crate) fn end(mut self, server: u32, peak_kib: u64) -> Self {
        self.server.1 = ProcSample::read(server);
        self.generator.1 = ProcSample::read(std::process::id());
        self.peak_kib = self.peak_kib.max(peak_kib).max(self.server.1.rss_kib);
        self
    }
}

impl Outcome {
    /// Builds the outcome of a run from its latencies and the server's figures before and
    /// after it.
    pub(crate) fn new(
        label: &str,
        mut latencies: Latencies,
        window: Duration,
        samples: Samples,
    ) -> Self {
        let (before, after) = samples.server;
        let ops = latencies.count();
        let cpu = (after.cpu_secs - before.cpu_secs).max(0.0);
        let own = (samples.generator.1.cpu_secs - samples.generator.0.cpu_secs).max(0.0);
        Self {
            label: label.to_owned(),
            ops,
            window,
            p50_ms: latencies.quantile_ms(0.50).unwrap_or(f64::NAN),
            p99_ms: latencies.quantile_ms(0.99).unwrap_or(f64::NAN),
            server_cpu_ms_per_k: if ops == 0 {
                0.0
            } else {
                cpu * 1_000_000.0 / ops as f64
            },
            server_peak_kib: samples.peak_kib,
            generator_cores: own / window.as_secs_f64().max(f64::EPSILON),
        }
    }

    /// Round trips per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.window.as_secs_f64().max(f64::EPSILON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let mut latencies = Latencies {
            micros: (1..=100).rev().map(|ms| ms * 1000).collect(),
        };
        assert_eq!(latencies.quantile_ms(0.5), Some(51.0));
        assert_eq!(latencies.quantile_ms(0.99), Some(99.0));
        assert_eq!(latencies.quantile_ms(1.0), Some(100.0));
        assert_eq!(Latencies::default().quantile_ms(0.5), None);
    }

    #[test]
    fn proc_fields_are_read_after_the_command_name() {
        let stat = "42 (iot hub) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0";
        assert_eq!(cpu_ticks(stat), Some(325));
        assert_eq!(
            status_kib("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234)
        );
        assert_eq!(status_kib("Name:\tx\n", "VmRSS:"), None);
    }

    #[test]
    fn this_process_has_a_resident_set() {
        assert!(ProcSample::read(std::process::id()).rss_kib > 0);
    }
}
