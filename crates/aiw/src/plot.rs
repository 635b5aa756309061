//! Box/strip plot of correct-response-rate bands (plotters SVG backend, no system fonts).

use crate::stats::Band;
use anyhow::{anyhow, bail, Result};
use plotters::prelude::*;

/// One horizontal box: a label and its band.
#[derive(Debug, Clone)]
pub struct BoxRow {
    pub label: String,
    pub band: Band,
}

const BOX: RGBColor = RGBColor(90, 170, 153); // upstream's seaborn palette 'light:#5A9'
const POINT: RGBColor = RGBColor(214, 39, 40);

/// Horizontal box plot (q1–q3 box, median, 1.5·IQR whiskers) of each band's samples, with a
/// deterministic strip of 25 of the samples and the observed rate as a red dot. x ∈ [0, 1], as
/// upstream's `plot_boxplot`.
pub fn box_strip_svg(title: &str, rows: &[BoxRow]) -> Result<String> {
    if rows.is_empty() {
        bail!("plot `{title}` has no rows");
    }
    let n = rows.len();
    let height = (120 + 28 * n) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(300)
            .build_cartesian_2d(0.0f64..1.0f64, -0.5f64..(n as f64 - 0.5))
            .map_err(|e| anyhow!("{e:?}"))?;
        chart
            .configure_mesh()
            .x_desc("Correct response rate")
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_label_formatter(&|x| format!("{x:.1}"))
            .draw()
            .map_err(|e| anyhow!("{e:?}"))?;
        for (i, r) in rows.iter().enumerate() {
            let y = i as f64;
            let s = r.band.stats;
            let h = 0.3;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(s.q1, y - h), (s.q3, y + h)],
                    BOX.mix(0.6).filled(),
                )))
                .map_err(|e| anyhow!("{e:?}"))?;
            let lines = [
                vec![(s.median, y - h), (s.median, y + h)],
                vec![(s.whisker_lo, y), (s.q1, y)],
                vec![(s.q3, y), (s.whisker_hi, y)],
                vec![(s.whisker_lo, y - h / 2.0), (s.whisker_lo, y + h / 2.0)],
                vec![(s.whisker_hi, y - h / 2.0), (s.whisker_hi, y + h / 2.0)],
            ];
            chart
                .draw_series(
                    lines
                        .into_iter()
                        .map(|l| PathElement::new(l, BLACK.stroke_width(1))),
                )
                .map_err(|e| anyhow!("{e:?}"))?;
            // Strip: every (len/25)-th sample, jittered by a fixed pattern (no RNG needed).
            let step = (r.band.samples.len() / 25).max(1);
            let strip = r
                .band
                .samples
                .iter()
                .step_by(step)
                .enumerate()
                .map(|(j, &x)| {
                    let jitter = ((j * 7919) % 13) as f64 / 13.0 * 0.5 - 0.25;
                    Circle::new((x.clamp(0.0, 1.0), y + jitter), 1, BLACK.mix(0.35).filled())
                });
            chart.draw_series(strip).map_err(|e| anyhow!("{e:?}"))?;
            chart
                .draw_series(std::iter::once(Circle::new(
                    (r.band.rate, y),
                    4,
                    POINT.filled(),
                )))
                .map_err(|e| anyhow!("{e:?}"))?;
        }
        root.present().map_err(|e| anyhow!("{e:?}"))?;
    }
    Ok(svg)
}
