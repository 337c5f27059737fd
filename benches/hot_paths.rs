//! Criterion micro-benchmarks of the per-value hot paths, reported as values
//! (or bytes) per second: phone normalization, resident-ID validation, the
//! free-text PII scan and decimal conversion.
//!
//! ```sh
//! cargo bench --bench hot_paths
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recon::normalize::{apply_steps, FieldType, Step, TypeOptions};
use recon::pii::{scan, Validator};
use std::hint::black_box;

fn phones() -> Vec<String> {
    (0..10_000u64)
        .map(|i| {
            let n = format!("139{:08}", i * 7919 % 100_000_000);
            match i % 4 {
                0 => n,
                1 => format!("+86 {} {} {}", &n[..3], &n[3..7], &n[7..]),
                2 => format!("0086-{n}"),
                _ => format!(" {n} "),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let steps = vec![Step::Trim, Step::parse("phone_e164:CN").expect("step")];
    let values = phones();
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("phone_e164_cn", |b| {
        b.iter(|| {
            for v in &values {
                black_box(apply_steps(&steps, Some(v)).ok());
            }
        })
    });
    let decimal = FieldType::from_spec("decimal(18,2)", &TypeOptions::default(), chrono_tz::Tz::UTC).expect("type");
    let amounts: Vec<String> = (0..10_000).map(|i| format!("{}.{:02}", i * 37, i % 100)).collect();
    g.bench_function("decimal_18_2", |b| {
        b.iter(|| {
            for v in &amounts {
                black_box(decimal.convert(v).ok());
            }
        })
    });
    g.finish();

    let ids: Vec<String> = (0..10_000u32)
        .map(|i| format!("11010519491231{:03}X", i % 1000))
        .collect();
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(ids.len() as u64));
    g.bench_function("cn_resident_id", |b| {
        b.iter(|| {
            for v in &ids {
                black_box(Validator::CnResidentId.is_valid(v));
            }
        })
    });
    g.finish();

    let text: String = (0..2_000)
        .map(|i| match i % 10 {
            0 => format!("客户来电，电话139{:08}。要求回电。", i),
            5 => "订单号20261124083015123 已处理，回访时间 2026-11-24 10:00。".to_string(),
            _ => "Customer asked about the November invoice and the agent resolved it. ".to_string(),
        })
        .collect();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("free_text", |b| b.iter(|| black_box(scan(&text).len())));
    g.finish();

    // report.html of a run with a million findings: sampling them (every
    // finding counted, the first 100 of each kind kept) and rendering.
    let findings: Vec<recon::report::page::Sample> = (0..1_000_000)
        .map(|i| recon::report::page::Sample {
            entity: format!("e{}", i % 4),
            category: "drift".into(),
            kind: ["value_mismatch", "missing_left", "missing_right", "unconvertible"][i % 4].into(),
            key: format!("{{\"id\":\"K{i:09}\"}}"),
            field: Some("amount".into()),
            left_value: Some(format!("{i}.00")),
            right_value: Some(format!("{}.50", i + 1)),
            detail: "differs by 1.50".into(),
            ..Default::default()
        })
        .collect();
    let summary = serde_json::json!({ "run_id": "bench", "exit_code": 1, "entities": {} });
    let mut g = c.benchmark_group("report_page");
    g.sample_size(10);
    g.throughput(Throughput::Elements(findings.len() as u64));
    g.bench_function("million_findings", |b| {
        b.iter(|| {
            let mut f = recon::report::page::Findings::new(recon::report::page::DEFAULT_PER_KIND);
            for s in &findings {
                let place = recon::report::page::Place {
                    entity: &s.entity,
                    category: &s.category,
                    kind: &s.kind,
                    field: s.field.as_deref(),
                    side: &s.side,
                };
                f.count(place, || s.clone());
            }
            let page = recon::report::page::render(&recon::report::page::Page {
                summary: &summary,
                findings: &f,
                history: &[],
                key_id: None,
            });
            black_box(page.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
