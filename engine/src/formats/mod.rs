//! Deliverable formats, registered once. A format is one file here
//! implementing [`Format`]: its name, extension, whether it is lossy, the
//! depths and rates it carries, the properties it reads, the writer that
//! makes and tags its files, and its line in the reference. The reader,
//! the plan, the renderer, the signal drawing and `docs/formats.md` all
//! ask [`FORMATS`]; adding a format is its file and one line in
//! `formats!` (a format with a container of its own also needs its writer
//! in bounce-nodes).

/// Declares every format once: its module (holding a type that
/// implements [`Format`]) and that type; from this list come the modules
/// and [`FORMATS`], in this order (the reference's). Adding a format is
/// its file and one line here.
macro_rules! formats {
    ($($module:ident :: $format:ident),* $(,)?) => {
        $(mod $module;)*

        /// Every deliverable format, in the order the reference lists them.
        pub static FORMATS: &[&dyn Format] = &[$(&$module::$format),*];
    };
}

formats! {
    wav::Wav,
    bwf::Bwf,
    aiff::Aiff,
    flac::Flac,
    mp3::Mp3,
    cd::Cd,
}

use bounce_nodes::{Container, Mp3Mode, Mp3Settings};

/// The format written `name` in a project.
pub fn by_name(name: &str) -> Option<&'static dyn Format> {
    FORMATS.iter().copied().find(|f| f.name() == name)
}

/// Whether `path` names a delivered audio file (by its format's
/// extension): what the report measures, not a CUE sheet.
pub fn is_audio(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| FORMATS.iter().any(|f| e == f.extension()))
}

/// Every format's name, as `format "…"` takes them.
pub fn names() -> Vec<&'static str> {
    FORMATS.iter().map(|f| f.name()).collect()
}

/// Properties of a `format` node that some format reads for its codec
/// (`bitrate=`, `quality=`, `lame-q=`), each once.
pub fn codec_properties() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for name in FORMATS.iter().flat_map(|f| f.codec_properties()) {
        if !all.contains(name) {
            all.push(name);
        }
    }
    all
}

/// What a `format` node asks for, as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked {
    pub bits: Option<u16>,
    pub float: bool,
    /// A standard rate (the reader refuses others before).
    pub rate: Option<u32>,
    pub bitrate: Option<f64>,
    pub quality: Option<f64>,
    /// LAME's `-q` (`lame-q=`).
    pub search: Option<f64>,
}

/// A property a format cannot take, and what to write instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub property: &'static str,
    pub message: String,
    pub help: String,
}

impl Refusal {
    fn new(property: &'static str, message: impl Into<String>, help: impl Into<String>) -> Self {
        Refusal {
            property,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// What a format makes of a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settled {
    pub bits: u16,
    pub float: bool,
    /// `None`: the format's [`Format::default_rate`].
    pub rate: Option<u32>,
    /// A lossy codec's settings.
    pub codec: Option<Mp3Settings>,
}

/// Depth when a PCM deliverable names none.
pub const DEFAULT_BITS: u16 = 24;

/// A deliverable file format.
pub trait Format: Sync {
    /// As a project writes it: `format "flac"`.
    fn name(&self) -> &'static str;
    /// As the signal drawing and the reference call it.
    fn title(&self) -> &'static str;
    /// What it is for, one sentence of the reference.
    fn summary(&self) -> &'static str;
    /// A `format` node that uses it, for the reference and its test.
    fn example(&self) -> &'static str;
    fn extension(&self) -> &'static str;
    /// Its MIME type, as a feed's enclosure names it.
    fn mime(&self) -> &'static str;
    /// The writer in bounce-nodes that makes and tags its files.
    fn container(&self) -> Container;
    /// Made by a lossy codec: measured decoded, no bit depth, and sharing
    /// no measurement with a PCM file of the same master.
    fn lossy(&self) -> bool {
        false
    }
    /// The whole release as one disc image and CUE sheet, rather than a
    /// file per track.
    fn disc_image(&self) -> bool {
        false
    }
    /// Carries a `bext` chunk (EBU Tech 3285) made from the release.
    fn bext(&self) -> bool {
        false
    }
    /// Carries a mono file (`channels=1`).
    fn carries_mono(&self) -> bool {
        true
    }
    /// Properties only this format reads, for its codec.
    fn codec_properties(&self) -> &'static [&'static str] {
        &[]
    }
    /// Depths it stores, for the reference (empty: the codec decides).
    fn depths(&self) -> &'static [u16];
    /// Rates it carries, for the reference (empty: any standard rate).
    fn rates(&self) -> &'static [u32] {
        &[]
    }
    /// Checks a request against what the format carries: its settings,
    /// or `None` where a refusal leaves nothing to build.
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled>;
    /// Its files' rate when the deliverable names none.
    fn default_rate(&self, release_rate: u32) -> u32 {
        release_rate
    }
    /// What a deliverable of it writes, for the signal drawing.
    fn describe(&self, settled: &Settled, rate: u32) -> String {
        format!(
            "{} {}-bit{}, {}",
            self.title(),
            settled.bits,
            if settled.float { " float" } else { "" },
            khz(rate)
        )
    }
}

fn khz(rate: u32) -> String {
    format!("{} kHz", rate as f64 / 1000.0)
}

/// Integer PCM at one of `depths` (16 or 24 for most containers), never
/// float: the check AIFF and FLAC share.
fn integer_pcm(title: &str, depths: &[u16], asked: &Asked, refusals: &mut Vec<Refusal>) -> Settled {
    let bits = asked.bits.unwrap_or(DEFAULT_BITS);
    if !depths.contains(&bits) {
        refusals.push(Refusal::new(
            "bits",
            format!("{title} deliverables are {} bits, not {bits}", list(depths)),
            format!(
                "use {}, or format \"wav\" for 32-bit",
                depths
                    .iter()
                    .map(|d| format!("bits={d}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    if asked.float {
        refusals.push(Refusal::new(
            "float",
            format!("{title} carries integer samples only"),
            "use format \"wav\" bits=32 float=#true",
        ));
    }
    Settled {
        bits,
        float: false,
        rate: asked.rate,
        codec: None,
    }
}

/// "16, 24 or 32".
fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let words: Vec<String> = items.iter().map(T::to_string).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

/// A deliverable's format as the plan and renderer see it: the
/// registered format and its codec's settings.
#[derive(Clone, Copy)]
pub struct FileFormat {
    pub kind: &'static dyn Format,
    /// How an MP3 is encoded; `None` for PCM.
    pub codec: Option<Mp3Settings>,
    /// 1 (the master folded down to mono) or 2.
    pub channels: u16,
}

impl FileFormat {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The format and its codec's settings in a name: `mp3-320`, `mp3-v2`,
    /// `mp3-320-q2` (a search other than its default).
    pub fn slug(&self) -> String {
        let Some(codec) = self.codec else {
            return self.name().to_string();
        };
        let mode = match codec.mode {
            Mp3Mode::Cbr(kbps) => format!("{}-{kbps}", self.name()),
            Mp3Mode::Vbr(quality) => format!("{}-v{quality}", self.name()),
        };
        if codec.is_default_search() {
            mode
        } else {
            format!("{mode}-q{}", codec.search)
        }
    }

    pub fn extension(&self) -> &'static str {
        self.kind.extension()
    }

    pub fn container(&self) -> Container {
        self.kind.container()
    }

    /// How the MP3 is encoded, for MP3s.
    pub fn mp3(&self) -> Option<Mp3Settings> {
        self.codec
    }

    /// A mono file: the master's fold-down, measured as one channel.
    pub fn mono(&self) -> bool {
        self.channels == 1
    }
}

impl PartialEq for FileFormat {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.codec == other.codec && self.channels == other.channels
    }
}

impl std::fmt::Debug for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.codec {
            Some(codec) => write!(f, "{} {codec:?}", self.name()),
            None => write!(f, "{}", self.name()),
        }
    }
}

/// The reference page: every format, what it carries, and an example.
pub fn reference() -> String {
    let mut out = String::from(
        "# Deliverable formats\n\n\
         Generated from bounce's format registry (`engine/src/formats/`); \
         each deliverable takes one `format` node. `bits=` and `float=` set \
         a PCM file's samples, `rate=` its sample rate (any standard rate \
         unless listed), `channels=1` a mono file (the master folded down, \
         (L + R) / 2, before its level and limiter; measured as BS.1770-4 \
         measures one channel, 3 dB under the same signal on both \
         speakers); a format refuses what it cannot carry.\n\n\
         | format | extension | lossy | bits | rates | channels | its own properties |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for f in FORMATS {
        let depths = if f.depths().is_empty() {
            "set by the codec".to_string()
        } else {
            list(f.depths())
        };
        let rates = if f.rates().is_empty() {
            "any".to_string()
        } else {
            list(f.rates())
        };
        let own: Vec<String> = f
            .codec_properties()
            .iter()
            .map(|p| format!("`{p}=`"))
            .collect();
        out.push_str(&format!(
            "| `{}` | `.{}` | {} | {depths} | {rates} | {} | {} |\n",
            f.name(),
            f.extension(),
            if f.lossy() { "yes" } else { "no" },
            if f.carries_mono() { "1 or 2" } else { "2" },
            if own.is_empty() {
                "—".into()
            } else {
                own.join(", ")
            },
        ));
    }
    for f in FORMATS {
        out.push_str(&format!(
            "\n## `{}`: {}\n\n{}\n\n```kdl\n{}\n```\n",
            f.name(),
            f.title(),
            f.summary(),
            f.example()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        assert_eq!(list(&[16, 24, 32]), "16, 24 or 32");
        assert_eq!(list(&[16, 24]), "16 or 24");
        assert_eq!(list(&[16]), "16");
    }

    #[test]
    fn names_are_unique_and_found() {
        for f in FORMATS {
            assert_eq!(FORMATS.iter().filter(|g| g.name() == f.name()).count(), 1);
            assert_eq!(by_name(f.name()).map(|g| g.title()), Some(f.title()));
        }
        assert!(by_name("ogg").is_none());
    }

    #[test]
    fn a_format_refuses_what_it_cannot_carry() {
        let mut refusals = Vec::new();
        let asked = Asked {
            bits: Some(32),
            float: true,
            ..Asked::default()
        };
        by_name("aiff").unwrap().settle(&asked, &mut refusals);
        let properties: Vec<_> = refusals.iter().map(|r| r.property).collect();
        assert_eq!(properties, ["bits", "float"]);
        refusals.clear();
        by_name("wav").unwrap().settle(&asked, &mut refusals);
        assert!(refusals.is_empty(), "{refusals:?}");
    }

    /// The integrated loudness and length of a file after its first `skip`
    /// frames, as decoded.
    fn measure_after(path: &std::path::Path, skip: usize) -> (f64, f64) {
        use bounce_nodes::{BlockSink, BlockSource};
        let mut file = bounce_nodes::DecodedFile::open(path).unwrap();
        let rate = file.info().sample_rate;
        let mut meter = bounce_nodes::LoudnessMeter::integrated_only(rate).unwrap();
        let (mut left, mut right) = (vec![0.0; 4096], vec![0.0; 4096]);
        let (mut at, mut frames) = (0, 0);
        loop {
            let n = file.read(&mut left, &mut right).unwrap();
            if n == 0 {
                break;
            }
            let from = skip.saturating_sub(at).min(n);
            at += n;
            if from < n {
                meter.write(&left[from..n], &right[from..n]).unwrap();
                frames += n - from;
            }
        }
        let loudness = meter.report().unwrap().integrated;
        (loudness, frames as f64 / rate as f64)
    }

    /// Every format in the registry is documented (docs/formats.md is the
    /// registry's reference, word for word), parsed from its own example,
    /// keyed (the step writing its files has a key of its own and carries
    /// the writer's version) and rendered (a real build writes a file that
    /// decodes at the format's rate and depth, at the master's loudness).
    #[test]
    fn every_registered_format_is_documented_parsed_keyed_and_rendered() {
        let docs_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/formats.md");
        let reference = reference();
        if std::env::var_os("BOUNCE_UPDATE_DOCS").is_some() {
            std::fs::write(docs_path, &reference).unwrap();
        }
        let docs = std::fs::read_to_string(docs_path).unwrap_or_default();
        assert!(
            docs == reference,
            "docs/formats.md differs from the registry: run the engine's tests with BOUNCE_UPDATE_DOCS=1"
        );
        let language = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md"));
        assert!(
            language.contains("formats.md"),
            "docs/language.md links the formats"
        );

        struct Silent;
        impl crate::build::Observer for Silent {}
        let mut keys = std::collections::BTreeMap::new();
        for format in FORMATS {
            let dir = tempfile::tempdir().unwrap();
            let text = format!(
                "release \"R\" {{ version \"1\"; sample-rate 48000; }}\n\
                 master \"m\" target=-16 ceiling=-1.0 {{ }}\n\
                 track 1 \"T\" {{ tone \"t\" freq=440 level=-12 length=5; }}\n\
                 deliverable \"d\" {{ master \"m\"; {}; }}\n",
                format.example()
            );
            let path = dir.path().join("bounce.kdl");
            std::fs::write(&path, text).unwrap();
            let project = crate::reader::load_project(&path)
                .unwrap_or_else(|e| panic!("{}'s example does not read: {e:?}", format.name()));
            let deliverable = &project.deliverables[0];
            assert_eq!(deliverable.format.kind.name(), format.name());

            let plan = crate::plan::plan(&project).unwrap();
            let writer = plan.outputs[0].step;
            let step = &plan.graph[writer];
            assert_eq!(
                crate::key::versions(&step.action).get("writer"),
                Some(&bounce_nodes::WRITER_VERSION),
                "{}'s writer version is not in its key",
                format.name()
            );
            let key = crate::key::step_key(step, 48000, &[], None);
            if let Some(other) = keys.insert(key, format.name()) {
                panic!("{} and {other} share a key", format.name());
            }

            let options = crate::build::BuildOptions {
                jobs: 1,
                ..Default::default()
            };
            let report = crate::build::build(&project, &options, &Silent)
                .unwrap_or_else(|e| panic!("{} does not build: {e:?}", format.name()));
            let file = report
                .written
                .iter()
                .find(|p| p.extension().is_some_and(|e| e == format.extension()))
                .unwrap_or_else(|| {
                    panic!("{} wrote no .{} file", format.name(), format.extension())
                });
            let info = bounce_nodes::probe_file(file).unwrap();
            let rate = deliverable.file_rate(48000);
            assert_eq!(info.sample_rate, rate, "{}'s rate", format.name());
            if format.lossy() {
                assert_eq!(info.bits, None, "{} has no depth", format.name());
            } else {
                assert_eq!(
                    info.bits,
                    Some(deliverable.bits as u32),
                    "{}'s depth",
                    format.name()
                );
                assert!(format.depths().contains(&deliverable.bits));
            }
            if !format.rates().is_empty() {
                assert!(format.rates().contains(&rate));
            }
            // A disc image starts with the Red Book's pregap of silence.
            let pregap = if format.disc_image() {
                (bounce_nodes::MIN_CD_PREGAP_SECONDS * rate as f64) as usize
            } else {
                0
            };
            let (loudness, seconds) = measure_after(file, pregap);
            assert!(
                (loudness - -16.0).abs() <= 0.1,
                "{} delivered at {loudness} LUFS",
                format.name(),
            );
            assert!(
                (5.0..5.1).contains(&seconds),
                "{}'s track lasts {seconds} s",
                format.name(),
            );
        }
    }
}
