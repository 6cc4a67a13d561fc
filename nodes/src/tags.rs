//! Tags on finished files: ID3v2.4 in WAV and AIFF (TSRC for the ISRC,
//! never RIFF INFO's `ISRC`, which means "source"), Vorbis comments and a
//! PICTURE block in FLAC, and the descriptive fields of a broadcast WAV's
//! `bext` chunk. Tagging works on an encoded file, so changing a title
//! re-tags and renders no audio.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{AudioError, BextInfo, Container};

/// ReplayGain 2.0 values (reference −18 LUFS).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReplayGain {
    pub track_gain: f64,
    /// Linear, 1.0 = full scale.
    pub track_peak: f64,
    pub album_gain: f64,
    pub album_peak: f64,
}

/// Front cover art.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    pub mime: &'static str,
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl Cover {
    /// Reads a JPEG or PNG, or says why it cannot be cover art.
    pub fn read(path: &Path) -> Result<Cover, String> {
        use std::io::Read;
        if let Some(what) = crate::not_a_regular_file(path) {
            return Err(what);
        }
        let mut data = Vec::new();
        fs::File::open(path)
            .and_then(|f| f.take(1 << 24).read_to_end(&mut data))
            .map_err(|e| format!("cannot read it: {e}"))?;
        // A FLAC metadata block holds at most 2^24 - 1 bytes.
        if data.len() >= (1 << 24) - 64 {
            return Err(format!(
                "{} bytes is too large: cover art must stay under 16 MB",
                data.len()
            ));
        }
        let (mime, (width, height)) = if data.starts_with(&[0x89, b'P', b'N', b'G']) {
            ("image/png", check_png(&data)?)
        } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            (
                "image/jpeg",
                jpeg_size(&data).ok_or("a JPEG without a readable frame header")?,
            )
        } else {
            return Err("not a JPEG or PNG image".into());
        };
        if mime == "image/jpeg" && !data.ends_with(&[0xFF, 0xD9]) {
            return Err("a JPEG cut short: it does not end with its end-of-image marker".into());
        }
        if width == 0 || height == 0 || width > MAX_COVER_SIDE || height > MAX_COVER_SIDE {
            return Err(format!(
                "{width}×{height} pixels: cover art is 1 to {MAX_COVER_SIDE} pixels a side"
            ));
        }
        Ok(Cover {
            mime,
            data,
            width,
            height,
        })
    }
}

/// The largest side of a cover bounce embeds, pixels: stores ask for
/// 1400 to 3000, and a header claiming more is a damaged or hostile file.
const MAX_COVER_SIDE: u32 = 16_384;

/// A PNG's size, once every chunk's CRC (PNG spec, section 5.3) holds and
/// the image ends with IEND: a file cut short or damaged fails here.
fn check_png(data: &[u8]) -> Result<(u32, u32), String> {
    let damaged = |what: &str| format!("a damaged PNG: {what}");
    let mut at = 8;
    let mut size = None;
    loop {
        let header = data
            .get(at..at + 8)
            .ok_or_else(|| damaged("it ends before its IEND chunk"))?;
        let length = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let kind = &header[4..8];
        let body_end = at + 8 + length;
        let body = data
            .get(at + 8..body_end)
            .ok_or_else(|| damaged("a chunk runs past the end of the file"))?;
        let crc = data
            .get(body_end..body_end + 4)
            .ok_or_else(|| damaged("a chunk runs past the end of the file"))?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(kind);
        hasher.update(body);
        if hasher.finalize().to_be_bytes() != crc {
            return Err(damaged(&format!(
                "its {} chunk fails its checksum",
                String::from_utf8_lossy(kind)
            )));
        }
        if at == 8 {
            if kind != b"IHDR" || length < 8 {
                return Err(damaged("it does not start with IHDR"));
            }
            size = Some((
                u32::from_be_bytes(body[..4].try_into().expect("4 bytes")),
                u32::from_be_bytes(body[4..8].try_into().expect("4 bytes")),
            ));
        }
        if kind == b"IEND" {
            return size.ok_or_else(|| damaged("no IHDR"));
        }
        at = body_end + 4;
    }
}

fn jpeg_size(data: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    while at + 9 < data.len() {
        if data[at] != 0xFF {
            return None;
        }
        let marker = data[at + 1];
        let length = u16::from_be_bytes([data[at + 2], data[at + 3]]) as usize;
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let height = u16::from_be_bytes([data[at + 5], data[at + 6]]) as u32;
            let width = u16::from_be_bytes([data[at + 7], data[at + 8]]) as u32;
            return Some((width, height));
        }
        at += 2 + length;
    }
    None
}

/// The text a delivered file carries: serialisable, so it can be part of a
/// step's key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagText {
    pub title: String,
    pub artist: Option<String>,
    pub album: String,
    pub track: u32,
    pub track_total: u32,
    pub year: Option<i64>,
    pub genre: Option<String>,
    pub label: Option<String>,
    pub copyright: Option<String>,
    pub composer: Option<String>,
    pub isrc: Option<String>,
    pub upc: Option<String>,
    /// For a broadcast WAV.
    pub bext: Option<BextInfo>,
    /// Chapter marks (left out of a key when there are none, as before
    /// files had chapters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chapters: Vec<ChapterMark>,
    #[serde(default, skip_serializing_if = "EpisodeText::is_empty")]
    pub episode: EpisodeText,
}

/// A chapter: its title, where it starts in the track, and a link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChapterMark {
    pub title: String,
    /// Seconds from the start of the track.
    pub start: f64,
    pub url: Option<String>,
}

/// What a podcast episode says of itself beyond a track's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeText {
    pub description: Option<String>,
    /// The episode's number, and its season's.
    pub number: Option<u32>,
    pub season: Option<u32>,
    pub explicit: Option<bool>,
}

impl EpisodeText {
    pub fn is_empty(&self) -> bool {
        *self == EpisodeText::default()
    }
}

/// What a delivered file says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    pub text: TagText,
    pub cover: Option<Cover>,
    pub replay_gain: Option<ReplayGain>,
    /// The file's length, where the last chapter ends.
    pub duration_ms: u64,
}

/// A time as Vorbis chapter comments write it: `HH:MM:SS.mmm`.
fn chapter_time(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn error(path: &Path) -> impl Fn(String) -> AudioError + '_ {
    move |reason| AudioError::Encode {
        path: path.to_path_buf(),
        reason,
    }
}

fn gain_text(db: f64) -> String {
    format!("{db:+.2} dB")
}

impl Tags {
    /// Field name → value, in a fixed order: what goes into ID3 and
    /// Vorbis comments alike.
    fn texts(&self) -> Vec<(&'static str, String)> {
        let t = &self.text;
        let mut out = vec![("TITLE", t.title.clone())];
        let optional = [
            ("ARTIST", t.artist.clone()),
            ("ALBUM", Some(t.album.clone())),
            ("TRACKNUMBER", Some(t.track.to_string())),
            ("TRACKTOTAL", Some(t.track_total.to_string())),
            ("DATE", t.year.map(|y| y.to_string())),
            ("GENRE", t.genre.clone()),
            ("LABEL", t.label.clone()),
            ("COPYRIGHT", t.copyright.clone()),
            ("COMPOSER", t.composer.clone()),
            ("ISRC", t.isrc.clone()),
            ("BARCODE", t.upc.clone()),
        ];
        out.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        let episode = &t.episode;
        let fields = [
            ("DESCRIPTION", episode.description.clone()),
            ("EPISODE", episode.number.map(|n| n.to_string())),
            ("SEASON", episode.season.map(|n| n.to_string())),
            // iTunes' advisory: 1 explicit, 2 clean.
            (
                "ITUNESADVISORY",
                episode.explicit.map(|e| if e { "1" } else { "2" }.into()),
            ),
        ];
        out.extend(fields.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        if let Some(rg) = self.replay_gain {
            out.push(("REPLAYGAIN_TRACK_GAIN", gain_text(rg.track_gain)));
            out.push(("REPLAYGAIN_TRACK_PEAK", format!("{:.6}", rg.track_peak)));
            out.push(("REPLAYGAIN_ALBUM_GAIN", gain_text(rg.album_gain)));
            out.push(("REPLAYGAIN_ALBUM_PEAK", format!("{:.6}", rg.album_peak)));
        }
        out
    }

    fn id3(&self) -> id3::Tag {
        use id3::TagLike;
        let mut tag = id3::Tag::new();
        for (key, value) in self.texts() {
            match key {
                "TITLE" => tag.set_title(value),
                "ARTIST" => tag.set_artist(value),
                "ALBUM" => tag.set_album(value),
                "TRACKNUMBER" => tag.set_track(self.text.track),
                "TRACKTOTAL" => tag.set_total_tracks(self.text.track_total),
                "DATE" => {
                    tag.add_frame(id3::Frame::text("TDRC", value));
                }
                "GENRE" => tag.set_genre(value),
                "LABEL" => {
                    tag.add_frame(id3::Frame::text("TPUB", value));
                }
                "COPYRIGHT" => {
                    tag.add_frame(id3::Frame::text("TCOP", value));
                }
                "COMPOSER" => {
                    tag.add_frame(id3::Frame::text("TCOM", value));
                }
                "ISRC" => {
                    tag.add_frame(id3::Frame::text("TSRC", value));
                }
                "DESCRIPTION" => {
                    tag.add_frame(id3::frame::Comment {
                        lang: "eng".into(),
                        description: String::new(),
                        text: value,
                    });
                }
                other => {
                    tag.add_frame(id3::frame::ExtendedText {
                        description: other.to_string(),
                        value,
                    });
                }
            }
        }
        if let Some(cover) = &self.cover {
            tag.add_frame(id3::frame::Picture {
                mime_type: cover.mime.to_string(),
                picture_type: id3::frame::PictureType::CoverFront,
                description: String::new(),
                data: cover.data.clone(),
            });
        }
        self.add_chapters(&mut tag);
        tag
    }

    /// The ID3v2 Chapter Frame Addendum (id3.org, 2005): a CHAP frame for
    /// each chapter, in milliseconds, with its title (TIT2) and link
    /// (WXXX), and the CTOC table of contents that lists them, top-level
    /// and ordered: players ignore chapters no table names.
    fn add_chapters(&self, tag: &mut id3::Tag) {
        use id3::TagLike;
        let chapters = &self.text.chapters;
        if chapters.is_empty() {
            return;
        }
        let ids: Vec<String> = (0..chapters.len()).map(|i| format!("chp{i}")).collect();
        for (i, chapter) in chapters.iter().enumerate() {
            let ms = |s: f64| ((s * 1000.0).round() as u64).min(u32::MAX as u64) as u32;
            let end = chapters
                .get(i + 1)
                .map_or(self.duration_ms.min(u32::MAX as u64) as u32, |next| {
                    ms(next.start)
                });
            let mut frames = vec![id3::Frame::text("TIT2", chapter.title.clone())];
            if let Some(url) = &chapter.url {
                frames.push(
                    id3::frame::ExtendedLink {
                        description: String::new(),
                        link: url.clone(),
                    }
                    .into(),
                );
            }
            tag.add_frame(id3::frame::Chapter {
                element_id: ids[i].clone(),
                start_time: ms(chapter.start),
                end_time: end,
                // No byte offsets: times are what players read.
                start_offset: u32::MAX,
                end_offset: u32::MAX,
                frames,
            });
        }
        tag.add_frame(id3::frame::TableOfContents {
            element_id: "toc".into(),
            top_level: true,
            ordered: true,
            elements: ids,
            frames: Vec::new(),
        });
    }

    /// Writes the tags into the encoded file at `path`.
    pub fn write(&self, path: &Path, container: Container) -> Result<(), AudioError> {
        let err = error(path);
        match container {
            Container::Wav | Container::Bwf => {
                if let (Container::Bwf, Some(bext)) = (container, &self.text.bext) {
                    write_bext_text(path, bext)?;
                }
                self.id3()
                    .write_to_path(path, id3::Version::Id3v24)
                    .map_err(|e| err(e.to_string()))
            }
            Container::Aiff | Container::Mp3 => self
                .id3()
                .write_to_path(path, id3::Version::Id3v24)
                .map_err(|e| err(e.to_string())),
            Container::Flac => self.write_flac(path),
        }
    }

    /// Rewrites a FLAC file with VORBIS_COMMENT (and PICTURE) blocks after
    /// its STREAMINFO.
    fn write_flac(&self, path: &Path) -> Result<(), AudioError> {
        let err = error(path);
        let io = |e: std::io::Error| err(e.to_string());
        let mut input = BufReader::new(File::open(path).map_err(io)?);
        let mut head = [0u8; 42];
        input.read_exact(&mut head).map_err(io)?;
        if &head[..4] != b"fLaC" || head[4] & 0x7F != 0 {
            return Err(err("not a FLAC file that starts with STREAMINFO".into()));
        }
        if head[4] & 0x80 == 0 {
            return Err(err("already has metadata after STREAMINFO".into()));
        }
        let mut blocks: Vec<(u8, Vec<u8>)> = vec![(4, self.vorbis_comment())];
        if let Some(cover) = &self.cover {
            blocks.push((6, picture_block(cover)));
        }
        let temp = path.with_extension("tagging");
        {
            let mut out = BufWriter::new(File::create(&temp).map_err(io)?);
            head[4] &= 0x7F; // STREAMINFO is no longer the last block
            out.write_all(&head).map_err(io)?;
            let count = blocks.len();
            for (i, (kind, body)) in blocks.into_iter().enumerate() {
                let last = if i + 1 == count { 0x80 } else { 0 };
                out.write_all(&[last | kind]).map_err(io)?;
                out.write_all(&(body.len() as u32).to_be_bytes()[1..])
                    .map_err(io)?;
                out.write_all(&body).map_err(io)?;
            }
            input.seek(SeekFrom::Start(42)).map_err(io)?;
            std::io::copy(&mut input, &mut out).map_err(io)?;
            out.flush().map_err(io)?;
        }
        fs::rename(&temp, path).map_err(io)
    }

    /// The VORBIS_COMMENT block body (little-endian lengths, as Vorbis has).
    fn vorbis_comment(&self) -> Vec<u8> {
        let vendor = b"bounce";
        let mut entries: Vec<String> = self
            .texts()
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        // The Vorbis comment chapter extension (as foobar2000 and VLC read
        // it): CHAPTERnnn=HH:MM:SS.mmm, CHAPTERnnnNAME, CHAPTERnnnURL.
        for (i, chapter) in self.text.chapters.iter().enumerate() {
            let n = i + 1;
            entries.push(format!("CHAPTER{n:03}={}", chapter_time(chapter.start)));
            entries.push(format!("CHAPTER{n:03}NAME={}", chapter.title));
            if let Some(url) = &chapter.url {
                entries.push(format!("CHAPTER{n:03}URL={url}"));
            }
        }
        let mut body = Vec::new();
        body.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        body.extend_from_slice(vendor);
        body.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for entry in entries {
            body.extend_from_slice(&(entry.len() as u32).to_le_bytes());
            body.extend_from_slice(entry.as_bytes());
        }
        body
    }
}

/// The FLAC PICTURE block body (big-endian fields; type 3 = front cover).
fn picture_block(cover: &Cover) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&3u32.to_be_bytes());
    body.extend_from_slice(&(cover.mime.len() as u32).to_be_bytes());
    body.extend_from_slice(cover.mime.as_bytes());
    body.extend_from_slice(&0u32.to_be_bytes()); // no description
    body.extend_from_slice(&cover.width.to_be_bytes());
    body.extend_from_slice(&cover.height.to_be_bytes());
    body.extend_from_slice(&24u32.to_be_bytes()); // colour depth
    body.extend_from_slice(&0u32.to_be_bytes()); // not indexed
    body.extend_from_slice(&(cover.data.len() as u32).to_be_bytes());
    body.extend_from_slice(&cover.data);
    body
}

/// Fills the descriptive fields of the `bext` chunk the writer reserved.
fn write_bext_text(path: &Path, bext: &BextInfo) -> Result<(), AudioError> {
    let err = error(path);
    let io = |e: std::io::Error| err(e.to_string());
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut header = [0u8; 20];
    file.read_exact(&mut header).map_err(io)?;
    if &header[..4] != b"RIFF" || &header[8..12] != b"WAVE" || &header[12..16] != b"bext" {
        return Err(err("no bext chunk where the writer puts it".into()));
    }
    let mut fields = Vec::with_capacity(338);
    fields.extend_from_slice(&crate::encode::fixed_ascii(&bext.description, 256));
    fields.extend_from_slice(&crate::encode::fixed_ascii(&bext.originator, 32));
    fields.extend_from_slice(&crate::encode::fixed_ascii(&bext.originator_reference, 32));
    fields.extend_from_slice(&crate::encode::fixed_ascii(&bext.origination_date, 10));
    fields.extend_from_slice(&crate::encode::fixed_ascii(&bext.origination_time, 8));
    file.seek(SeekFrom::Start(20)).map_err(io)?;
    file.write_all(&fields).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `width`×`height` whose chunks carry their CRCs (the image
    /// data is a placeholder: the check reads structure, not pixels).
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut png = vec![0x89, b'P', b'N', b'G', 13, 10, 26, 10];
        let mut chunk = |kind: &[u8], body: &[u8]| {
            png.extend((body.len() as u32).to_be_bytes());
            png.extend(kind);
            png.extend(body);
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(kind);
            hasher.update(body);
            png.extend(hasher.finalize().to_be_bytes());
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 6, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &[0x78, 0x9C, 0x63, 0, 0, 0, 1, 0, 1]);
        chunk(b"IEND", &[]);
        png
    }

    #[test]
    fn covers_are_checked_whole_and_sized_from_their_headers() {
        let dir = tempfile::tempdir().unwrap();
        let read = |bytes: &[u8]| {
            let path = dir.path().join("cover");
            fs::write(&path, bytes).unwrap();
            Cover::read(&path)
        };
        let cover = read(&png(640, 480)).unwrap();
        assert_eq!((cover.width, cover.height), (640, 480));
        let whole = png(640, 480);
        assert!(read(&whole[..whole.len() - 12])
            .unwrap_err()
            .contains("IEND"));
        let mut flipped = whole.clone();
        flipped[40] ^= 1;
        assert!(read(&flipped).unwrap_err().contains("checksum"));
        assert!(read(&png(0, 0)).unwrap_err().contains("0×0"));
        assert!(read(&png(100_000, 100_000))
            .unwrap_err()
            .contains("pixels a side"));
        // SOI, an APP0 of 4 bytes, then SOF0 with height 300 and width 500.
        let mut jpeg = vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 1, 44, 1, 244, 3, 0, 0, 0,
        ];
        assert_eq!(jpeg_size(&jpeg), Some((500, 300)));
        assert!(read(&jpeg).unwrap_err().contains("cut short"));
        jpeg.extend([0xFF, 0xD9]);
        assert_eq!(read(&jpeg).map(|c| c.width), Ok(500));
    }
}
