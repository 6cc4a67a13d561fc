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
    /// The levels drawn across the plot (class, label), named in a key
    /// row under it rather than on the plot, where they covered curves.
    levels: Vec<(String, String)>,
}

/// The height of the key row of levels under a plot, px.
const LEVEL_ROW: f64 = 20.0;

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
            levels: Vec::new(),
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

    /// A level across the whole plot, named in the key row under it.
    pub fn level(&mut self, class: &str, y: f64, label: &str) {
        if !y.is_finite() {
            return;
        }
        let (left, right, py) = (MARGIN.0, WIDTH - MARGIN.1, self.py(y));
        write!(
            self.svg,
            r#"<line class="{class}" x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}"/>"#
        )
        .unwrap();
        self.levels.push((class.to_string(), label.to_string()));
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
        // The levels' key, under the x axis: a sample of each dashed line
        // and its name, so no label lies over a curve.
        if !self.levels.is_empty() {
            let y = HEIGHT + LEVEL_ROW / 2.0;
            let mut x = MARGIN.0;
            for (class, label) in &self.levels {
                write!(
                    self.svg,
                    r#"<line class="{class}" x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="label legend" x="{:.1}" y="{:.1}">{label}</text>"#,
                    x + 22.0,
                    x + 28.0,
                    y + 4.0
                )
                .unwrap();
                x += 40.0 + 7.0 * label.chars().count() as f64;
            }
            // The row makes the picture taller.
            self.svg = self.svg.replacen(
                &format!(r#"viewBox="0 0 {WIDTH} {HEIGHT}""#),
                &format!(r#"viewBox="0 0 {WIDTH} {}""#, HEIGHT + LEVEL_ROW),
                1,
            );
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

#[cfg(test)]
mod level_tests {
    use super::*;

    #[test]
    fn level_labels_sit_in_a_key_row_under_the_plot_not_over_its_curves() {
        let axis = || Axis::linear(-48.0, 0.0, 6.0, "");
        let mut plot = Plot::new("loudness over time", axis(), axis());
        plot.line("c1", [(-48.0, -14.0), (0.0, -14.0)]);
        plot.level("target", -14.0, "target -14 LUFS");
        plot.level("ceiling", -1.0, "ceiling -1 dBTP");
        let svg = plot.finish(&[("c1", "short-term"), ("muted", "momentary")]);
        assert!(
            svg.contains(&format!(r#"viewBox="0 0 {WIDTH} {}""#, HEIGHT + LEVEL_ROW)),
            "{svg}"
        );
        for label in ["target -14 LUFS", "ceiling -1 dBTP"] {
            let at = svg.find(&format!(">{label}</text>")).expect("the label");
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y: f64 = tag
                .split("y=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|y| y.parse().ok())
                .expect("a y");
            assert!(y > HEIGHT, "{label} at y={y}, inside the plot: {tag}");
        }
        // Without levels the picture keeps its height.
        let plain = Plot::new("p", axis(), axis()).finish(&[]);
        assert!(plain.contains(&format!(r#"viewBox="0 0 {WIDTH} {HEIGHT}""#)));
    }
}
