//! Chains: each processor as the registry describes it, and the ones
//! whose nodes hold more than numbers (EQ bands, multiband bands,
//! automation points, the compressor's choices).

use super::*;

/// The most processors one chain holds: each costs a pass over its
/// audio, and a chain of thousands is a mistake (docs/language.md,
/// "Limits").
pub const MAX_CHAIN_LENGTH: usize = 64;

/// The most crossovers a `multiband` takes: each band passes an allpass
/// of every crossover above it, so the cost grows with their square.
/// Mastering uses two to four.
pub const MAX_CROSSOVERS: usize = 8;

impl Reader {
    pub(super) fn read_chain(&mut self, node: NodeView) -> Vec<ProcessorSpec> {
        self.read_chain_except(node, &[])
    }

    /// A node's chain, its children named in `others` left for the
    /// caller (a stem's `cut`s).
    pub(super) fn read_chain_except(
        &mut self,
        node: NodeView,
        others: &[&str],
    ) -> Vec<ProcessorSpec> {
        let mut chain = Vec::new();
        let children = node.children().filter(|c| !others.contains(&c.name()));
        for (i, child) in children.enumerate() {
            if i == MAX_CHAIN_LENGTH {
                self.error(
                    Code::OutOfRange,
                    &child.name_span(),
                    format!("a chain holds at most {MAX_CHAIN_LENGTH} processors"),
                )
                .help = Some("split the work across a bus, the mix and the master".into());
                break;
            }
            if let Some(spec) = self.read_processor(child) {
                chain.push(spec);
            }
        }
        chain
    }

    /// A processor of a chain, as its registry entry describes it.
    pub(super) fn read_processor(&mut self, node: NodeView) -> Option<ProcessorSpec> {
        let name = node.name();
        let Some(kind) = registry::kind(name).filter(|k| k.in_chain) else {
            self.unknown_node(node, name, &registry::chain_names(), "in a chain");
            return None;
        };
        if let Some(build) = kind.build {
            return self.read_numbers(node, kind, &[]).map(|v| build(&v));
        }
        match kind.name {
            "eq" => {
                node.check_shape(&mut self.diags, &[], 0, true);
                let bands: Vec<EqBand> = node
                    .children()
                    .filter_map(|band| self.read_eq_band(band))
                    .collect();
                Some(ProcessorSpec::Eq { bands })
            }
            "compress" => self
                .read_compressor(node, &[])
                .map(|params| ProcessorSpec::Compress { params }),
            "multiband" => self.read_multiband(node),
            "automate" => self.read_automation(node),
            "denoise" => self.read_denoise(node, kind),
            "duck" => self.read_duck(node, kind),
            other => unreachable!("{other} is registered with neither a build nor a reader"),
        }
    }

    /// A node's numbers as `kind` states them (its argument, then its
    /// properties with their defaults, each in its range), its shape
    /// checked against them and `extra` properties; `None` if a required
    /// number is missing or wrong (said already).
    pub(super) fn read_numbers(
        &mut self,
        node: NodeView,
        kind: &Kind,
        extra: &[&str],
    ) -> Option<Vec<f64>> {
        let diags = &mut self.diags;
        let props: Vec<&str> = kind
            .params
            .iter()
            .filter_map(|p| p.name)
            .chain(kind.other_props.iter().copied())
            .chain(extra.iter().copied())
            .collect();
        let args = kind.params.iter().filter(|p| p.name.is_none()).count();
        node.check_shape(diags, &props, args, false);
        self.numbers_of(node, kind)
    }

    /// A node's numbers as `kind` states them, each in its range (its
    /// shape checked by the caller); `None` if one is missing or wrong.
    fn numbers_of(&mut self, node: NodeView, kind: &Kind) -> Option<Vec<f64>> {
        let diags = &mut self.diags;
        let mut values = Vec::with_capacity(kind.params.len());
        for (index, p) in kind.params.iter().enumerate() {
            let range = Range::between(p.min, p.max, p.unit);
            let value = match (p.name, p.default) {
                (Some(name), Some(default)) => Some(node.number_prop(diags, name, default, range)),
                (Some(name), None) => node.optional_number_prop(diags, name, range),
                (None, _) => node.number_arg(diags, index, p.meaning, range),
            };
            values.push(value);
        }
        values.into_iter().collect()
    }

    /// `duck "a" "b" …`: the stems it ducks under, and its numbers.
    fn read_duck(&mut self, node: NodeView, kind: &Kind) -> Option<ProcessorSpec> {
        let props: Vec<&str> = kind.params.iter().filter_map(|p| p.name).collect();
        node.check_shape(&mut self.diags, &props, usize::MAX, false);
        let under: Vec<String> = node
            .string_args(&mut self.diags, 0)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if under.is_empty() {
            self.error(
                Code::MissingValue,
                &node.name_span(),
                "duck needs the stems it ducks under: duck \"host\" \"guest\"",
            );
            return None;
        }
        let numbers = self.numbers_of(node, kind);
        let [depth, threshold, attack, hold, release] = numbers?[..] else {
            unreachable!("duck has five numbers")
        };
        Some(ProcessorSpec::Duck {
            params: DuckParams {
                under,
                depth,
                threshold,
                attack,
                hold,
                release,
            },
            key: None,
        })
    }

    /// `denoise`: its amount and the region its noise profile is learnt
    /// from, `profile="FROM-TO"` (seconds or clock times).
    fn read_denoise(&mut self, node: NodeView, kind: &Kind) -> Option<ProcessorSpec> {
        let numbers = self.read_numbers(node, kind, &[]);
        let Some((text, span)) = node.string_prop(&mut self.diags, "profile") else {
            self.error(
                Code::MissingValue,
                &node.name_span(),
                "denoise needs profile=\"FROM-TO\": where the recording holds noise alone",
            )
            .help = Some(
                "name a pause or the room before the first word, e.g. profile=\"0:00.0-0:00.8\""
                    .into(),
            );
            return None;
        };
        let region = text.split_once('-').and_then(|(from, to)| {
            let time = |t: &str| {
                let t = t.trim();
                t.parse::<f64>()
                    .ok()
                    .filter(|s| *s >= 0.0)
                    .or_else(|| kdl_view::clock_seconds(t))
            };
            Some((time(from)?, time(to)?))
        });
        let Some((from, to)) = region.filter(|(from, to)| to - from >= 0.1) else {
            self.error(
                Code::OutOfRange,
                &span,
                format!("profile \"{text}\" is not a region of at least 0.1 s"),
            )
            .help = Some(
                "write FROM-TO in seconds or clock times, e.g. \"0:00.0-0:00.8\" or \"12.5-13.2\""
                    .into(),
            );
            return None;
        };
        let params = DenoiseParams {
            amount: numbers?[0],
            from,
            to,
        };
        Some(ProcessorSpec::Denoise {
            params,
            profile: None,
        })
    }

    /// `compress`'s properties (also a multiband `band`'s, with `extra`).
    pub(super) fn read_compressor(
        &mut self,
        node: NodeView,
        extra: &[&str],
    ) -> Option<CompressorParams> {
        let kind = registry::kind("compress").expect("compress is registered");
        let numbers = self.read_numbers(node, kind, extra)?;
        let diags = &mut self.diags;
        let detect = match node.choice_prop(diags, "detect", &["peak", "rms"]) {
            Some("rms") => Detect::Rms,
            _ => Detect::Peak,
        };
        let link = node.bool_prop(diags, "link", true);
        Some(CompressorParams::from_numbers(&numbers, detect, link))
    }

    pub(super) fn read_multiband(&mut self, node: NodeView) -> Option<ProcessorSpec> {
        let nyquist = self.release_rate() as f64 / 2.0;
        let diags = &mut self.diags;
        node.check_shape(diags, &[], usize::MAX, true);
        let range = Range {
            max: nyquist * 0.9,
            ..Range::positive("Hz")
        };
        let crossovers = node.number_args(diags, 0, range);
        if crossovers.is_empty() {
            diags.push(
                ProjectDiagnostic::new(
                    &node.name_span(),
                    "`multiband` needs its crossover frequencies",
                )
                .code(Code::MissingValue)
                .help("e.g. `multiband 120 2000 8000 { band …; band …; band …; band … }`"),
            );
            return None;
        }
        if let Some((_, span)) = crossovers.get(MAX_CROSSOVERS) {
            diags.push(
                ProjectDiagnostic::new(
                    span,
                    format!(
                        "`multiband` takes at most {MAX_CROSSOVERS} crossovers ({} bands); {} are given",
                        MAX_CROSSOVERS + 1,
                        crossovers.len()
                    ),
                )
                .code(Code::OutOfRange)
                .label("one too many")
                .help("mastering splits into two to five bands"),
            );
            return None;
        }
        for pair in crossovers.windows(2) {
            if pair[1].0 <= pair[0].0 {
                diags.push(
                    ProjectDiagnostic::new(&pair[1].1, "crossovers must rise from low to high")
                        .code(Code::OutOfRange)
                        .label("not above the one before"),
                );
            }
        }
        let mut bands = Vec::new();
        for child in node.children() {
            if child.name() != "band" {
                self.unknown_node(child, child.name(), &["band"], "in `multiband`");
                continue;
            }
            let Some(compressor) = self.read_compressor(child, &["gain"]) else {
                continue;
            };
            let gain = child.number_prop(
                &mut self.diags,
                "gain",
                0.0,
                Range::between(-60.0, 24.0, "dB"),
            );
            bands.push(BandParams { compressor, gain });
        }
        // A crossover that did not read has its own error already.
        let given = node.args().len();
        if crossovers.len() != given {
            return None;
        }
        if bands.len() != given + 1 {
            self.diags.push(
                ProjectDiagnostic::new(
                    &node.name_span(),
                    format!(
                        "{} make {}, but {} given",
                        count(given, "crossover"),
                        count(given + 1, "band"),
                        match bands.len() {
                            1 => "1 `band` is".to_string(),
                            n => format!("{n} `band`s are"),
                        }
                    ),
                )
                .code(Code::Invalid)
                .label("band count"),
            );
            return None;
        }
        Some(ProcessorSpec::Multiband {
            crossovers: crossovers.into_iter().map(|(f, _)| f).collect(),
            bands,
        })
    }

    pub(super) fn read_automation(&mut self, node: NodeView) -> Option<ProcessorSpec> {
        let diags = &mut self.diags;
        node.check_shape(diags, &[], 1, true);
        let name = node.string_arg(diags, 0, "a parameter: \"gain\" or \"pan\"")?;
        let span = node.span_of(node.args()[0].span());
        let parameter = match choose(
            diags,
            &name,
            &span,
            &["gain", "pan"],
            "automation parameter",
        )? {
            "gain" => Parameter::Gain,
            _ => Parameter::Pan,
        };
        let values = match parameter {
            Parameter::Gain => Range::between(-200.0, 24.0, "dB"),
            Parameter::Pan => Range::between(-1.0, 1.0, ""),
        };
        let mut points = Vec::new();
        for child in node.children() {
            if child.name() != "at" {
                self.unknown_node(child, child.name(), &["at"], "in `automate`");
                continue;
            }
            let diags = &mut self.diags;
            child.check_shape(diags, &[], 2, false);
            let time = child.number_arg(diags, 0, "a time in seconds", Range::duration());
            let value = child.number_arg(diags, 1, "a value", values);
            if let (Some(time), Some(value)) = (time, value) {
                points.push(Breakpoint { time, value });
            }
        }
        if points.is_empty() {
            self.diags.push(
                ProjectDiagnostic::new(&node.name_span(), "`automate` has no breakpoints")
                    .code(Code::MissingValue)
                    .help("add `at SECONDS VALUE` lines: automate \"gain\" { at 0 -60; at 2 0 }"),
            );
            return None;
        }
        Some(ProcessorSpec::Automate {
            parameter,
            points,
            law: PanLaw::Auto,
        })
    }

    pub(super) fn read_eq_band(&mut self, node: NodeView) -> Option<EqBand> {
        let name = node.name();
        if !EQ_BANDS.contains(&name) {
            self.unknown_node(node, name, EQ_BANDS, "in `eq`");
            return None;
        }
        let nyquist = self.release_rate() as f64 / 2.0;
        let diags = &mut self.diags;
        let props: &[&str] = match name {
            "highpass" | "lowpass" => &["slope"],
            "notch" => &["q"],
            _ => &["gain", "q"],
        };
        node.check_shape(diags, props, 1, false);
        let freq_range = Range {
            max: nyquist * 0.99,
            ..Range::positive("Hz")
        };
        let freq = node.number_arg(diags, 0, "a frequency in Hz", freq_range);
        let q_range = Range::between(0.05, 50.0, "");
        let gain_range = Range::between(-30.0, 30.0, "dB");
        let band = match name {
            "highpass" | "lowpass" => {
                let slope = node.number_prop(diags, "slope", 12.0, Range::integer(12.0, 48.0));
                if ![12.0, 24.0, 48.0].contains(&slope) {
                    let span = node.span_of(node.prop("slope").expect("read").span());
                    diags.push(
                        ProjectDiagnostic::new(&span, format!("slope={slope} is not available"))
                            .code(Code::UnknownValue)
                            .help("slope is 12, 24 or 48 (dB per octave)"),
                    );
                }
                let slope = slope as u32;
                if name == "highpass" {
                    EqBand::Highpass { freq: freq?, slope }
                } else {
                    EqBand::Lowpass { freq: freq?, slope }
                }
            }
            "notch" => EqBand::Notch {
                freq: freq?,
                q: node.number_prop(diags, "q", 10.0, q_range),
            },
            "bell" => EqBand::Bell {
                freq: freq?,
                gain: node.number_prop(diags, "gain", 0.0, gain_range),
                q: node.number_prop(diags, "q", 1.0, q_range),
            },
            shelf => {
                let (gain, q) = (
                    node.number_prop(diags, "gain", 0.0, gain_range),
                    node.number_prop(diags, "q", 0.707, q_range),
                );
                if shelf == "low-shelf" {
                    EqBand::LowShelf {
                        freq: freq?,
                        gain,
                        q,
                    }
                } else {
                    EqBand::HighShelf {
                        freq: freq?,
                        gain,
                        q,
                    }
                }
            }
        };
        Some(band)
    }
}
