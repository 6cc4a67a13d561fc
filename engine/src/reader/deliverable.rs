//! The `deliverable` node: its content, format, path, standard and
//! targets, and the Red Book's limits for a CD.

use super::*;
use crate::targets::{CEILING_RANGE, TARGET_RANGE};

/// What a `deliverable` node's children say, gathered before the
/// deliverable is made from them.
struct Fields {
    target: Option<f64>,
    ceiling: Option<f64>,
    standard: Option<Standard>,
    content: Option<(Content, Span)>,
    stem_spans: Vec<Span>,
    format: Option<FileFormat>,
    format_seen: bool,
    bits: u16,
    float: bool,
    rate: Option<u32>,
    dither: Option<Dither>,
    tracks: Option<Vec<u32>>,
    path: Option<String>,
    /// Where `report` made this the release report.
    report: Option<Span>,
    feed: Option<(FeedSpec, Span)>,
}

impl Reader {
    pub(super) fn read_deliverable(&mut self, node: NodeView) {
        let diags = &mut self.diags;
        node.check_shape(diags, &["target", "ceiling"], 1, true);
        let Some(name) = node.string_arg(diags, 0, "a name") else {
            return;
        };
        // `target=` and `ceiling=` may sit on the node or be child nodes.
        let mut fields = Fields {
            target: node.optional_number_prop(diags, "target", TARGET_RANGE),
            ceiling: node.optional_number_prop(diags, "ceiling", CEILING_RANGE),
            standard: None,
            content: None,
            stem_spans: Vec::new(),
            format: None,
            format_seen: false,
            bits: DEFAULT_BITS,
            float: false,
            rate: None,
            dither: None,
            tracks: None,
            path: None,
            report: None,
            feed: None,
        };
        for child in node.children() {
            self.read_deliverable_child(&mut fields, child);
        }
        match fields.report.clone() {
            Some(span) => self.add_report(name, &node, span, &fields),
            None => self.add_deliverable(name, &node, fields),
        }
    }

    fn read_deliverable_child(&mut self, fields: &mut Fields, child: NodeView) {
        let diags = &mut self.diags;
        match child.name() {
            "master" | "stems" => self.read_content(fields, &child),
            "format" => {
                fields.format_seen = true;
                if let Some((read, settled)) = read_format(diags, &child) {
                    fields.format = Some(read);
                    (fields.bits, fields.float, fields.rate) =
                        (settled.bits, settled.float, settled.rate);
                }
            }
            "dither" => {
                child.check_shape(diags, &[], 1, false);
                if let Some(kind) = child.string_arg(diags, 0, "a dither type") {
                    let span = child.span_of(child.args()[0].span());
                    let choices = ["tpdf", "shaped", "none"];
                    fields.dither = match choose(diags, &kind, &span, &choices, "dither") {
                        Some("tpdf") => Some(Dither::Tpdf),
                        Some("none") => Some(Dither::None),
                        Some(_) => Some(Dither::Shaped),
                        None => None,
                    };
                }
            }
            "tracks" => {
                child.check_shape(diags, &[], usize::MAX, false);
                let numbers = child.number_args(diags, 0, Range::integer(1.0, 9999.0));
                fields.tracks = Some(numbers.into_iter().map(|(n, _)| n as u32).collect());
            }
            "path" => {
                child.check_shape(diags, &[], 1, false);
                if let Some(template) = child.string_arg(diags, 0, "a path template") {
                    if let Err(why) = crate::template::check(&template) {
                        let span = child.span_of(child.args()[0].span());
                        let message = format!("invalid path template \"{template}\"");
                        diags.push(
                            ProjectDiagnostic::new(&span, message)
                                .code(Code::BadTemplate)
                                .help(why),
                        );
                    }
                    fields.path = Some(template);
                }
            }
            "standard" => {
                child.check_shape(diags, &[], 1, false);
                if let Some(name) = child.string_arg(diags, 0, "a standard") {
                    let span = child.span_of(child.args()[0].span());
                    fields.standard = choose(diags, &name, &span, Standard::NAMES, "standard")
                        .and_then(Standard::from_name);
                }
            }
            "target" => {
                child.check_shape(diags, &[], 1, false);
                fields.target = child.number_arg(diags, 0, "a level", TARGET_RANGE);
            }
            "ceiling" => {
                child.check_shape(diags, &[], 1, false);
                fields.ceiling = child.number_arg(diags, 0, "a level", CEILING_RANGE);
            }
            "feed" => fields.feed = read_feed(diags, &child),
            "report" => {
                child.check_shape(diags, &[], 0, true);
                fields.report = Some(child.name_span());
                for preview in child.children() {
                    self.read_preview(preview);
                }
            }
            other => self.unknown_node(child, other, DELIVERABLE_CHILDREN, "in `deliverable`"),
        }
    }

    /// What only a deliverable of a master's files can carry: a feed of
    /// its files as episodes (not of stems, nor of a CD image).
    fn check_feed(
        &mut self,
        feed: Option<(FeedSpec, Span)>,
        format: Option<FileFormat>,
        content: &Content,
    ) -> Option<FeedSpec> {
        let (feed, span) = feed?;
        let disc = format.is_some_and(|f| f.kind.disc_image());
        if matches!(content, Content::Stems(_)) || disc {
            self.error(
                Code::BadDeliverable,
                &span,
                "a feed lists a master's files as episodes: not stems, nor a CD image",
            )
            .help = Some("move `feed` into the deliverable of the episodes' files".into());
            return None;
        }
        Some(feed)
    }

    /// `master "name"` or `stems "a" "b"`: what the deliverable renders.
    fn read_content(&mut self, fields: &mut Fields, child: &NodeView) {
        let diags = &mut self.diags;
        let value = if child.name() == "master" {
            child.check_shape(diags, &[], 1, false);
            child
                .string_arg(diags, 0, "a master's name")
                .map(Content::Master)
        } else {
            child.check_shape(diags, &[], usize::MAX, false);
            let names = child.string_args(diags, 0);
            fields.stem_spans = names.iter().map(|(_, span)| span.clone()).collect();
            Some(Content::Stems(names.into_iter().map(|(n, _)| n).collect()))
        };
        if fields.content.is_some() {
            diags.push(
                ProjectDiagnostic::new(
                    &child.name_span(),
                    "a deliverable renders one master or one set of stems",
                )
                .code(Code::Invalid)
                .label("second source"),
            );
        }
        if let Some(value) = value {
            fields.content = Some((value, child.name_span()));
        }
    }

    /// A `preview` of the release report: a lossy format to measure.
    fn read_preview(&mut self, preview: NodeView) {
        if preview.name() != "preview" {
            let other = preview.name().to_string();
            self.unknown_node(preview, &other, &["preview"], "in `report`");
            return;
        }
        let Some((read, _)) = read_format(&mut self.diags, &preview) else {
            return;
        };
        if read.kind.lossy() {
            self.previews.push(read);
            return;
        }
        let lossy: Vec<&str> = formats::FORMATS
            .iter()
            .filter(|f| f.lossy())
            .map(|f| f.name())
            .collect();
        self.error(
            Code::BadDeliverable,
            &preview.span_of(preview.args()[0].span()),
            format!(
                "a codec preview is of a lossy format, not \"{}\"",
                read.name()
            ),
        )
        .help = Some(format!("preview \"{}\"", lossy.join("\" or \"")));
    }

    /// A deliverable holding `report`: the release report, which renders no
    /// audio of its own (it measures the rest).
    fn add_report(&mut self, name: String, node: &NodeView, span: Span, fields: &Fields) {
        if fields.content.is_some() || fields.format_seen {
            self.error(
                Code::Invalid,
                &span,
                format!("deliverable \"{name}\" is the release report: it holds only `report`"),
            )
            .help = Some("give the report a deliverable of its own".into());
        } else if self.reports.contains(&name) || self.deliverables.iter().any(|d| d.name == name) {
            self.error(
                Code::Duplicate,
                &node.name_span(),
                format!("deliverable \"{name}\" is defined twice"),
            );
        } else {
            self.reports.push(name);
        }
    }

    /// The deliverable the fields make, once it renders something in a
    /// format and its name is its own.
    fn add_deliverable(&mut self, name: String, node: &NodeView, fields: Fields) {
        let Some((content, content_span)) = fields.content else {
            self.error(
                Code::BadDeliverable,
                &node.name_span(),
                format!("deliverable \"{name}\" renders nothing"),
            )
            .help = Some("add `master \"name\"` or `stems \"a\" \"b\"`".into());
            return;
        };
        // One file per stem per track: the default path names the stem;
        // one image for the release.
        let feed = self.check_feed(fields.feed.clone(), fields.format, &content);
        let path = fields.path.clone().unwrap_or_else(|| {
            if matches!(content, Content::Stems(_)) {
                DEFAULT_STEMS_PATH.to_string()
            } else if fields.format.is_some_and(|f| f.kind.disc_image()) {
                DEFAULT_CD_PATH.to_string()
            } else {
                DEFAULT_PATH.to_string()
            }
        });
        if let Some(first) = self.deliverables.iter().find(|d| d.name == name) {
            let (line, _) = first.span.line_col();
            self.error(
                Code::Duplicate,
                &node.name_span(),
                format!("deliverable \"{name}\" is defined twice"),
            )
            .help = Some(format!("the first is at {}:{line}", first.span.file.name));
        }
        let Some(format) = fields.format else {
            // A format that was written but invalid has been reported already.
            if !fields.format_seen {
                self.error(
                    Code::MissingValue,
                    &node.name_span(),
                    format!("deliverable \"{name}\" has no format"),
                )
                .help = Some("add `format \"wav\" bits=24`".into());
            }
            return;
        };
        self.deliverables.push(Deliverable {
            feed,
            name,
            content,
            content_span,
            stem_spans: fields.stem_spans,
            format,
            bits: fields.bits,
            float: fields.float,
            rate: fields.rate,
            dither: fields.dither.unwrap_or(Dither::Tpdf),
            tracks: fields.tracks,
            path,
            standard: fields.standard,
            target: fields.target,
            ceiling: fields.ceiling,
            span: node.name_span(),
        });
    }

    /// The Red Book limits a CD deliverable's project file can break: what
    /// it renders, its track count, the pregap and any fixed track length
    /// (rendered lengths are checked when the image is made).
    pub(super) fn red_book_errors(&self, deliverable: &Deliverable) -> Vec<ProjectDiagnostic> {
        use bounce_nodes::{MAX_CD_TRACKS, MIN_CD_PREGAP_SECONDS, MIN_CD_TRACK_SECONDS};
        let mut errors = Vec::new();
        if matches!(deliverable.content, Content::Stems(_)) {
            errors.push(
                ProjectDiagnostic::new(
                    &deliverable.content_span,
                    "a CD image renders a master, not stems",
                )
                .code(Code::BadDeliverable)
                .help("use `master \"name\"` in a deliverable with format \"cd\""),
            );
        }
        let on_disc: Vec<&Track> = self
            .tracks
            .iter()
            .filter(|t| {
                deliverable
                    .tracks
                    .as_ref()
                    .is_none_or(|s| s.contains(&t.number))
            })
            .collect();
        if on_disc.len() > MAX_CD_TRACKS {
            errors.push(
                ProjectDiagnostic::new(
                    &deliverable.span,
                    format!("{} tracks do not fit a CD", on_disc.len()),
                )
                .code(Code::BadDeliverable)
                .help(format!(
                    "a Red Book CD holds at most {MAX_CD_TRACKS} tracks; pick some with `tracks`"
                )),
            );
        }
        if let Some(first) = on_disc.first().filter(|t| t.gap < MIN_CD_PREGAP_SECONDS) {
            errors.push(
                ProjectDiagnostic::new(
                    &first.span,
                    format!(
                        "track {} opens the CD with a {} s gap",
                        first.number, first.gap
                    ),
                ).code(Code::BadDeliverable)
                .help(format!("a Red Book CD has at least {MIN_CD_PREGAP_SECONDS} s before its first track: `gap 2`")),
            );
        }
        for track in &on_disc {
            if let Some(length) = track.length.filter(|l| *l < MIN_CD_TRACK_SECONDS) {
                errors.push(
                    ProjectDiagnostic::new(
                        &track.span,
                        format!(
                            "track {} lasts {length} s, too short for a CD",
                            track.number
                        ),
                    )
                    .code(Code::BadDeliverable)
                    .help(format!(
                        "a Red Book CD track lasts at least {MIN_CD_TRACK_SECONDS} s"
                    )),
                );
            }
        }
        errors
    }
}

/// `feed base-url="https://…" [path="…"] [image="https://…"]`.
fn read_feed(diags: &mut Diagnostics, child: &NodeView) -> Option<(FeedSpec, Span)> {
    child.check_shape(diags, &["base-url", "path", "image"], 0, false);
    let url = |diags: &mut Diagnostics, name: &str| -> Option<String> {
        let (url, span) = child.string_prop(diags, name)?;
        if url.starts_with("https://") || url.starts_with("http://") {
            return Some(url);
        }
        diags.push(
            ProjectDiagnostic::new(&span, format!("\"{url}\" is not an http(s) URL"))
                .code(Code::Invalid)
                .help(
                    "write the address listeners' apps fetch, e.g. \"https://example.com/show/\"",
                ),
        );
        None
    };
    let Some(mut base_url) = url(diags, "base-url") else {
        if child.prop("base-url").is_none() {
            diags.push(
                ProjectDiagnostic::new(
                    &child.name_span(),
                    "a feed needs `base-url=`: where the version folder is published",
                )
                .code(Code::MissingValue)
                .help("write feed base-url=\"https://example.com/show/\""),
            );
        }
        return None;
    };
    if !base_url.ends_with('/') {
        base_url.push('/');
    }
    let image = url(diags, "image");
    let path = match child.string_prop(diags, "path") {
        Some((template, span)) => {
            if let Err(why) = crate::template::check(&template) {
                diags.push(
                    ProjectDiagnostic::new(&span, format!("invalid path template \"{template}\""))
                        .code(Code::BadTemplate)
                        .help(why),
                );
            }
            template
        }
        None => DEFAULT_FEED_PATH.to_string(),
    };
    Some((
        FeedSpec {
            base_url,
            path,
            image,
        },
        child.name_span(),
    ))
}

/// A `format` node, read and checked against what the format can carry:
/// the format and its codec's settings, and the samples it settled on.
pub(super) fn read_format(
    diags: &mut Diagnostics,
    child: &NodeView,
) -> Option<(FileFormat, formats::Settled)> {
    let codec_properties = formats::codec_properties();
    let mut properties = vec!["bits", "float", "rate", "channels"];
    properties.extend(&codec_properties);
    child.check_shape(diags, &properties, 1, false);
    let kind = child.string_arg(diags, 0, "a format")?;
    let kind_span = child.span_of(child.args()[0].span());
    let kind = choose(diags, &kind, &kind_span, &formats::names(), "format")?;
    let kind = formats::by_name(kind).expect("chosen from the registry");
    let prop_span = |name: &str| {
        child.span_of(
            child
                .prop(name)
                .map(|e| e.span())
                .unwrap_or(child.node.span()),
        )
    };
    let mut asked = formats::Asked {
        bits: child
            .optional_number_prop(diags, "bits", Range::integer(8.0, 64.0))
            .map(|b| b as u16),
        float: child.bool_prop(diags, "float", false),
        rate: None,
        bitrate: child.optional_number_prop(diags, "bitrate", Range::integer(8.0, 640.0)),
        quality: child.optional_number_prop(diags, "quality", Range::integer(0.0, 9.0)),
        search: child.optional_number_prop(diags, "lame-q", Range::integer(0.0, 9.0)),
    };
    if let Some(r) = child.optional_number_prop(diags, "rate", Range::integer(1.0, 768000.0)) {
        if SAMPLE_RATES.contains(&(r as u32)) {
            asked.rate = Some(r as u32);
        } else {
            diags.push(
                ProjectDiagnostic::new(
                    &prop_span("rate"),
                    format!("{r} Hz is not a standard sample rate"),
                )
                .code(Code::OutOfRange)
                .label("unsupported rate"),
            );
        }
    }
    let mut refusals = Vec::new();
    // A codec's property on a format without that codec.
    for name in codec_properties {
        if child.prop(name).is_some() && !kind.codec_properties().contains(&name) {
            let takers = formats::FORMATS
                .iter()
                .filter(|f| f.codec_properties().contains(&name));
            let titles: Vec<&str> = takers.clone().map(|f| f.title()).collect();
            let names: Vec<&str> = takers.map(|f| f.name()).collect();
            refusals.push(formats::Refusal {
                property: name,
                message: format!("`{name}` applies to {} only", titles.join(" and ")),
                help: format!("remove it, or use format \"{}\"", names.join("\" or \"")),
            });
        }
    }
    let channels = child
        .optional_number_prop(diags, "channels", Range::integer(1.0, 2.0))
        .map_or(2, |c| c as u16);
    if channels == 1 && !kind.carries_mono() {
        refusals.push(formats::Refusal {
            property: "channels",
            message: format!("{} is stereo only", kind.title()),
            help: "remove channels=1: a CD plays two channels".into(),
        });
    }
    let settled = kind.settle(&asked, &mut refusals);
    for refusal in refusals {
        diags.push(
            ProjectDiagnostic::new(&prop_span(refusal.property), refusal.message)
                .code(Code::BadDeliverable)
                .help(refusal.help),
        );
    }
    let settled = settled?;
    let format = FileFormat {
        kind,
        codec: settled.codec,
        channels,
    };
    Some((format, settled))
}
