//! Idle connections: connect many clients (TCP and CONNECT, nothing else), keep them alive with
//! PINGREQ, and measure what each costs the server and the generator in resident memory.

use std::time::Duration;

use crate::fleet::{self, Setup};
use crate::mqtt::{Conn, Login};
use crate::stats::ProcSample;

/// How long memory gets to settle before a sample.
const SETTLE: Duration = Duration::from_secs(2);

/// What idle connections cost.
#[derive(Debug, Clone)]
pub(crate) struct IdleOutcome {
    /// What was measured, e.g. "hub".
    pub(crate) label: String,
    /// Connections made and still answering pings at the end.
    pub(crate) alive: usize,
    /// Connections asked for.
    pub(crate) asked: usize,
    /// The server's RSS before connecting and with every connection open, KiB.
    pub(crate) server_kib: (u64, u64),
    /// The generator's RSS before connecting and with every connection open, KiB.
    pub(crate) generator_kib: (u64, u64),
    /// How long connecting took.
    pub(crate) connect_time: Duration,
}

impl IdleOutcome {
    /// The server's memory per connection, bytes.
    pub(crate) fn server_bytes_per_conn(&self) -> f64 {
        per_conn(self.server_kib, self.asked)
    }

    /// The generator's memory per connection, bytes.
    pub(crate) fn generator_bytes_per_conn(&self) -> f64 {
        per_conn(self.generator_kib, self.asked)
    }
}

fn per_conn((before, after): (u64, u64), count: usize) -> f64 {
    (after.saturating_sub(before) as f64 * 1024.0) / count.max(1) as f64
}

/// Connects `logins`, holds them for `hold` with pings every half keep-alive, and measures.
pub(crate) async fn run(
    label: &str,
    server: (std::net::SocketAddr, u32),
    logins: &[Login],
    setup: Setup,
    hold: Duration,
) -> Result<IdleOutcome, String> {
    let (addr, pid) = server;
    tokio::time::sleep(SETTLE).await;
    let before = (ProcSample::read(pid), ProcSample::read(std::process::id()));
    let started = std::time::Instant::now();
    let mut conns = fleet::connect_all(addr, logins, setup).await?;
    let connect_time = started.elapsed();
    for conn in &mut conns {
        conn.shrink();
    }
    hold_alive(
        &mut conns,
        hold,
        Duration::from_secs(u64::from(setup.keep_alive) / 2),
    )
    .await?;
    let after = (ProcSample::read(pid), ProcSample::read(std::process::id()));
    let alive = ping_all(&mut conns).await;
    for conn in conns {
        conn.disconnect().await;
    }
    Ok(IdleOutcome {
        label: label.to_owned(),
        alive,
        asked: logins.len(),
        server_kib: (before.0.rss_kib, after.0.rss_kib),
        generator_kib: (before.1.rss_kib, after.1.rss_kib),
        connect_time,
    })
}

/// Waits `hold` (at least the settling time), pinging every connection each `period`.
async fn hold_alive(conns: &mut [Conn], hold: Duration, period: Duration) -> Result<(), String> {
    let end = tokio::time::Instant::now() + hold.max(SETTLE);
    let period = period.max(Duration::from_secs(1));
    loop {
        let next = tokio::time::Instant::now() + period;
        if next >= end {
            tokio::time::sleep_until(end).await;
            return Ok(());
        }
        tokio::time::sleep_until(next).await;
        let alive = ping_all(conns).await;
        if alive < conns.len() {
            return Err(format!(
                "{} of {} connections dropped",
                conns.len() - alive,
                conns.len()
            ));
        }
    }
}

/// Pings every connection; how many answered.
async fn ping_all(conns: &mut [Conn]) -> usize {
    let mut alive = 0;
    for conn in conns.iter_mut() {
        let answered = tokio::time::timeout(Duration::from_secs(5), conn.ping()).await;
        if matches!(answered, Ok(Ok(()))) {
            alive += 1;
        }
        conn.shrink();
    }
    alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_per_connection_is_the_delta_over_the_count() {
        assert_eq!(per_conn((1000, 1010), 10), 1024.0);
        assert_eq!(per_conn((1000, 900), 10), 0.0);
        assert_eq!(per_conn((0, 1), 0), 1024.0);
    }
}
