//! The report page: one self-contained HTML file (inline CSS and SVG, no
//! script, nothing fetched: its Content-Security-Policy forbids it),
//! readable in light and dark schemes and printable.

use std::fmt::Write;

use super::checks::{Check, Status};
use super::plot::{vectorscope, Axis, Plot};
use super::{InspectedFile, Report, TrackReport};

const STYLE: &str = r#"
:root { color-scheme: light dark; --bg: #fcfcfa; --fg: #1d1f21; --muted: #6b6f76; --line: #d9dbde;
  --c1: #1f6feb; --c2: #d1242f; --c3: #1a7f37; --c4: #9a6700; --pass: #1a7f37; --warn: #9a6700; --fail: #d1242f; }
@media (prefers-color-scheme: dark) { :root { --bg: #16181b; --fg: #e6e6e3; --muted: #9aa0a6; --line: #34383d;
  --c1: #58a6ff; --c2: #ff7b72; --c3: #56d364; --c4: #e3b341; --pass: #56d364; --warn: #e3b341; --fail: #ff7b72; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; color: var(--muted); font-weight: 600; }
.meta { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.n { text-align: right; }
table.matrix td.cell { text-align: center; font-weight: 700; } table.matrix th { font-size: 12px; }
.status { font-weight: 700; text-transform: uppercase; font-size: 12px; }
.pass { color: var(--pass); } .warn { color: var(--warn); } .fail { color: var(--fail); }
.summary { display: flex; gap: 16px; margin: 8px 0 16px; }
.summary div { padding: 8px 14px; border: 1px solid var(--line); border-radius: 6px; }
.plots { display: grid; grid-template-columns: 1fr; gap: 8px; }
.stereo { display: grid; grid-template-columns: 3fr 1fr; gap: 12px; align-items: center; }
svg { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; } svg .frame { fill: none; stroke: var(--muted); stroke-width: 1; }
svg .tick, svg .label { fill: var(--muted); font-size: 11px; }
svg .legend { paint-order: stroke; stroke: var(--bg); stroke-width: 4px; stroke-linejoin: round; }
svg path { fill: none; stroke-width: 1.5; stroke-linejoin: round; }
svg .c1 { stroke: var(--c1); fill: var(--c1); } svg .c2 { stroke: var(--c2); fill: var(--c2); }
svg .c3 { stroke: var(--c3); fill: var(--c3); } svg .c4 { stroke: var(--c4); fill: var(--c4); }
svg .muted { stroke: var(--muted); } svg rect.key.muted { fill: var(--muted); }
svg path.c1, svg path.c2, svg path.c3, svg path.c4 { fill: none; }
svg path.thin { stroke-width: 0.8; opacity: 0.7; }
svg line.target { stroke: var(--c3); stroke-dasharray: 6 4; } svg line.ceiling { stroke: var(--fail); stroke-dasharray: 2 3; }
svg line.integrated { stroke: var(--c1); stroke-dasharray: 6 4; }
svg .dot { fill: var(--c1); } svg .scope { max-width: 240px; }
svg rect.bar { fill: var(--c1); opacity: 0.8; } svg rect.key { stroke: none; }
@media print { body { max-width: none; padding: 0; } .track { break-inside: avoid-page; } h2 { break-after: avoid; } }
"#;

pub fn render(report: &Report) -> String {
    let mut html = String::new();
    let release = &report.release;
    let title = format!(
        "{}{}",
        escape(&release.title),
        release
            .artist
            .as_ref()
            .map_or(String::new(), |a| format!(" — {}", escape(a)))
    );
    write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>Release report: {title}</title><style>{STYLE}</style></head><body>"#
    )
    .unwrap();
    write!(
        html,
        r#"<header><h1>{title}</h1><p class="meta">Version {}{}{} · {} tracks · {}</p></header>"#,
        escape(&release.version),
        release
            .upc
            .as_ref()
            .map_or(String::new(), |u| format!(" · UPC {}", escape(u))),
        release
            .git
            .as_ref()
            .map_or(String::new(), |g| format!(" · {}", escape(g))),
        report.tracks.len(),
        clock(report.album.length)
    )
    .unwrap();
    checklist(&mut html, report);
    album(&mut html, report);
    for track in &report.tracks {
        track_section(&mut html, track);
    }
    html.push_str("</body></html>\n");
    html
}

fn checklist(html: &mut String, report: &Report) {
    let all: Vec<&Check> = report
        .album
        .checks
        .iter()
        .chain(report.tracks.iter().flat_map(|t| t.checks.iter()))
        .collect();
    let count = |s: Status| all.iter().filter(|c| c.status == s).count();
    write!(
        html,
        r#"<section id="checklist"><h2>Checklist</h2><div class="summary"><div class="pass">{} passed</div><div class="warn">{} warnings</div><div class="fail">{} failed</div></div>"#,
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    )
    .unwrap();
    // What needs doing first: failures, then warnings.
    let mut open: Vec<&Check> = all
        .iter()
        .copied()
        .filter(|c| c.status != Status::Pass)
        .collect();
    open.sort_by_key(|c| c.status != Status::Fail);
    if open.is_empty() {
        html.push_str(r#"<p class="pass">Every check passes.</p>"#);
    } else {
        html.push_str("<table><tr><th>status</th><th>check</th><th>figures</th></tr>");
        for c in open {
            check_row(html, c);
        }
        html.push_str("</table>");
    }
    matrix(html, report);
    html.push_str("</section>");
}

/// Every check of every file at a glance: a row per file, a column per
/// check, the figures in each cell's tooltip.
fn matrix(html: &mut String, report: &Report) {
    let mut names: Vec<&str> = Vec::new();
    for c in report.tracks.iter().flat_map(|t| t.checks.iter()) {
        if !names.contains(&c.name) {
            names.push(c.name);
        }
    }
    html.push_str(r#"<table class="matrix"><tr><th>file</th>"#);
    for name in &names {
        write!(html, "<th>{name}</th>").unwrap();
    }
    html.push_str("</tr>");
    for t in &report.tracks {
        for f in &t.files {
            write!(html, "<tr><td>{}</td>", escape(&f.path)).unwrap();
            for name in &names {
                // A file's checks name it first: "path: figures".
                let prefix = format!("{}: ", f.path);
                match t
                    .checks
                    .iter()
                    .find(|c| c.name == *name && c.figures.starts_with(&prefix))
                {
                    Some(c) => write!(
                        html,
                        r#"<td class="cell {}" title="{}">{}</td>"#,
                        status_class(c.status),
                        escape(&c.figures),
                        status_mark(c.status)
                    )
                    .unwrap(),
                    None => html.push_str(r#"<td class="cell">·</td>"#),
                }
            }
            html.push_str("</tr>");
        }
    }
    html.push_str("</table>");
    html.push_str("<table><tr><th>status</th><th>release check</th><th>figures</th></tr>");
    for c in &report.album.checks {
        check_row(html, c);
    }
    html.push_str("</table>");
}

fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    }
}

fn status_mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✓",
        Status::Warn => "!",
        Status::Fail => "✗",
    }
}

fn check_row(html: &mut String, c: &Check) {
    let class = status_class(c.status);
    write!(
        html,
        r#"<tr><td class="status {class}">{class}</td><td>{}</td><td>{}</td></tr>"#,
        c.name,
        escape(&c.figures)
    )
    .unwrap();
}

fn album(html: &mut String, report: &Report) {
    html.push_str(r#"<section id="album"><h2>Album</h2>"#);
    html.push_str("<table><tr><th>track</th><th>title</th><th>length</th><th>gap</th><th>integrated</th><th>true peak</th><th>PLR</th><th>LRA</th><th>ISRC</th></tr>");
    for t in &report.tracks {
        let Some(f) = t.primary() else { continue };
        let g = &f.figures;
        write!(
            html,
            r#"<tr><td class="n">{}</td><td>{}</td><td class="n">{}</td><td class="n">{:.1} s</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            t.track,
            escape(&t.title),
            clock(g.seconds),
            t.gap,
            fig(g.integrated, "LUFS"),
            fig(g.true_peak, "dBTP"),
            fig(g.plr, "dB"),
            fig(g.lra, "LU"),
            t.isrc.as_deref().map_or("—".to_string(), escape)
        )
        .unwrap();
    }
    html.push_str("</table><h3>Loudness and true peak of each track</h3>");
    // Loudness and peak of every track side by side.
    let n = report.tracks.len().max(1) as f64;
    let mut plot = Plot::new(
        "album loudness",
        Axis {
            low: 0.5,
            high: n + 0.5,
            log: false,
            ticks: report
                .tracks
                .iter()
                .map(|t| (t.track as f64, t.track.to_string()))
                .collect(),
        },
        Axis::linear(-30.0, 0.0, 6.0, ""),
    );
    let primaries: Vec<&InspectedFile> = report.tracks.iter().filter_map(|t| t.primary()).collect();
    plot.bars(
        "bar",
        report
            .tracks
            .iter()
            .zip(&primaries)
            .map(|(t, f)| (t.track as f64, 0.6, f.figures.integrated)),
    );
    plot.line(
        "c2",
        report
            .tracks
            .iter()
            .zip(&primaries)
            .map(|(t, f)| (t.track as f64, f.figures.true_peak)),
    );
    html.push_str(&plot.finish(&[("c1", "integrated, LUFS"), ("c2", "true peak, dBTP")]));
    // The spectra of every track, over each other.
    html.push_str("<h3>Average spectrum of each track (mid)</h3>");
    let mut plot = Plot::new(
        "album spectra",
        Axis::frequency(),
        Axis::linear(-100.0, -20.0, 20.0, " dB"),
    );
    let classes = ["c1", "c2", "c3", "c4"];
    let mut legend = Vec::new();
    for (i, (t, f)) in report.tracks.iter().zip(&primaries).enumerate() {
        let s = &f.figures.spectrum;
        plot.line(
            classes[i % 4],
            s.bands.iter().copied().zip(s.mid.iter().copied()),
        );
        legend.push((classes[i % 4], format!("track {}", t.track)));
    }
    let legend: Vec<(&str, &str)> = legend.iter().map(|(c, l)| (*c, l.as_str())).collect();
    html.push_str(&plot.finish(&legend));
    html.push_str("</section>");
}

fn track_section(html: &mut String, t: &TrackReport) {
    write!(
        html,
        r#"<section class="track" id="track-{}"><h2>{}. {}</h2>"#,
        t.track,
        t.track,
        escape(&t.title)
    )
    .unwrap();
    files_table(html, t);
    let Some(primary) = t.primary() else {
        html.push_str("</section>");
        return;
    };
    let g = &primary.figures;
    write!(
        html,
        r#"<p class="meta">Plots of {}; the three highest peaks at {}.</p><div class="plots">"#,
        escape(&primary.path),
        g.peak_times
            .iter()
            .map(|s| clock(*s))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    let time = Axis::linear(0.0, g.seconds.max(1.0), time_step(g.seconds), " s");
    loudness_plot(html, t, g, &time);
    dynamics_plots(html, g, &time);
    spectrum_plot(html, g);
    references(html, t, g);
    codecs(html, t);
    stereo_plots(html, g, time);
    html.push_str("</div></section>");
}

/// Where the n-th point of a 10 Hz series sits, in seconds.
fn at(i: usize) -> f64 {
    i as f64 / 10.0 + 0.1
}

/// Every delivered file of the track, with its figures.
fn files_table(html: &mut String, t: &TrackReport) {
    html.push_str("<table><tr><th>file</th><th>integrated</th><th>LRA</th><th>max M / S</th><th>true peak L / R</th><th>PLR</th><th>PSR min / median</th><th>overs on / between</th><th>DC L / R</th><th>head / tail</th><th>dropout</th></tr>");
    for f in &t.files {
        let g = &f.figures;
        write!(
            html,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.1} / {:.1}</td><td class="n">{:.2} / {:.2}</td><td class="n">{}</td><td class="n">{:.1} / {:.1}</td><td class="n">{} / {}</td><td class="n">{} / {}</td><td class="n">{:.2} / {:.2} s</td><td class="n">{}</td></tr>"#,
            escape(&f.path),
            fig(g.integrated, "LUFS"),
            fig(g.lra, "LU"),
            g.max_momentary,
            g.max_short_term,
            g.true_peak_channels[0],
            g.true_peak_channels[1],
            fig(g.plr, "dB"),
            g.psr.min,
            g.psr.median,
            g.overs.on_sample,
            g.overs.inter_sample,
            fig(g.dc_offset[0], ""),
            fig(g.dc_offset[1], ""),
            g.head_silence,
            g.tail_silence,
            if g.longest_run.0 > 0.001 {
                format!("{:.1} ms at {}", g.longest_run.0 * 1000.0, clock(g.longest_run.1))
            } else {
                "none".into()
            }
        )
        .unwrap();
    }
    html.push_str("</table>");
}

/// Peak, momentary and short-term loudness over time, with the
/// integrated loudness and every target and ceiling a file is held to.
fn loudness_plot(html: &mut String, t: &TrackReport, g: &bounce_nodes::Inspection, time: &Axis) {
    html.push_str("<h3>Loudness over time</h3>");
    let mut plot = Plot::new(
        "loudness over time",
        time.clone(),
        Axis::linear(-48.0, 0.0, 6.0, ""),
    );
    let s = &g.series;
    plot.line(
        "c4 thin",
        s.peak.iter().enumerate().map(|(i, v)| (at(i), *v)),
    );
    plot.line(
        "muted thin",
        s.momentary.iter().enumerate().map(|(i, v)| (at(i), *v)),
    );
    plot.line(
        "c1",
        s.short_term.iter().enumerate().map(|(i, v)| (at(i), *v)),
    );
    plot.level(
        "integrated",
        g.integrated,
        &format!("integrated {:.1} LUFS", g.integrated),
    );
    // One line per target, naming every deliverable held to it; one per
    // ceiling.
    let mut targets: Vec<(f64, Vec<&str>)> = Vec::new();
    let mut ceilings: Vec<f64> = Vec::new();
    for f in &t.files {
        if let Some(target) = f.target {
            match targets.iter_mut().find(|(t, _)| *t == target) {
                Some((_, names)) if !names.contains(&f.deliverable.as_str()) => {
                    names.push(&f.deliverable)
                }
                Some(_) => {}
                None => targets.push((target, vec![&f.deliverable])),
            }
        }
        if let Some(ceiling) = f.ceiling.filter(|c| !ceilings.contains(c)) {
            ceilings.push(ceiling);
        }
    }
    for (target, names) in targets {
        let label = format!("target {target} LUFS ({})", escape(&names.join(", ")));
        plot.level("target", target, &label);
    }
    for ceiling in ceilings {
        plot.level("ceiling", ceiling, &format!("ceiling {ceiling} dBTP"));
    }
    html.push_str(&plot.finish(&[
        ("c1", "short-term"),
        ("muted", "momentary"),
        ("c4", "sample peak"),
    ]));
}

/// PSR over time and its distribution.
fn dynamics_plots(html: &mut String, g: &bounce_nodes::Inspection, time: &Axis) {
    let s = &g.series;
    html.push_str("<h3>Dynamics: PSR over time and its distribution</h3>");
    let mut plot = Plot::new(
        "psr over time",
        time.clone(),
        Axis::linear(0.0, 24.0, 4.0, " dB"),
    );
    plot.line("c3", s.psr.iter().enumerate().map(|(i, v)| (at(i), *v)));
    plot.level("integrated", g.plr, &format!("PLR {:.1} dB", g.plr));
    html.push_str(&plot.finish(&[("c3", "PSR")]));
    let mut plot = Plot::new(
        "psr distribution",
        Axis::linear(0.0, 30.0, 3.0, " dB"),
        Axis::linear(0.0, 100.0, 25.0, " %"),
    );
    plot.bars(
        "bar",
        g.psr
            .distribution
            .iter()
            .enumerate()
            .map(|(i, share)| (i as f64 + 0.5, 1.0, share * 100.0)),
    );
    html.push_str(&plot.finish(&[]));
}

/// The average spectrum of left, right, mid and side.
fn spectrum_plot(html: &mut String, g: &bounce_nodes::Inspection) {
    html.push_str("<h3>Average spectrum (1/6 octave)</h3>");
    let mut plot = Plot::new(
        "average spectrum",
        Axis::frequency(),
        Axis::linear(-100.0, -20.0, 10.0, " dB"),
    );
    let sp = &g.spectrum;
    for (class, values) in [
        ("c1", &sp.left),
        ("c2", &sp.right),
        ("c3", &sp.mid),
        ("c4", &sp.side),
    ] {
        plot.line(class, sp.bands.iter().copied().zip(values.iter().copied()));
    }
    html.push_str(&plot.finish(&[
        ("c1", "left"),
        ("c2", "right"),
        ("c3", "mid"),
        ("c4", "side"),
    ]));
}

/// Correlation over time, the vectorscope and the mono fold-down.
fn stereo_plots(html: &mut String, g: &bounce_nodes::Inspection, time: Axis) {
    let s = &g.series;
    write!(
        html,
        r#"<h3>Stereo: correlation over time (mean {:.2}, min {:.2}) and vectorscope</h3><div class="stereo">"#,
        g.correlation.mean, g.correlation.min
    )
    .unwrap();
    let mut plot = Plot::new("correlation", time, Axis::linear(-1.0, 1.0, 0.5, ""));
    plot.line(
        "c1",
        s.correlation.iter().enumerate().map(|(i, v)| (at(i), *v)),
    );
    html.push_str(&plot.finish(&[]));
    html.push_str(&vectorscope(bounce_nodes::SCOPE_CELLS, &g.vectorscope));
    write!(
        html,
        r#"</div><h3>Mono fold-down: {:.1} LU lost overall, per octave</h3>"#,
        g.mono_loss
    )
    .unwrap();
    let mut plot = Plot::new(
        "mono loss per octave",
        Axis::frequency(),
        Axis::linear(0.0, 12.0, 3.0, " LU"),
    );
    plot.bars(
        "bar",
        g.mono_loss_octaves
            .iter()
            .map(|(centre, loss)| (*centre, centre * 0.5, *loss)),
    );
    html.push_str(&plot.finish(&[]));
}

/// The track against its references, loudness-matched: the spectra over
/// each other, and per octave the differences in level and width.
fn references(html: &mut String, t: &TrackReport, g: &bounce_nodes::Inspection) {
    if t.references.is_empty() {
        return;
    }
    html.push_str("<h3>Against the references (loudness-matched)</h3>");
    let mut plot = Plot::new(
        "references",
        Axis::frequency(),
        Axis::linear(-100.0, -20.0, 10.0, " dB"),
    );
    let sp = &g.spectrum;
    plot.line("c1", sp.bands.iter().copied().zip(sp.mid.iter().copied()));
    let classes = ["c2", "c3", "c4"];
    let mut legend = vec![("c1", "this track".to_string())];
    for (i, r) in t.references.iter().enumerate() {
        let class = classes[i % classes.len()];
        plot.line(
            class,
            sp.bands.iter().copied().zip(r.matched_mid.iter().copied()),
        );
        legend.push((class, escape(&r.name)));
    }
    let legend: Vec<(&str, &str)> = legend.iter().map(|(c, l)| (*c, l.as_str())).collect();
    html.push_str(&plot.finish(&legend));
    html.push_str("<table><tr><th>reference</th><th>integrated</th><th>LRA</th><th>PLR</th><th>PSR median</th>");
    let octaves: Vec<f64> = t.references[0]
        .spectrum_difference
        .iter()
        .map(|(c, _)| *c)
        .collect();
    for centre in &octaves {
        write!(html, "<th>{}</th>", hz(*centre)).unwrap();
    }
    html.push_str("</tr>");
    for r in &t.references {
        write!(
            html,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.1}</td>"#,
            escape(&r.name),
            fig(r.integrated, "LUFS"),
            fig(r.lra, "LU"),
            fig(r.plr, "dB"),
            r.psr
        )
        .unwrap();
        for ((_, level), (_, width)) in r.spectrum_difference.iter().zip(&r.width_difference) {
            let (level, width) = (
                crate::words::rounded(*level, 1),
                crate::words::rounded(*width, 1),
            );
            write!(
                html,
                r#"<td class="n" title="width {width:+.1} dB">{level:+.1}</td>"#
            )
            .unwrap();
        }
        html.push_str("</tr>");
    }
    html.push_str(r#"</table><p class="meta">Per octave: this track's level less the reference's at the same loudness, dB (hover for the difference in width, side to mid).</p>"#);
}

/// Each lossy file against its lossless partner, and each preview the
/// report made of a lossless file: what decoding reads, what the codec
/// moved, the difference's spectrum and an excerpt of it.
fn codecs(html: &mut String, t: &TrackReport) {
    // (what is decoded, its legend, the comparison)
    let mut coded: Vec<(String, String, &super::codec::CodecReport)> = Vec::new();
    for f in &t.files {
        if let Some(c) = &f.codec {
            coded.push((f.path.clone(), f.deliverable.clone(), c));
        }
        for p in &f.previews {
            let codec = p.preview.clone().unwrap_or_default();
            // The legend names the codec and its settings, the rate aside.
            let short = codec.split(',').next().unwrap_or_default().to_string();
            coded.push((format!("{codec}, of {}", f.path), short, p));
        }
    }
    if coded.is_empty() {
        return;
    }
    html.push_str("<h3>Codec preview: each lossy file, and each preview asked for, decoded against its lossless partner</h3>");
    html.push_str("<table><tr><th>file</th><th>against</th><th>true peak decoded</th><th>overs (on sample / inter-sample)</th><th>loudness change</th><th>difference</th><th>under the music</th><th>listen to the difference</th></tr>");
    for (decoded, _, c) in &coded {
        write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{} / {}</td><td class="n">{:+.2} LU</td><td class="n">{}</td><td class="n">{:.1} dB</td><td>"#,
            escape(decoded),
            escape(&c.against),
            fig(c.true_peak, "dBTP"),
            c.overs.on_sample,
            c.overs.inter_sample,
            crate::words::rounded(c.loudness_change, 2),
            fig(c.difference_level, "dBFS"),
            c.difference_to_signal,
        )
        .unwrap();
        if let Some(audition) = &c.audition {
            write!(
                html,
                r#"<a href="{}">{}</a><br><span class="meta">{} from {}, raised {:.0} dB</span>"#,
                escape(audition),
                escape(audition),
                clock(c.audition_seconds),
                clock(c.audition_start),
                c.audition_gain_db
            )
            .unwrap();
        }
        html.push_str("</td></tr>");
    }
    html.push_str("</table>");
    // Room above the loudest band of difference (a low bitrate reaches
    // over −60 dB).
    let loudest = coded
        .iter()
        .flat_map(|(_, _, c)| c.spectrum.mid.iter().copied())
        .filter(|x| x.is_finite())
        .fold(-70.0f64, f64::max);
    let top = ((loudest / 10.0).ceil() * 10.0 + 10.0).max(-60.0);
    let mut plot = Plot::new(
        "codec difference spectrum",
        Axis::frequency(),
        Axis::linear(-140.0, top, 10.0, " dB"),
    );
    let classes = ["c1", "c2", "c3", "c4"];
    let mut legend = Vec::new();
    for (i, (_, legend_text, c)) in coded.iter().enumerate() {
        let class = classes[i % classes.len()];
        plot.line(
            class,
            c.spectrum
                .bands
                .iter()
                .copied()
                .zip(c.spectrum.mid.iter().copied()),
        );
        legend.push((class, escape(legend_text)));
    }
    let legend: Vec<(&str, &str)> = legend.iter().map(|(c, l)| (*c, l.as_str())).collect();
    html.push_str(&plot.finish(&legend));
    html.push_str(r#"<p class="meta">The spectrum of each lossy file's decoded audio less its lossless partner's (mid channel, 1/6 octave): what the codec removed or added, and where the loudest peaks needed it, the lossy file's own limiting, lower to leave the codec its room.</p>"#);
}

fn hz(centre: f64) -> String {
    if centre >= 1000.0 {
        format!("{}k", centre / 1000.0)
    } else {
        format!("{centre}")
    }
}

fn time_step(seconds: f64) -> f64 {
    [1.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0]
        .into_iter()
        .find(|step| seconds / step <= 12.0)
        .unwrap_or(600.0)
}

fn fig(value: f64, unit: &str) -> String {
    // Under 24-bit resolution (−144 dBFS) a level is none at all.
    if value.is_finite() && value > -144.0 {
        format!("{:.1} {unit}", crate::words::rounded(value, 1))
            .trim_end()
            .to_string()
    } else {
        "—".into()
    }
}

fn clock(seconds: f64) -> String {
    let whole = seconds.max(0.0);
    format!("{}:{:04.1}", (whole / 60.0) as u64, whole % 60.0)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
