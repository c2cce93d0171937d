//! The fleet lifecycle demo (`examples/fleet_lifecycle.rs`) at a small size: the same code the
//! example runs, every step must pass.

#[path = "../examples/fleet_lifecycle.rs"]
// `main` belongs to the example binary.
#[allow(dead_code)]
mod fleet_lifecycle;

use fleet_lifecycle::{Settings, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_passes_with_five_devices() {
    let reports = run(Settings { devices: 5 }).await.unwrap();
    let steps: Vec<(&str, usize)> = reports.iter().map(|r| (r.name, r.devices)).collect();
    assert_eq!(
        steps,
        [
            ("provision", 5),
            ("configure", 5),
            ("reboot", 5),
            ("reset", 1),
            ("report", 5),
            ("retire", 1),
        ]
    );
    assert!(
        reports[1].what.contains("4 applied, 1 failed"),
        "{}",
        reports[1].what
    );
}

#[test]
fn the_command_line_takes_a_device_count() {
    let parse = |args: &[&str]| Settings::from_args(args.iter().map(|a| (*a).to_owned()));
    assert_eq!(parse(&[]).unwrap().devices, Settings::DEFAULT_DEVICES);
    assert_eq!(parse(&["--devices", "7"]).unwrap().devices, 7);
    assert_eq!(parse(&["--devices=12"]).unwrap().devices, 12);
    for bad in [
        &["--devices"][..],
        &["--devices", "1"],
        &["--devices", "x"],
        &["-n"],
    ] {
        assert!(parse(bad).unwrap_err().starts_with("usage"), "{bad:?}");
    }
}
