//! Plots as inline SVG: axes, grid, lines and bars, coloured by CSS
//! classes so the page's light and dark schemes both apply.

use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 234.0;
/// Room for the axis labels: left, right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (48.0, 30.0, 26.0, 28.0);

/// An axis: its range, log or linear, and where its labelled ticks go.
#[derive(Clone)]
pub struct Axis {
    pub low: f64,
    pub high: f64,
    pub log: bool,
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    pub fn linear(low: f64, high: f64, step: f64, unit: &str) -> Axis {
        let mut ticks = Vec::new();
        let mut v = (low / step).ceil() * step;
        while v <= high + 1e-9 {
            ticks.push((v, format!("{v}{unit}")));
            v += step;
        }
        Axis {
            low,
            high,
            log: false,
            ticks,
        }
    }

    /// A frequency axis from 20 Hz to 20 kHz.
    pub fn frequency() -> Axis {
        Axis {
            low: 20.0,
            high: 20_000.0,
            log: true,
            ticks: [
                (20.0, "20"),
                (50.0, "50"),
                (100.0, "100"),
                (200.0, "200"),
                (500.0, "500"),
                (1000.0, "1k"),
                (2000.0, "2k"),
                (5000.0, "5k"),
                (10000.0, "10k"),
                (20000.0, "20k Hz"),
            ]
            .iter()
            .map(|(v, l)| (*v, l.to_string()))
            .collect(),
        }
    }

    /// Where `v` falls, 0 to 1.
    fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.low.ln()) / (self.high.ln() - self.low.ln())
        } else {
            (v - self.low) / (self.high - self.low)
        }
    }
}

/// One plot being drawn.
pub struct Plot {
    x: Axis,
    y: Axis,
    svg: String,
    /// Where the level labels sit (their baselines), so none covers another.
    labels: Vec<f64>,
}

/// A label's height, px: labels closer than this are moved apart.
const LABEL_HEIGHT: f64 = 13.0;

impl Plot {
    pub fn new(label: &str, x: Axis, y: Axis) -> Plot {
        let mut svg = String::new();
        write!(
            svg,
            r#"<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">"#
        )
        .unwrap();
        let mut plot = Plot {
            x,
            y,
            svg,
            labels: Vec::new(),
        };
        plot.grid();
        plot
    }

    fn px(&self, v: f64) -> f64 {
        MARGIN.0 + self.x.fraction(v) * (WIDTH - MARGIN.0 - MARGIN.1)
    }

    fn py(&self, v: f64) -> f64 {
        let f = self.y.fraction(v.clamp(self.y.low, self.y.high));
        HEIGHT - MARGIN.3 - f * (HEIGHT - MARGIN.2 - MARGIN.3)
    }

    fn grid(&mut self) {
        let (top, bottom) = (MARGIN.2, HEIGHT - MARGIN.3);
        let (left, right) = (MARGIN.0, WIDTH - MARGIN.1);
        for (v, label) in self.x.ticks.clone() {
            let x = self.px(v);
            write!(
                self.svg,
                r#"<line class="grid" x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
                bottom + 16.0
            )
            .unwrap();
        }
        for (v, label) in self.y.ticks.clone() {
            let y = self.py(v);
            write!(
                self.svg,
                r#"<line class="grid" x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#,
                left - 6.0,
                y + 4.0
            )
            .unwrap();
        }
        write!(
            self.svg,
            r#"<rect class="frame" x="{left}" y="{top}" width="{:.1}" height="{:.1}"/>"#,
            right - left,
            bottom - top
        )
        .unwrap();
    }

    /// A line through the finite points, broken where a value is missing.
    pub fn line(&mut self, class: &str, points: impl IntoIterator<Item = (f64, f64)>) {
        let mut d = String::new();
        let mut pen_down = false;
        for (x, y) in points {
            if !(x.is_finite() && y.is_finite()) || x < self.x.low || x > self.x.high {
                pen_down = false;
                continue;
            }
            let command = if pen_down { 'L' } else { 'M' };
            write!(d, "{command}{:.1} {:.1}", self.px(x), self.py(y)).unwrap();
            pen_down = true;
        }
        if !d.is_empty() {
            write!(self.svg, r#"<path class="{class}" d="{d}"/>"#).unwrap();
        }
    }

    /// A level across the whole plot, labelled at its right end (under
    /// the labels already there when it would cover one).
    pub fn level(&mut self, class: &str, y: f64, label: &str) {
        if !y.is_finite() {
            return;
        }
        let (left, right, py) = (MARGIN.0, WIDTH - MARGIN.1, self.py(y));
        let mut baseline = py - 4.0;
        while self
            .labels
            .iter()
            .any(|other| (other - baseline).abs() < LABEL_HEIGHT)
        {
            baseline += LABEL_HEIGHT;
        }
        self.labels.push(baseline);
        write!(
            self.svg,
            r#"<line class="{class}" x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}"/><text class="label legend" x="{:.1}" y="{baseline:.1}" text-anchor="end">{label}</text>"#,
            right - 4.0,
        )
        .unwrap();
    }

    /// Bars from the bottom of the plot, each `width` wide in x units.
    pub fn bars(&mut self, class: &str, bars: impl IntoIterator<Item = (f64, f64, f64)>) {
        let base = self.py(self.y.low);
        for (x, width, y) in bars {
            if !y.is_finite() {
                continue;
            }
            let (x0, x1) = (self.px(x - width / 2.0), self.px(x + width / 2.0));
            let top = self.py(y);
            write!(
                self.svg,
                r#"<rect class="{class}" x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}"/>"#,
                (x1 - x0 - 1.0).max(0.5),
                (base - top).max(0.0)
            )
            .unwrap();
        }
    }

    /// Closes the plot, its `legend` (class, label) in a row above it,
    /// where no curve runs.
    pub fn finish(mut self, legend: &[(&str, &str)]) -> String {
        let mut x = MARGIN.0;
        for (class, label) in legend {
            write!(
                self.svg,
                r#"<rect class="key {class}" x="{x:.1}" y="{:.1}" width="14" height="3"/><text class="label legend" x="{:.1}" y="{:.1}">{label}</text>"#,
                MARGIN.2 - 14.0,
                x + 18.0,
                MARGIN.2 - 10.0
            )
            .unwrap();
            x += 26.0 + 7.0 * label.len() as f64;
        }
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// A vectorscope density image: `cells`² values 0–255, row by row.
pub fn vectorscope(cells: usize, density: &[u8]) -> String {
    let size = 200.0;
    let cell = size / cells as f64;
    let mut svg = format!(
        r#"<svg class="scope" viewBox="0 0 {size} {size}" role="img" aria-label="vectorscope"><rect class="frame" x="0" y="0" width="{size}" height="{size}"/><line class="grid" x1="{h}" y1="0" x2="{h}" y2="{size}"/><line class="grid" x1="0" y1="{h}" x2="{size}" y2="{h}"/>"#,
        h = size / 2.0
    );
    for (i, value) in density.iter().enumerate() {
        if *value == 0 {
            continue;
        }
        let (row, column) = (i / cells, i % cells);
        write!(
            svg,
            r#"<rect class="dot" x="{:.2}" y="{:.2}" width="{cell:.2}" height="{cell:.2}" fill-opacity="{:.2}"/>"#,
            column as f64 * cell,
            row as f64 * cell,
            *value as f64 / 255.0
        )
        .unwrap();
    }
    write!(
        svg,
        r#"<text class="label" x="4" y="12">M</text><text class="label" x="{:.1}" y="{:.1}" text-anchor="end">S</text></svg>"#,
        size - 4.0,
        size / 2.0 - 4.0
    )
    .unwrap();
    svg
}
