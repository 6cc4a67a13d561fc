//! What each target runs an input through.

use std::path::Path;

/// A reader of untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A project file, read and checked as `bounce check` does.
    Kdl,
    /// A deliverable's path template, checked and rendered.
    Template,
    /// A WAV or AIFF header, walked chunk by chunk as `check` probes it.
    Chunks,
    /// Cover art (JPEG or PNG), as the release's `cover` reads it.
    Cover,
    /// A source file, decoded whole.
    Decode,
}

/// Frames a decode run reads at most: a header may promise hours.
const MAX_FRAMES: usize = 1 << 20;

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Kdl,
        Target::Template,
        Target::Chunks,
        Target::Cover,
        Target::Decode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Kdl => "kdl",
            Target::Template => "template",
            Target::Chunks => "chunks",
            Target::Cover => "cover",
            Target::Decode => "decode",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Tokens a text target's mutations insert whole.
    pub fn dictionary(self) -> &'static [&'static str] {
        match self {
            Target::Kdl => &[
                "{",
                "}",
                "\"",
                ";",
                "=",
                "\n",
                "/-",
                "#true",
                "#null",
                "r#\"",
                "\"#",
                "release ",
                "track ",
                "stem ",
                "bus ",
                "mix ",
                "master ",
                "deliverable ",
                "include ",
                "reference ",
                "eq ",
                "compress ",
                "limit ",
                "multiband ",
                "automate ",
                "at ",
                "gain=",
                "pan=",
                "target=",
                "ceiling=",
                "rate=",
                "bits=",
                "path=",
                "1e400",
                "-0",
                "nan",
                "0x",
                "\u{feff}",
                "\u{202e}",
                "{track:070000}",
                "../",
                "/",
            ],
            Target::Template => &[
                "{",
                "}",
                "{track}",
                "{track:02}",
                "{track:0",
                "{title}",
                "{isrc}",
                "{release}",
                "{artist}",
                "{version}",
                "{deliverable}",
                "{stem}",
                "{ext}",
                "{rev}",
                "/",
                "\\",
                "..",
                ".",
                ":",
                "\0",
                "\u{202e}",
                "9999999999",
            ],
            _ => &[],
        }
    }

    /// Runs `input` through the target, writing any file it needs in
    /// `scratch`; returns whether the input was accepted.
    pub fn run(self, input: &[u8], scratch: &Path) -> bool {
        match self {
            Target::Kdl => {
                let path = scratch.join("bounce.kdl");
                write(&path, input);
                bounce_engine::check_project(&path).is_ok()
            }
            Target::Template => {
                let text = String::from_utf8_lossy(input);
                if bounce_engine::template::check(&text).is_err() {
                    return false;
                }
                bounce_engine::template::render(&text, &values()).is_ok()
            }
            Target::Chunks => {
                let path = scratch.join(named_by_magic("input", input));
                write(&path, input);
                bounce_nodes::probe_file(&path).is_ok()
            }
            Target::Cover => {
                let path = scratch.join(named_by_magic("cover", input));
                write(&path, input);
                bounce_nodes::Cover::read(&path).is_ok()
            }
            Target::Decode => {
                let path = scratch.join(named_by_magic("input", input));
                write(&path, input);
                decode_whole(&path)
            }
        }
    }
}

fn write(path: &Path, input: &[u8]) {
    std::fs::write(path, input).expect("the scratch folder takes a file");
}

/// The file name a user would give these bytes, by their first bytes.
fn named_by_magic(stem: &str, input: &[u8]) -> String {
    let ext = match input.get(..4) {
        Some(b"RIFF") | Some(b"RF64") => "wav",
        Some(b"FORM") => "aif",
        Some(b"fLaC") => "flac",
        Some(b"OggS") => "ogg",
        Some([0x89, b'P', b'N', b'G']) => "png",
        Some([0xff, 0xd8, ..]) => "jpg",
        Some([b'I', b'D', b'3', _]) | Some([0xff, 0xfb, ..]) => "mp3",
        _ => "bin",
    };
    format!("{stem}.{ext}")
}

/// Opens and reads every frame (up to [`MAX_FRAMES`]); whether it all
/// decoded.
fn decode_whole(path: &Path) -> bool {
    let Ok(mut file) = bounce_nodes::DecodedFile::open(path) else {
        return false;
    };
    let mut block = bounce_nodes::StereoBuffer::default();
    let mut frames = 0;
    while frames < MAX_FRAMES {
        match block.fill_from(&mut file) {
            Ok(0) => return true,
            Ok(n) => frames += n,
            Err(_) => return false,
        }
    }
    true
}

/// Values a template is rendered with: one of each kind of field.
fn values() -> bounce_engine::template::TemplateValues {
    bounce_engine::template::TemplateValues {
        release: "Release / Name".into(),
        artist: "Artist: \"A\"".into(),
        version: "1.0.0".into(),
        deliverable: "streaming".into(),
        track: Some(7),
        title: "Title?*".into(),
        isrc: "GBAYE2600001".into(),
        stem: "kick".into(),
        ext: "wav".into(),
        rev: "v1-3-gabcdef".into(),
    }
}
