//! Printing results as Markdown tables: every run, the medians over runs, and the ratios of the
//! hub to its baseline.

use std::fmt::Display;
use std::io::Write as _;

use crate::idle::IdleOutcome;
use crate::stats::Outcome;

/// Writes a line to standard output (the report is the program's output).
pub(crate) fn say(line: impl Display) {
    // Nothing sensible remains to be done when standard output is gone.
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub(crate) fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match (values.get(mid.wrapping_sub(1)), values.get(mid)) {
        (Some(low), Some(high)) if values.len() % 2 == 0 => (low + high) / 2.0,
        (_, Some(middle)) => *middle,
        _ => f64::NAN,
    }
}

/// Runs of a timed measurement: the hub's and, when measured, the baseline's.
pub(crate) fn timed(title: &str, hub: &[Outcome], baseline: &[Outcome]) {
    say(format_args!("\n### {title}\n"));
    say(concat!(
        "| run | server | ops | ops/s | p50 ms | p99 ms | server CPU ms per 1000 ops ",
        "| server peak RSS MiB | generator cores |"
    ));
    say("|---|---|---|---|---|---|---|---|---|");
    for (n, outcome) in hub.iter().chain(baseline).enumerate() {
        let run = n % hub.len().max(1) + 1;
        say(format_args!(
            "| {run} | {} | {} | {:.0} | {:.3} | {:.3} | {:.1} | {:.1} | {:.2} |",
            outcome.label,
            outcome.ops,
            outcome.rate(),
            outcome.p50_ms,
            outcome.p99_ms,
            outcome.server_cpu_ms_per_k,
            outcome.server_peak_kib as f64 / 1024.0,
            outcome.generator_cores,
        ));
    }
    for (side, runs) in [("hub", hub), ("baseline", baseline)] {
        if !runs.is_empty() {
            let m = Medians::of(runs);
            say(format_args!(
                "| median | {side} | | {:.0} | {:.3} | {:.3} | {:.1} | {:.1} | |",
                m.rate, m.p50, m.p99, m.cpu, m.peak_mib
            ));
        }
    }
    if !hub.is_empty() && !baseline.is_empty() {
        ratios(hub, baseline);
    }
}

/// Ratios of the hub's medians to the baseline's, and the range of per-run ratios.
fn ratios(hub: &[Outcome], baseline: &[Outcome]) {
    let (h, b) = (Medians::of(hub), Medians::of(baseline));
    say(format_args!(
        "| hub / baseline | | | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x | |",
        h.rate / b.rate,
        h.p50 / b.p50,
        h.p99 / b.p99,
        h.cpu / b.cpu,
        h.peak_mib / b.peak_mib
    ));
    let per_run: Vec<String> = hub
        .iter()
        .zip(baseline)
        .map(|(h, b)| format!("{:.2}x/{:.2}x", h.rate() / b.rate(), h.p99_ms / b.p99_ms))
        .collect();
    say(format_args!(
        "\nPer-run ratios (ops/s, p99): {}",
        per_run.join(", ")
    ));
}

/// The medians of each column over runs.
struct Medians {
    rate: f64,
    p50: f64,
    p99: f64,
    cpu: f64,
    peak_mib: f64,
}

impl Medians {
    fn of(runs: &[Outcome]) -> Self {
        Self {
            rate: median(runs.iter().map(Outcome::rate)),
            p50: median(runs.iter().map(|o| o.p50_ms)),
            p99: median(runs.iter().map(|o| o.p99_ms)),
            cpu: median(runs.iter().map(|o| o.server_cpu_ms_per_k)),
            peak_mib: median(runs.iter().map(|o| o.server_peak_kib as f64 / 1024.0)),
        }
    }
}

/// Runs of the idle-connection measurement.
pub(crate) fn idle(title: &str, hub: &[IdleOutcome], baseline: &[IdleOutcome]) {
    say(format_args!("\n### {title}\n"));
    say(
        "| run | server | alive / asked | connect s | server RSS before MiB | after MiB | server bytes per conn | generator bytes per conn |",
    );
    say("|---|---|---|---|---|---|---|---|");
    for (n, outcome) in hub.iter().chain(baseline).enumerate() {
        let run = n % hub.len().max(1) + 1;
        say(format_args!(
            "| {run} | {} | {} / {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
            outcome.label,
            outcome.alive,
            outcome.asked,
            outcome.connect_time.as_secs_f64(),
            outcome.server_kib.0 as f64 / 1024.0,
            outcome.server_kib.1 as f64 / 1024.0,
            outcome.server_bytes_per_conn(),
            outcome.generator_bytes_per_conn(),
        ));
    }
    let per_conn =
        |runs: &[IdleOutcome]| median(runs.iter().map(IdleOutcome::server_bytes_per_conn));
    if !hub.is_empty() && !baseline.is_empty() {
        let (h, b) = (per_conn(hub), per_conn(baseline));
        say(format_args!(
            "\nMedian server bytes per idle connection: hub {h:.0}, baseline {b:.0}, ratio {:.2}x",
            h / b
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median([f64::NAN, 5.0]), 5.0);
        assert!(median([]).is_nan());
    }
}
