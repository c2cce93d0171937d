//! Direct methods: topic codec, the hub's pending-call table and device-side routing, each next
//! to a bare baseline doing the least work the same job needs.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use iot_methods::topic::RequestTopic;
use iot_methods::{
    MethodInvocation, MethodName, MethodRequest, MethodResponse, PendingCalls, Router,
};
use serde_json::{Value, json};

const REQUEST_TOPIC: &str = "$iothub/methods/POST/firmwareUpdate/?$rid=9f1c2d3e-0a1b-4c5d-8e9f";
const DEVICES: u64 = 100;

fn topics(c: &mut Criterion) {
    let mut group = c.benchmark_group("methods/topic");
    group.bench_function("parse_request", |b| {
        b.iter(|| black_box(REQUEST_TOPIC).parse::<RequestTopic>().is_ok());
    });
    group.bench_function("parse_request_baseline_split", |b| {
        b.iter(|| {
            let rest = black_box(REQUEST_TOPIC).strip_prefix("$iothub/methods/POST/");
            rest.and_then(|r| r.split_once("/?$rid="))
                .map(|(name, rid)| (name.to_owned(), rid.to_owned()))
        });
    });
    let request = MethodRequest::new(
        "firmwareUpdate".parse().expect("valid name"),
        "9f1c2d3e-0a1b-4c5d-8e9f".parse().expect("valid id"),
        Value::Null,
    );
    group.bench_function("emit_request", |b| b.iter(|| black_box(&request).topic()));
    group.bench_function("emit_request_baseline_format", |b| {
        b.iter(|| {
            let request = black_box(&request);
            format!(
                "$iothub/methods/POST/{}/?$rid={}",
                request.name(),
                request.request_id()
            )
        });
    });
    group.finish();
}

/// One call start to finish through the table: invoke, transmit, response, outcome. The clock
/// advances 1 ms per call, so the table also carries about 60 000 ended calls in retention.
fn pending(c: &mut Criterion) {
    let mut group = c.benchmark_group("methods/pending");
    let invocation = MethodInvocation::new("reboot".parse().expect("valid name"), Value::Null)
        .expect("small payload");
    group.bench_function("call_cycle", |b| {
        let mut calls = PendingCalls::<u64>::new();
        let start = Instant::now();
        (0..DEVICES).for_each(|d| calls.device_online(&d, start));
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let now = start + Duration::from_millis(n);
            calls.invoke(n % DEVICES, invocation.clone(), now);
            let (device, request) = calls.poll_transmit().expect("dispatched at once");
            calls.handle_response(&device, request.request_id(), 200, Value::Null, now);
            calls.poll_outcome().expect("answered")
        });
    });
    group.bench_function("call_cycle_baseline_map", |b| {
        let mut calls: HashMap<u64, (u64, MethodName, Value)> = HashMap::new();
        let mut queue = VecDeque::new();
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let (name, payload) = invocation.clone().into_parts();
            calls.insert(n, (n % DEVICES, name, payload));
            queue.push_back(n);
            let id = queue.pop_front().expect("just queued");
            let rid = id.to_string();
            black_box(&rid);
            let id = rid.parse::<u64>().expect("decimal id");
            calls.remove(&id).expect("just inserted")
        });
    });
    group.finish();
}

/// Polls a future that is expected to be ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked handlers never wait"),
    }
}

fn router(c: &mut Criterion) {
    let mut group = c.benchmark_group("methods/router");
    let reboot = |_request: MethodRequest| async { Ok(MethodResponse::ok(json!("started"))) };
    let mut builder = Router::builder();
    for i in 0..20 {
        builder = builder.handle(format!("method{i}"), reboot);
    }
    let router = builder
        .handle("reboot", reboot)
        .build()
        .expect("valid router");
    let request = MethodRequest::new(
        "reboot".parse().expect("valid name"),
        "1".parse().expect("valid id"),
        json!({"delay": 5}),
    );
    group.bench_function("dispatch", |b| {
        b.iter(|| ready(router.dispatch(black_box(request.clone()))));
    });
    group.bench_function("dispatch_baseline_direct_call", |b| {
        b.iter(|| ready(reboot(black_box(request.clone()))));
    });
    group.finish();
}

criterion_group!(benches, topics, pending, router);
criterion_main!(benches);
