//! Small SVG plots through plotters' SVG backend.
//!
//! Text uses plotters' naive font metrics (no `ttf` feature), so plotting needs no system fonts and
//! the SVG bytes depend only on the data.

use anyhow::{anyhow, bail, Result};
use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub log: bool,
}

impl Axis {
    pub fn linear(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            log: false,
        }
    }
    pub fn log(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            log: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    Points,
    Line,
    DashedLine,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: SeriesStyle,
    /// Index into a fixed palette, so colours are stable across runs.
    pub color: usize,
}

#[derive(Debug, Clone)]
pub struct LinePlot {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub width: u32,
    pub height: u32,
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl LinePlot {
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Self {
        LinePlot {
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            width: 900,
            height: 600,
        }
    }

    pub fn add(&mut self, name: impl Into<String>, points: Vec<(f64, f64)>, style: SeriesStyle) {
        let color = self.series.len();
        self.series.push(Series {
            name: name.into(),
            points,
            style,
            color,
        });
    }

    fn range(&self, pick: impl Fn(&(f64, f64)) -> f64, log: bool) -> Result<(f64, f64)> {
        let vals: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(&pick))
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        if vals.is_empty() {
            bail!("plot `{}` has no finite points", self.title);
        }
        let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        Ok(if log {
            let (lo, hi) = if lo == hi {
                (lo / 2.0, hi * 2.0)
            } else {
                (lo, hi)
            };
            (lo / 1.15, hi * 1.15)
        } else {
            let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
            (lo - pad, hi + pad)
        })
    }

    /// Renders the plot as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        let (x0, x1) = self.range(|p| p.0, self.x.log)?;
        let (y0, y1) = self.range(|p| p.1, self.y.log)?;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
            macro_rules! draw {
                ($xr:expr, $yr:expr) => {{
                    let mut chart = ChartBuilder::on(&root)
                        .caption(&self.title, ("sans-serif", 20))
                        .margin(12)
                        .x_label_area_size(45)
                        .y_label_area_size(70)
                        .build_cartesian_2d($xr, $yr)
                        .map_err(|e| anyhow!("{e:?}"))?;
                    chart
                        .configure_mesh()
                        .x_desc(self.x.label.as_str())
                        .y_desc(self.y.label.as_str())
                        .x_label_formatter(&|v| compact(*v))
                        .y_label_formatter(&|v| compact(*v))
                        .draw()
                        .map_err(|e| anyhow!("{e:?}"))?;
                    for s in &self.series {
                        let color = PALETTE[s.color % PALETTE.len()];
                        let pts: Vec<(f64, f64)> = s
                            .points
                            .iter()
                            .cloned()
                            .filter(|(x, y)| {
                                x.is_finite()
                                    && y.is_finite()
                                    && (!self.x.log || *x > 0.0)
                                    && (!self.y.log || *y > 0.0)
                            })
                            .collect();
                        let anno = match s.style {
                            SeriesStyle::Points => chart
                                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
                                .map_err(|e| anyhow!("{e:?}"))?,
                            SeriesStyle::Line => chart
                                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                                .map_err(|e| anyhow!("{e:?}"))?,
                            SeriesStyle::DashedLine => chart
                                .draw_series(DashedLineSeries::new(
                                    pts.clone(),
                                    6,
                                    4,
                                    color.stroke_width(2),
                                ))
                                .map_err(|e| anyhow!("{e:?}"))?,
                        };
                        if !s.name.is_empty() {
                            anno.label(s.name.as_str()).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                            });
                        }
                    }
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK)
                        .draw()
                        .map_err(|e| anyhow!("{e:?}"))?;
                }};
            }
            match (self.x.log, self.y.log) {
                (false, false) => draw!(x0..x1, y0..y1),
                (true, false) => draw!((x0..x1).log_scale(), y0..y1),
                (false, true) => draw!(x0..x1, (y0..y1).log_scale()),
                (true, true) => draw!((x0..x1).log_scale(), (y0..y1).log_scale()),
            }
            root.present().map_err(|e| anyhow!("{e:?}"))?;
        }
        Ok(svg)
    }
}

/// Axis tick text: short, locale-free, deterministic.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_deterministic_and_log_axes_work() {
        let mut p = LinePlot::new("t", Axis::log("x"), Axis::linear("y"));
        p.add("pts", vec![(1e18, 2.0), (1e20, 3.0)], SeriesStyle::Points);
        p.add(
            "fit",
            vec![(1e18, 2.1), (1e20, 2.9)],
            SeriesStyle::DashedLine,
        );
        let a = p.to_svg().unwrap();
        let b = p.to_svg().unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("<svg"));
        assert!(a.contains("fit"));
    }

    #[test]
    fn empty_plot_is_an_error() {
        let p = LinePlot::new("empty", Axis::linear("x"), Axis::linear("y"));
        assert!(p.to_svg().is_err());
    }
}
