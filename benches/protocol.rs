//! The wire formats the hub parses on every connection and message, each next to a bare
//! baseline doing the least work the same job needs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use iot_protocol::{
    DeviceConnectionString, MessageProperties, MessageTopic, MqttUsername, ResourceUri, SasToken,
    SharedAccessKey,
};
use iot_twin::Timestamp;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const TOKEN: &str = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000";
const TELEMETRY: &str = "devices/conf-py-7b73b5f6/messages/events/%24.mid=b36d0f5e-7f3c-4c5e-9a56-2a1e4d6f8a10&%24.ct=application%2Fjson&%24.ce=utf-8&scenario=py-device";
const USERNAME: &str = "localhost/conf-py-7b73b5f6/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0%283.11.7%3BLinux%20%231%20SMP%20PREEMPT_DYNAMIC%20%400%3Bx86_64%29";

/// Connecting: parse the password and verify it against the registry's keys.
fn sas(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol/sas");
    let key: SharedAccessKey = KEY.parse().expect("valid key");
    let other = SharedAccessKey::generate([9; 32]);
    let accessed = ResourceUri::parse("myhub.azure-devices.net/devices/device1").expect("valid");
    let now = Timestamp::from_unix_seconds(1_699_999_000).expect("in range");
    group.bench_function("parse_and_verify_secondary", |b| {
        b.iter(|| {
            let token: SasToken = black_box(TOKEN).parse().expect("valid token");
            token.verify([&other, &key], &accessed, now).is_ok()
        });
    });
    group.bench_function("parse_and_verify_baseline_two_hmacs", |b| {
        let message = "myhub.azure-devices.net%2Fdevices%2Fdevice1\n1700000000";
        b.iter(|| {
            let first = other.sign(black_box(message).as_bytes());
            let second = key.sign(black_box(message).as_bytes());
            first == second
        });
    });
    group.bench_function("create", |b| {
        b.iter(|| {
            SasToken::create(&accessed, &key, None, black_box(1_700_000_000)).to_secret_string()
        });
    });
    group.finish();
}

/// Every telemetry message: parse the topic and its property bag; every C2D message: emit one.
fn topics(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol/topic");
    group.bench_function("parse_telemetry", |b| {
        b.iter(|| black_box(TELEMETRY).parse::<MessageTopic>().is_ok());
    });
    group.bench_function("parse_telemetry_baseline_split", |b| {
        b.iter(|| {
            let (_, bag) = black_box(TELEMETRY)
                .split_once("events/")
                .unwrap_or_default();
            bag.split('&')
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect::<Vec<_>>()
        });
    });
    let topic = TELEMETRY.parse::<MessageTopic>().expect("valid topic");
    let properties: MessageProperties = topic.properties().clone();
    group.bench_function("emit_bag", |b| {
        b.iter(|| black_box(&properties).to_string());
    });
    group.bench_function("emit_bag_baseline_format", |b| {
        b.iter(|| {
            format!(
                "%24.mid={}&%24.ct={}&%24.ce={}&scenario={}",
                black_box("b36d0f5e-7f3c-4c5e-9a56-2a1e4d6f8a10"),
                black_box("application%2Fjson"),
                black_box("utf-8"),
                black_box("py-device")
            )
        });
    });
    group.finish();
}

/// Connecting: the username and, on the device side, the connection string.
fn connect(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol/connect");
    group.bench_function("parse_username", |b| {
        b.iter(|| black_box(USERNAME).parse::<MqttUsername>().is_ok());
    });
    let text = format!("HostName=myhub.azure-devices.net;DeviceId=device1;SharedAccessKey={KEY}");
    group.bench_function("parse_connection_string", |b| {
        b.iter(|| black_box(&text).parse::<DeviceConnectionString>().is_ok());
    });
    group.finish();
}

criterion_group!(benches, sas, topics, connect);
criterion_main!(benches);
