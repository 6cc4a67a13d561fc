//! The `track` node: its sources, buses, fades and metadata, and the
//! routing between them.

use super::*;

/// The crossfade at a cut's seam unless `crossfade=` says: 10 ms, short
/// enough to keep a word whole, long enough that the seam does not click.
const DEFAULT_CROSSFADE: f64 = 0.01;

impl Reader {
    pub(super) fn read_track(&mut self, node: NodeView) {
        node.check_shape(&mut self.diags, &[], 2, true);
        let number = node
            .number_arg(
                &mut self.diags,
                0,
                "a track number",
                Range::integer(1.0, 9999.0),
            )
            .map(|n| n as u32);
        let title = node
            .string_arg(&mut self.diags, 1, "a title")
            .unwrap_or_default();
        let mut track = Track {
            number: number.unwrap_or(0),
            title,
            isrc: None,
            artist: None,
            composer: None,
            genre: None,
            sources: Vec::new(),
            buses: Vec::new(),
            mix: Vec::new(),
            length: None,
            fade_in: None,
            fade_out: None,
            gap: if number == Some(1) { 2.0 } else { 0.0 },
            chapters: Vec::new(),
            episode: Default::default(),
            date: None,
            span: node.name_span(),
        };
        let mut mix_seen = false;
        for child in node.children() {
            let name = child.name();
            let diags = &mut self.diags;
            match name {
                "isrc" | "artist" | "composer" | "genre" => {
                    read_track_text(diags, &mut track, &child)
                }
                "stem" | "tone" => {
                    if let Some(source) = self.read_source(child) {
                        track.sources.push(source);
                    }
                }
                "reference" => self.read_reference(child, number),
                "bus" => {
                    if let Some(bus) = self.read_bus(child) {
                        track.buses.push(bus);
                    }
                }
                "mix" => {
                    child.check_shape(diags, &[], 0, true);
                    if mix_seen {
                        diags.push(
                            ProjectDiagnostic::new(
                                &child.name_span(),
                                "a second `mix` in this track",
                            )
                            .code(Code::Duplicate),
                        );
                    }
                    mix_seen = true;
                    track.mix = self.read_chain(child);
                }
                "length" | "gap" => read_track_time(diags, &mut track, &child),
                "fade-in" | "fade-out" => read_fade(diags, &mut track, &child),
                "chapter" => read_chapter(diags, &mut track, &child),
                "description" | "episode" | "season" | "explicit" => {
                    read_episode_field(diags, &mut track.episode, &child)
                }
                "date" => track.date = read_date(diags, &child),
                other => self.unknown_node(child, other, TRACK_CHILDREN, "in `track`"),
            }
        }
        self.check_it_sounds(&track, number.is_some());
        self.check_routing(&track);
        self.check_ducking(&track);
        self.tracks.push(track);
    }

    /// A track renders something: it has a stem (said of a track whose
    /// number was read), and unless it says how long it is, one that is
    /// not muted.
    fn check_it_sounds(&mut self, track: &Track, numbered: bool) {
        if track.sources.is_empty() && numbered {
            self.error(
                Code::BadRouting,
                &track.span,
                format!("track {} has no stems", track.number),
            )
            .help = Some("add a `stem \"name\" \"file.wav\"` or a `tone`".into());
        } else if track.sources.iter().all(|s| s.mute) && track.length.is_none() {
            // Nothing sounds and nothing says how long: a file of no samples.
            self.error(
                Code::BadRouting,
                &track.span,
                format!(
                    "every stem of track {} is muted: it would deliver an empty file",
                    track.number
                ),
            )
            .help = Some("unmute a stem, or give the track a `length` of silence".into());
        }
    }

    /// `reference "Name" "path"`: an audio file the report compares the
    /// release's tracks (or, inside a track, that track) with.
    pub(super) fn read_reference(&mut self, node: NodeView, track: Option<u32>) {
        let diags = &mut self.diags;
        node.check_shape(diags, &[], 2, false);
        let Some(name) = node.string_arg(diags, 0, "a name") else {
            return;
        };
        let Some(path) = node.string_arg(diags, 1, "an audio file path") else {
            return;
        };
        let full = node.dir.join(&path);
        if let Some(what) = bounce_nodes::not_a_regular_file(&full) {
            let span = node.span_of(node.args()[1].span());
            diags.push(
                ProjectDiagnostic::new(&span, format!("reference {}: {what}", display_name(&full)))
                    .code(Code::BadAudio)
                    .label("not an audio file")
                    .help("paths are relative to the project file"),
            );
            return;
        }
        self.references.push(Reference {
            name,
            path: full,
            track,
        });
    }

    pub(super) fn read_source(&mut self, node: NodeView) -> Option<Source> {
        let diags = &mut self.diags;
        let is_tone = node.name() == "tone";
        let mut props = vec![
            "gain",
            "pan",
            "offset",
            "at",
            "start",
            "end",
            "mute",
            "fade-in",
            "fade-out",
            "crossfade",
        ];
        if is_tone {
            props.extend(["freq", "level", "length"]);
            node.check_shape(diags, &props, 1, true);
        } else {
            node.check_shape(diags, &props, 2, true);
        }
        let name = node.string_arg(diags, 0, "a name");
        let kind = if is_tone {
            SourceKind::Tone {
                freq: node.number_prop(diags, "freq", 1000.0, Range::positive("Hz")),
                level: node.number_prop(diags, "level", -18.0, Range::between(-200.0, 0.0, "dBFS")),
                length: node.number_prop(diags, "length", 30.0, Range::length()),
            }
        } else {
            let path = node.string_arg(diags, 1, "an audio file path")?;
            let full = node.dir.join(&path);
            if let Some(what) = bounce_nodes::not_a_regular_file(&full) {
                let span = node.span_of(node.args()[1].span());
                let missing = what == "not found";
                let help = match missing.then(|| nearest_file(&full)).flatten() {
                    Some(name) => {
                        let written = std::path::Path::new(&path).with_file_name(&name);
                        format!("did you mean \"{}\"?", written.display())
                    }
                    None => "paths are relative to the project file".into(),
                };
                diags.push(
                    ProjectDiagnostic::new(
                        &span,
                        match missing {
                            true => format!("audio file not found: {}", display_name(&full)),
                            false => format!("{}: {what}", display_name(&full)),
                        },
                    )
                    .code(Code::MissingFile)
                    .label(if missing {
                        "missing file"
                    } else {
                        "not an audio file"
                    })
                    .help(help),
                );
            } else if let Some(probed) = &mut self.probed {
                let verdict = probed.entry(full.clone()).or_insert_with(|| {
                    bounce_nodes::probe_file(&full)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                });
                if let Err(problem) = verdict {
                    // The caret shows which file; the message says what is wrong.
                    let problem = problem
                        .strip_prefix(&format!("{}: ", full.display()))
                        .unwrap_or(problem);
                    let span = node.span_of(node.args()[1].span());
                    diags.push(
                        ProjectDiagnostic::new(&span, format!("{path}: {problem}"))
                            .code(Code::BadAudio)
                            .label("bad audio file"),
                    );
                }
            }
            SourceKind::File(full)
        };
        if let SourceKind::Tone { freq, .. } = kind {
            let nyquist = self.release_rate() as f64 / 2.0;
            if freq >= nyquist {
                let span = node.span_of(
                    node.prop("freq")
                        .map(|e| e.span())
                        .unwrap_or(node.node.span()),
                );
                self.diags.push(
                    ProjectDiagnostic::new(
                        &span,
                        format!("a {freq} Hz tone is at or above Nyquist ({nyquist} Hz)"),
                    )
                    .code(Code::OutOfRange)
                    .label("too high"),
                );
            }
        }
        let offset = self.read_placement(&node);
        let trim = self.read_trim(&node);
        let diags = &mut self.diags;
        let source = Source {
            name: name?,
            kind,
            gain: node.number_prop(diags, "gain", 0.0, Range::between(-200.0, 60.0, "dB")),
            pan: node.number_prop(diags, "pan", 0.0, Range::between(-1.0, 1.0, "")),
            offset,
            trim,
            mute: node.bool_prop(diags, "mute", false),
            chain: self.read_chain_except(node, &["cut"]),
            span: node.name_span(),
        };
        Some(source)
    }

    /// Where a source starts on its track: `at=` (seconds or a clock
    /// time) or `offset=` (seconds), one of them.
    fn read_placement(&mut self, node: &NodeView) -> f64 {
        let diags = &mut self.diags;
        let offset = node.optional_number_prop(diags, "offset", Range::duration());
        let at = node.optional_time_prop(diags, "at", Range::duration());
        if let (Some(_), Some(_)) = (offset, at) {
            self.error(
                Code::Invalid,
                &node.name_span(),
                "a source starts once: give `at=` or `offset=`, not both",
            );
        }
        at.or(offset).unwrap_or(0.0)
    }

    /// `start=` and `end=`: the in and out points in the source.
    fn read_trim(&mut self, node: &NodeView) -> Trim {
        let diags = &mut self.diags;
        let start = node.optional_time_prop(diags, "start", Range::duration());
        let end = node.optional_time_prop(diags, "end", Range::duration());
        let fade = |diags: &mut Diagnostics, name| {
            node.optional_number_prop(diags, name, Range::duration())
        };
        let (fade_in, fade_out) = (fade(diags, "fade-in"), fade(diags, "fade-out"));
        let crossfade =
            node.optional_number_prop(diags, "crossfade", Range::between(0.0, 5.0, "s"));
        let mut trim = Trim {
            start: start.unwrap_or(0.0),
            end,
            fade_in: fade_in.unwrap_or(0.0),
            fade_out: fade_out.unwrap_or(0.0),
            ..Trim::default()
        };
        if trim.end.is_some_and(|end| end <= trim.start) {
            self.error(
                Code::OutOfRange,
                &node.name_span(),
                format!(
                    "`end` ({} s) must come after `start` ({} s)",
                    trim.end.unwrap_or(0.0),
                    trim.start
                ),
            );
        }
        trim.cuts = self.read_cuts(node, &trim, crossfade.unwrap_or(DEFAULT_CROSSFADE));
        if !trim.cuts.is_empty() {
            trim.crossfade = Some(crossfade.unwrap_or(DEFAULT_CROSSFADE));
        }
        trim
    }

    /// A stem's `cut from=TIME to=TIME` children: regions of the source
    /// removed, each inside the part it plays, after the one before, and
    /// no shorter than the crossfade at its seam, nor leaving less than
    /// that between two.
    fn read_cuts(&mut self, node: &NodeView, trim: &Trim, crossfade: f64) -> Vec<(f64, f64)> {
        let mut cuts: Vec<(f64, f64)> = Vec::new();
        for child in node.children().filter(|c| c.name() == "cut") {
            let diags = &mut self.diags;
            child.check_shape(diags, &["from", "to"], 0, false);
            let from = child.optional_time_prop(diags, "from", Range::duration());
            let to = child.optional_time_prop(diags, "to", Range::duration());
            let (Some(from), Some(to)) = (from, to) else {
                if child.prop("from").is_none() || child.prop("to").is_none() {
                    self.error(
                        Code::MissingValue,
                        &child.name_span(),
                        "a cut needs `from=` and `to=`: the region of the source it removes",
                    );
                }
                continue;
            };
            let after = cuts.last().map_or(trim.start, |(_, to)| *to);
            let problem = if to - from < crossfade {
                Some(format!(
                    "the cut from {from} s to {to} s is shorter than its {crossfade} s crossfade"
                ))
            } else if from - after < crossfade {
                Some(format!("the cut from {from} s starts less than a crossfade ({crossfade} s) after {after} s, where the stem's audio before it starts"))
            } else if trim.end.is_some_and(|end| end - to < crossfade) {
                Some(format!("the cut from {from} s to {to} s ends less than a crossfade before the stem's `end`"))
            } else {
                None
            };
            if let Some(problem) = problem {
                self.error(Code::OutOfRange, &child.name_span(), problem).help = Some(
                    "cuts are times in the source, in order, inside its start and end, each at least a crossfade long".into(),
                );
                continue;
            }
            cuts.push((from, to));
        }
        cuts
    }

    pub(super) fn release_rate(&self) -> u32 {
        self.release
            .as_ref()
            .map(|(r, _)| r.sample_rate)
            .unwrap_or(48000)
    }

    pub(super) fn read_bus(&mut self, node: NodeView) -> Option<Bus> {
        let diags = &mut self.diags;
        node.check_shape(diags, &["gain", "pan"], usize::MAX, true);
        let name = node.string_arg(diags, 0, "a name")?;
        let members = node.string_args(diags, 1);
        if members.is_empty() {
            diags.push(
                ProjectDiagnostic::new(&node.name_span(), format!("bus \"{name}\" has no members"))
                    .code(Code::BadRouting)
                    .help("list the stems or buses it sums: bus \"drums\" \"kick\" \"snare\""),
            );
        }
        Some(Bus {
            name,
            members,
            gain: node.number_prop(diags, "gain", 0.0, Range::between(-200.0, 60.0, "dB")),
            pan: node.number_prop(diags, "pan", 0.0, Range::between(-1.0, 1.0, "")),
            chain: self.read_chain(node),
            span: node.name_span(),
        })
    }

    /// Names unique, members known and in one bus only, no cycles.
    /// A `duck` sits in a stem's or a bus's chain and names other stems
    /// of its track that duck nothing themselves (so the stems it listens
    /// to render first, and no two wait on each other); the mix and a
    /// master take none.
    fn check_ducking(&mut self, track: &Track) {
        let ducks = |chain: &[ProcessorSpec]| chain.iter().any(|p| p.ducks_under().is_some());
        let stems_that_duck: Vec<&str> = track
            .sources
            .iter()
            .filter(|s| ducks(&s.chain))
            .map(|s| s.name.as_str())
            .collect();
        // Stems and buses may duck; each names stems.
        let duckers = track
            .sources
            .iter()
            .map(|s| (&s.name, &s.chain, &s.span))
            .chain(track.buses.iter().map(|b| (&b.name, &b.chain, &b.span)));
        for (own, chain, span) in duckers {
            for under in chain.iter().filter_map(ProcessorSpec::ducks_under) {
                for name in under {
                    let problem = if name == own {
                        Some(format!("\"{name}\" cannot duck under itself"))
                    } else if !track.sources.iter().any(|s| &s.name == name && !s.mute) {
                        Some(format!(
                            "duck names \"{name}\", which is no stem that plays in track {}",
                            track.number
                        ))
                    } else if stems_that_duck.contains(&name.as_str()) {
                        Some(format!("stem \"{name}\" ducks under others itself: a duck listens to stems that do not"))
                    } else {
                        None
                    };
                    if let Some(problem) = problem {
                        self.error(Code::BadRouting, span, problem).help = Some(
                            "name the voices the bed goes under: duck \"host\" \"guest\"".into(),
                        );
                    }
                }
            }
        }
        if ducks(&track.mix) {
            self.error(
                Code::BadRouting,
                &track.span,
                "a duck belongs in the chain of a stem or bus (the bed's), not the mix",
            )
            .help = Some("move it into the stem or bus that goes under the voices".into());
        }
    }

    pub(super) fn check_routing(&mut self, track: &Track) {
        let mut names: BTreeMap<&str, &Span> = BTreeMap::new();
        let all = track
            .sources
            .iter()
            .map(|s| (s.name.as_str(), &s.span))
            .chain(track.buses.iter().map(|b| (b.name.as_str(), &b.span)));
        for (name, span) in all {
            if let Some(first) = names.get(name) {
                let (line, _) = first.line_col();
                self.error(
                    Code::Duplicate,
                    span,
                    format!("\"{name}\" is defined twice in track {}", track.number),
                )
                .help = Some(format!("the first is on line {line}"));
            } else {
                names.insert(name, span);
            }
        }
        let known: Vec<&str> = names.keys().copied().collect();
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for bus in &track.buses {
            for (member, span) in &bus.members {
                if member == &bus.name {
                    self.error(
                        Code::BadRouting,
                        span,
                        format!("bus \"{}\" contains itself", bus.name),
                    );
                    continue;
                }
                if !names.contains_key(member.as_str()) {
                    let d = self.error(
                        Code::BadRouting,
                        span,
                        format!("unknown stem or bus \"{member}\" in bus \"{}\"", bus.name),
                    );
                    d.label = "not in this track".into();
                    d.help = nearest(member, &known).map(|s| format!("did you mean \"{s}\"?"));
                    continue;
                }
                if let Some(other) = owner.insert(member, &bus.name) {
                    self.error(
                        Code::BadRouting,
                        span,
                        format!(
                            "\"{member}\" is in two buses, \"{other}\" and \"{}\"",
                            bus.name
                        ),
                    )
                    .help = Some("a stem or bus feeds one bus at most".into());
                }
            }
        }
        // A cycle: following a bus's owner chain comes back to it.
        for bus in &track.buses {
            let mut current = bus.name.as_str();
            for _ in 0..=track.buses.len() {
                match owner.get(current) {
                    Some(next) if *next == bus.name => {
                        self.error(
                            Code::BadRouting,
                            &bus.span,
                            format!("bus \"{}\" feeds itself through a cycle", bus.name),
                        )
                        .label = "part of a cycle".into();
                        break;
                    }
                    Some(next) => current = next,
                    None => break,
                }
            }
        }
    }
}

/// The file beside a missing `path` whose name is closest to its name, if
/// one is close enough to be a typo (`tenr.aiff` for `tenor.aiff`).
fn nearest_file(path: &std::path::Path) -> Option<String> {
    let wanted = path.file_name()?.to_str()?;
    let names: Vec<String> = std::fs::read_dir(path.parent()?)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::suggest::nearest(wanted, &names).map(str::to_string)
}

/// `chapter "Title" at=TIME [url="…"]`: a chapter mark, after the one
/// before it.
fn read_chapter(diags: &mut Diagnostics, track: &mut Track, child: &NodeView) {
    child.check_shape(diags, &["at", "url"], 1, false);
    let Some(title) = child.string_arg(diags, 0, "a title") else {
        return;
    };
    let Some(start) = child.optional_time_prop(diags, "at", Range::duration()) else {
        if child.prop("at").is_none() {
            diags.push(
                ProjectDiagnostic::new(
                    &child.name_span(),
                    "a chapter needs `at=`: where it starts",
                )
                .code(Code::MissingValue)
                .help("write at=\"12:34.5\" (or seconds, at=754.5)"),
            );
        }
        return;
    };
    if let Some(last) = track.chapters.last().filter(|c| c.start >= start) {
        diags.push(
            ProjectDiagnostic::new(
                &child.name_span(),
                format!(
                    "chapter \"{title}\" starts at {start} s, not after \"{}\" at {} s",
                    last.title, last.start
                ),
            )
            .code(Code::OutOfRange)
            .help("write a track's chapters in the order they play"),
        );
        return;
    }
    let url = child.string_prop(diags, "url").map(|(url, _)| url);
    track
        .chapters
        .push(bounce_nodes::ChapterMark { title, start, url });
}

/// `date "YYYY-MM-DD"`: when an episode is published.
fn read_date(diags: &mut Diagnostics, child: &NodeView) -> Option<(i32, u32, u32)> {
    child.check_shape(diags, &[], 1, false);
    let text = child.string_arg(diags, 0, "a date")?;
    let parts: Vec<&str> = text.split('-').collect();
    let date = match parts[..] {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d))
                    if (1..=12).contains(&m) && (1..=days_in(y, m)).contains(&d) =>
                {
                    Some((y, m, d))
                }
                _ => None,
            }
        }
        _ => None,
    };
    if date.is_none() {
        let span = child.span_of(child.args()[0].span());
        diags.push(
            ProjectDiagnostic::new(&span, format!("\"{text}\" is not a date"))
                .code(Code::Invalid)
                .help("write it as YYYY-MM-DD, e.g. \"2026-12-07\""),
        );
    }
    date
}

/// Days in month `m` of year `y` (Gregorian).
fn days_in(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An episode's `description "…"`, `episode N`, `season N` or
/// `explicit #true`.
fn read_episode_field(
    diags: &mut Diagnostics,
    episode: &mut bounce_nodes::EpisodeText,
    child: &NodeView,
) {
    child.check_shape(diags, &[], 1, false);
    match child.name() {
        "description" => episode.description = child.string_arg(diags, 0, "a description"),
        "explicit" => {
            episode.explicit = match child.args().first().map(|a| a.value()) {
                Some(kdl::KdlValue::Bool(b)) => Some(*b),
                _ => {
                    diags.push(
                        ProjectDiagnostic::new(
                            &child.name_span(),
                            "explicit takes #true or #false",
                        )
                        .code(Code::Invalid),
                    );
                    None
                }
            }
        }
        name => {
            let number = child
                .number_arg(diags, 0, "a number", Range::integer(1.0, 100_000.0))
                .map(|n| n as u32);
            match name {
                "episode" => episode.number = number,
                _ => episode.season = number,
            }
        }
    }
}

/// `isrc`, `artist`, `composer` or `genre` of a track.
fn read_track_text(diags: &mut Diagnostics, track: &mut Track, child: &NodeView) {
    child.check_shape(diags, &[], 1, false);
    let Some(value) = child.string_arg(diags, 0, "a value") else {
        return;
    };
    match child.name() {
        "isrc" => match normalise_isrc(&value) {
            Ok(isrc) => track.isrc = Some(isrc),
            Err(why) => {
                let span = child.span_of(child.args()[0].span());
                diags.push(
                    ProjectDiagnostic::new(&span, format!("invalid ISRC \"{value}\""))
                        .code(Code::BadIdentifier)
                        .label("invalid ISRC")
                        .help(why),
                );
            }
        },
        "artist" => track.artist = Some(value),
        "composer" => track.composer = Some(value),
        _ => track.genre = Some(value),
    }
}

/// A track's `length` or its `gap` before it on a CD, in seconds.
fn read_track_time(diags: &mut Diagnostics, track: &mut Track, child: &NodeView) {
    child.check_shape(diags, &[], 1, false);
    let name = child.name();
    let range = match name {
        "length" => Range::length(),
        _ => Range::duration(),
    };
    let value = child.number_arg(diags, 0, "a duration in seconds", range);
    if name == "length" {
        track.length = value;
    } else if let Some(gap) = value {
        track.gap = gap;
    }
}

/// `fade-in` or `fade-out`: seconds and a curve.
fn read_fade(diags: &mut Diagnostics, track: &mut Track, child: &NodeView) {
    child.check_shape(diags, &["curve"], 1, false);
    let seconds = child.number_arg(diags, 0, "a duration in seconds", Range::duration());
    let curve = match child.choice_prop(diags, "curve", &["linear", "cos", "exp"]) {
        Some("linear") => FadeCurve::Linear,
        Some("exp") => FadeCurve::Exp,
        _ => FadeCurve::Cos,
    };
    let fade = seconds.map(|seconds| Fade { seconds, curve });
    if child.name() == "fade-in" {
        track.fade_in = fade;
    } else {
        track.fade_out = fade;
    }
}
