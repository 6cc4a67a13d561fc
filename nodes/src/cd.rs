//! Red Book CD images: tracks laid out on CD-frame boundaries (588 samples
//! at 44.1 kHz, 75 a second), joined into one image with their gaps, and
//! the CUE sheet that describes it.

use serde::{Deserialize, Serialize};

use crate::{copy_source, AudioError, BlockSink, BlockSource, Fit, Silence};

pub const CD_RATE: u32 = 44100;
pub const CD_BITS: u16 = 16;
/// Samples (per channel) in one CD frame, the unit of every CUE position.
pub const SAMPLES_PER_CD_FRAME: u64 = 588;
pub const CD_FRAMES_PER_SECOND: u64 = 75;
/// Red Book: at most 99 tracks.
pub const MAX_CD_TRACKS: usize = 99;
/// Red Book: every track at least 4 seconds.
pub const MIN_CD_TRACK_SECONDS: f64 = 4.0;
/// Red Book: at least 2 seconds before track 1.
pub const MIN_CD_PREGAP_SECONDS: f64 = 2.0;
/// What an 80-minute disc holds.
pub const MAX_CD_SECONDS: f64 = 79.0 * 60.0 + 57.0;

/// Whole CD frames in `seconds`, to the nearest.
pub fn cd_frames(seconds: f64) -> u64 {
    (seconds * CD_FRAMES_PER_SECOND as f64).round() as u64
}

/// Where one track sits in the image, in CD frames from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackPlace {
    /// INDEX 00: the gap before the track begins.
    pub gap_start: u64,
    /// INDEX 01: the track's audio begins.
    pub start: u64,
    /// The track's audio, rounded up to whole CD frames with silence.
    pub length: u64,
}

/// Lays tracks of `samples` each out after their gaps (CD frames).
pub fn lay_out(samples: &[u64], gaps: &[u64]) -> Vec<TrackPlace> {
    let mut at = 0;
    samples
        .iter()
        .zip(gaps)
        .map(|(samples, gap)| {
            let place = TrackPlace {
                gap_start: at,
                start: at + gap,
                length: samples.div_ceil(SAMPLES_PER_CD_FRAME),
            };
            at = place.start + place.length;
            place
        })
        .collect()
}

/// Writes the image: each track's gap as digital silence, its audio, then
/// silence to the next CD frame.
pub fn write_image(
    tracks: Vec<Box<dyn BlockSource>>,
    places: &[TrackPlace],
    sink: &mut dyn BlockSink,
) -> Result<u64, AudioError> {
    let mut written = 0;
    let mut end = 0;
    for (track, place) in tracks.into_iter().zip(places) {
        let gap = (place.start - end) * SAMPLES_PER_CD_FRAME;
        written += copy_source(&mut Silence::new(gap), sink)?;
        let mut fitted = Fit::new(track, place.length * SAMPLES_PER_CD_FRAME);
        written += copy_source(&mut fitted, sink)?;
        end = place.start + place.length;
    }
    Ok(written)
}

/// `mm:ss:ff`, the CUE sheet's time of a CD-frame position.
pub fn msf(frames: u64) -> String {
    let seconds = frames / CD_FRAMES_PER_SECOND;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 60,
        seconds % 60,
        frames % CD_FRAMES_PER_SECOND
    )
}

/// The text of a CUE sheet: disc and per-track CD-Text and codes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CueText {
    /// The image's file name, as the sheet refers to it.
    pub file: String,
    /// The UPC/EAN as the 13-digit catalog number.
    pub catalog: Option<String>,
    pub title: String,
    pub performer: Option<String>,
    pub tracks: Vec<CueTrack>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CueTrack {
    pub title: String,
    pub performer: Option<String>,
    pub songwriter: Option<String>,
    /// Twelve characters, no hyphens.
    pub isrc: Option<String>,
}

/// A CUE string: quoted, without the quotes and line breaks the format
/// cannot escape.
fn quoted(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    format!("\"{clean}\"")
}

/// The CUE sheet of an image laid out as `places`.
pub fn cue_sheet(text: &CueText, places: &[TrackPlace]) -> String {
    let mut lines = Vec::new();
    if let Some(catalog) = &text.catalog {
        lines.push(format!("CATALOG {catalog}"));
    }
    if let Some(performer) = &text.performer {
        lines.push(format!("PERFORMER {}", quoted(performer)));
    }
    lines.push(format!("TITLE {}", quoted(&text.title)));
    lines.push(format!("FILE {} WAVE", quoted(&text.file)));
    for (number, (track, place)) in text.tracks.iter().zip(places).enumerate() {
        lines.push(format!("  TRACK {:02} AUDIO", number + 1));
        lines.push(format!("    TITLE {}", quoted(&track.title)));
        if let Some(performer) = &track.performer {
            lines.push(format!("    PERFORMER {}", quoted(performer)));
        }
        if let Some(songwriter) = &track.songwriter {
            lines.push(format!("    SONGWRITER {}", quoted(songwriter)));
        }
        if let Some(isrc) = &track.isrc {
            lines.push(format!("    ISRC {isrc}"));
        }
        if place.start > place.gap_start {
            lines.push(format!("    INDEX 00 {}", msf(place.gap_start)));
        }
        lines.push(format!("    INDEX 01 {}", msf(place.start)));
    }
    let mut sheet = lines.join("\r\n");
    sheet.push_str("\r\n");
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_start_on_cd_frames_after_their_gaps() {
        // 4.5 s and 5 s + 1 sample, two seconds before the first, one
        // before the second.
        let places = lay_out(&[198450, 220501], &[150, 75]);
        assert_eq!(
            places,
            vec![
                TrackPlace {
                    gap_start: 0,
                    start: 150,
                    length: 338 // 198450 / 588 = 337.5
                },
                TrackPlace {
                    gap_start: 488,
                    start: 563,
                    length: 376 // 220501 / 588 = 374.99…
                },
            ]
        );
        assert_eq!(msf(150), "00:02:00");
        assert_eq!(msf(563), "00:07:38");
        assert_eq!(msf(75 * 61 + 74), "01:01:74");
    }

    #[test]
    fn the_sheet_names_codes_and_indexes() {
        let text = CueText {
            file: "Night _Drive_.wav".into(),
            catalog: Some("0012345678905".into()),
            title: "Night \"Drive\"".into(),
            performer: Some("The Examples".into()),
            tracks: vec![CueTrack {
                title: "One".into(),
                performer: None,
                songwriter: Some("A. Writer".into()),
                isrc: Some("GBXYZ2600001".into()),
            }],
        };
        let sheet = cue_sheet(&text, &lay_out(&[44100 * 5], &[150]));
        assert_eq!(
            sheet,
            "CATALOG 0012345678905\r\nPERFORMER \"The Examples\"\r\nTITLE \"Night 'Drive'\"\r\n\
             FILE \"Night _Drive_.wav\" WAVE\r\n  TRACK 01 AUDIO\r\n    TITLE \"One\"\r\n\
             \x20   SONGWRITER \"A. Writer\"\r\n    ISRC GBXYZ2600001\r\n    INDEX 00 00:00:00\r\n\
             \x20   INDEX 01 00:02:00\r\n"
        );
    }
}
