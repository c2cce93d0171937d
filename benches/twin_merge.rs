//! A 20-key merge patch onto a ~2 KB reported section: the checked write with `$version` and
//! `$metadata` (`Section::apply`), the bare merge (`iot_twin::merge`), and `json_patch::merge`
//! on the same inputs as the baseline; then `compose` and `diff` of patches that size.
//!
//! Every iteration starts from a fresh copy of the input, made outside the timed part.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use iot_twin::{Limits, Patch, Section, SectionKind, Timestamp, compose, diff, merge};
use serde_json::{Map, Value, json};

/// A reported section like a gateway's: scalars, nested objects and a few arrays, about 2 KB of
/// JSON.
fn section_content() -> Map<String, Value> {
    let mut content = Map::new();
    for i in 0..24 {
        content.insert(
            format!("setting_{i:02}"),
            json!(format!("value-{i:02}-abcdefghij")),
        );
    }
    for i in 0..8 {
        content.insert(format!("counter_{i}"), json!(i * 1000 + 7));
    }
    for i in 0..8 {
        content.insert(
            format!("module_{i}"),
            json!({"state": "running", "restarts": i, "health": {"ok": true, "checked": "2024-05-01T10:00:00Z"}}),
        );
    }
    content.insert(
        "tags_seen".into(),
        json!(["alpha", "beta", "gamma", "delta"]),
    );
    content.insert(
        "location".into(),
        json!({"site": "plant-north", "line": "L4", "cell": "C12"}),
    );
    content.insert(
        "firmware".into(),
        json!({"version": "1.2.3", "channel": "stable", "size": 523_412}),
    );
    content
}

/// Twenty members: replaced scalars, merges into nested objects, new keys and deletions.
fn patch_value() -> Value {
    let mut patch = Map::new();
    for i in 0..7 {
        patch.insert(
            format!("setting_{i:02}"),
            json!(format!("changed-{i:02}-klmnopqrst")),
        );
    }
    for i in 0..3 {
        patch.insert(format!("counter_{i}"), json!(i * 1000 + 8));
    }
    for i in 0..4 {
        patch.insert(
            format!("module_{i}"),
            json!({"restarts": i + 1, "health": {"ok": false}}),
        );
    }
    patch.insert("firmware".into(), json!({"version": "1.2.4", "size": null}));
    patch.insert("new_leaf".into(), json!("hello"));
    patch.insert("new_object".into(), json!({"a": 1, "b": {"c": "d"}}));
    for i in 13..16 {
        patch.insert(format!("setting_{i:02}"), Value::Null);
    }
    Value::Object(patch)
}

fn inputs() -> (Section, Map<String, Value>, Patch, Value, Timestamp) {
    let now = Timestamp::from_unix_seconds(1_700_000_000).expect("in range");
    let content = section_content();
    let mut section = Section::new(SectionKind::Reported, now);
    let initial = Patch::from_map(content.clone()).expect("valid content");
    section
        .apply(&initial, &Limits::default(), now)
        .expect("within limits");
    let patch_value = patch_value();
    let patch = Patch::from_value(patch_value.clone()).expect("valid patch");
    (section, content, patch, patch_value, now)
}

fn merge_patch(c: &mut Criterion) {
    let (section, content, patch, patch_value, now) = inputs();
    let limits = Limits::default();
    let later = now.checked_add(Duration::from_secs(1)).expect("in range");
    let document = Value::Object(content.clone());
    let mut group = c.benchmark_group("twin/merge_patch");
    group.bench_function("section_apply_checked_with_metadata", |b| {
        b.iter_batched(
            || section.clone(),
            |mut section| {
                let version = section.apply(black_box(&patch), &limits, later);
                (section, version)
            },
            BatchSize::SmallInput,
        );
    });
    let mut tags = Section::new(SectionKind::Tags, now);
    tags.replace(
        &Patch::from_map(content.clone()).expect("valid"),
        &limits,
        now,
    )
    .expect("within limits");
    group.bench_function("tags_apply_checked_no_metadata", |b| {
        b.iter_batched(
            || tags.clone(),
            |mut tags| {
                let version = tags.apply(black_box(&patch), &limits, later);
                (tags, version)
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("bare_merge", |b| {
        b.iter_batched(
            || content.clone(),
            |mut target| {
                merge(&mut target, black_box(&patch));
                target
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("baseline_json_patch_merge", |b| {
        b.iter_batched(
            || document.clone(),
            |mut target| {
                json_patch::merge(&mut target, black_box(&patch_value));
                target
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn algebra(c: &mut Criterion) {
    let (_, content, patch, _, _) = inputs();
    let second = Patch::from_value(json!({
        "setting_00": "again", "module_0": {"state": "stopped"}, "module_5": {"restarts": 9},
        "new_object": {"b": {"e": 1}}, "firmware": {"channel": null}, "setting_14": "back",
    }))
    .expect("valid patch");
    let mut changed = content.clone();
    merge(&mut changed, &patch);
    let mut group = c.benchmark_group("twin/algebra");
    group.bench_function("compose_20_and_6_keys", |b| {
        b.iter(|| compose(black_box(&patch), black_box(&second)));
    });
    group.bench_function("diff_2kb_sections", |b| {
        b.iter(|| diff(black_box(&content), black_box(&changed)));
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = merge_patch, algebra
}
criterion_main!(benches);
