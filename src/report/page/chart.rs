//! Inline SVG line charts for the report's trends: one series per line,
//! one point per run, tonight's point marked; no script, no external file.

use std::fmt::Write;

use super::escape;

/// One line of a chart: its name and one value per run (`None`: the run
/// has no such value, e.g. an entity added later).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A line chart of `series` over `runs` (run ids, oldest first; the last is
/// tonight), titled `title`. Every point carries its value and run id as
/// data attributes (and a tooltip), so a reader or a test can read them.
pub fn line_chart(id: &str, title: &str, runs: &[String], series: &[Series], percent: bool) -> String {
    let mut svg = String::new();
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |m, v| m.max(*v));
    let max = if max <= 0.0 { 1.0 } else { nice_ceiling(max) };
    let n = runs.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v / max);
    let label = |v: f64| {
        if percent {
            format!("{:.1}%", v * 100.0)
        } else if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.3}")
        }
    };
    let _ = write!(
        svg,
        r#"<figure class="chart" id="{id}"><figcaption>{}</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        escape(title),
        escape(title)
    );
    // Axes and three horizontal guides.
    for step in 0..=2 {
        let v = max * step as f64 / 2.0;
        let yy = y(v);
        let _ = write!(
            svg,
            r#"<line class="guide" x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            label(v)
        );
    }
    if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{LEFT}" y="{:.1}">{}</text><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{} (tonight)</text>"#,
            HEIGHT - 8.0,
            escape(first),
            WIDTH - RIGHT,
            HEIGHT - 8.0,
            escape(last)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let class = format!("s{}", k % 8);
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        if points.len() > 1 {
            let _ = write!(svg, r#"<polyline class="{class}" points="{}"/>"#, points.join(" "));
        }
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let tonight = i + 1 == runs.len();
            let _ = write!(
                svg,
                r#"<circle class="{class}{}" cx="{:.1}" cy="{:.1}" r="{}" data-series="{}" data-run="{}" data-value="{}"><title>{}: {} ({})</title></circle>"#,
                if tonight { " tonight" } else { "" },
                x(i),
                y(*v),
                if tonight { 5 } else { 3 },
                escape(&s.name),
                escape(&runs[i]),
                v,
                escape(&s.name),
                label(*v),
                escape(&runs[i])
            );
        }
    }
    svg.push_str("</svg><ul class=\"legend\">");
    for (k, s) in series.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<li><span class="swatch s{}"></span>{}</li>"#,
            k % 8,
            escape(&s.name)
        );
    }
    svg.push_str("</ul></figure>");
    svg
}

/// The smallest of 1, 2, 2.5, 5 × 10^k at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= v {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_readable_values() {
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
        assert_eq!(nice_ceiling(0.27), 0.5);
        assert_eq!(nice_ceiling(2.0), 2.0);
    }

    #[test]
    fn every_point_carries_its_value_and_run_and_tonight_is_marked() {
        let runs = vec!["r1".to_string(), "r2".to_string(), "r3<".to_string()];
        let svg = line_chart(
            "c",
            "Findings",
            &runs,
            &[Series {
                name: "drift".into(),
                values: vec![Some(3.0), None, Some(5.0)],
            }],
            false,
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(r#"data-run="r1" data-value="3""#));
        assert!(svg.contains(r#"class="s0 tonight""#));
        assert!(svg.contains("r3&lt;"));
        assert!(!svg.contains("r3<"));
    }
}
