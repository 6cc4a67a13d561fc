//! The release report's steps: an inspection of each delivered file, a
//! codec comparison of each lossy file with its lossless partner, and the
//! codec previews the project asks for.

use petgraph::graph::NodeIndex;

use super::Plan;
use crate::model::{FileTargets, Project};
use crate::step::{Action, Step, StepKind};

impl Plan {
    /// Adds the release report's steps: one per delivered audio file of a
    /// track (`inspect:DELIVERABLE:TRACK[:STEM]`), measuring its audio as
    /// encoded, before its tags: tags change no sample, so a new title
    /// measures nothing again, and the measurement runs beside the album's
    /// ReplayGain and tagging rather than after them; a lossy file with a
    /// lossless partner is inspected by its codec comparison instead
    /// (`codec:DELIVERABLE:TRACK`), which decodes it once for both; then
    /// the codec previews the project asks for.
    pub fn add_report_steps(&mut self, project: &Project) {
        let mut files = self.report_files(project);
        let partners: Vec<Option<usize>> = files
            .iter()
            .map(|file| {
                let lossy = file.encoded.as_ref().filter(|e| e.lossy)?;
                files.iter().position(|other| {
                    other
                        .encoded
                        .as_ref()
                        .is_some_and(|o| !o.lossy && o.partners(lossy))
                })
            })
            .collect();
        for (file, partner) in files.iter_mut().zip(&partners) {
            if partner.is_some() {
                continue;
            }
            let inspect = self.add_step(Step {
                id: format!("inspect:{}", file.what),
                kind: StepKind::Inspect,
                track: file.track,
                action: Action::Inspect { file: file.audio },
            });
            file.inspect = Some(inspect);
            self.inspections.push((file.file, inspect));
        }
        for (lossy, partner) in files.iter().zip(&partners) {
            let Some(partner) = partner.map(|p| &files[p]) else {
                continue;
            };
            let compare = self.add_step(Step {
                id: format!("codec:{}", lossy.what),
                kind: StepKind::Codec,
                track: lossy.track,
                action: Action::CodecDifference {
                    lossy: lossy.audio,
                    lossless: partner.audio,
                    inspection: partner.inspected(),
                },
            });
            self.inspections.push((lossy.file, compare));
            self.comparisons.push((lossy.file, partner.file, compare));
        }
        self.add_previews(project, &files);
    }

    /// Adds the previews the report asks for (`report { preview … }`):
    /// each track's first lossless file at a rate the codec carries,
    /// encoded (`preview:SLUG:DELIVERABLE:TRACK`), then compared with that
    /// file and inspected (`codec:preview:…`) as a delivered lossy file is.
    fn add_previews(&mut self, project: &Project, files: &[ReportFile]) {
        for track in &project.tracks {
            for format in &project.previews {
                let Some(codec) = format.codec else { continue };
                let rates = format.kind.rates();
                let Some(source) = files.iter().find(|f| {
                    f.track == Some(track.number)
                        && f.encoded.as_ref().is_some_and(|e| {
                            !e.lossy && (rates.is_empty() || rates.contains(&e.encodes.1))
                        })
                }) else {
                    continue;
                };
                let what = format!("{}:{}", format.slug(), source.what);
                let step = |id: String, kind: StepKind, action: Action| Step {
                    id,
                    kind,
                    track: source.track,
                    action,
                };
                let preview = self.add_step(step(
                    format!("preview:{what}"),
                    StepKind::Preview,
                    Action::Preview {
                        codec,
                        lossless: source.audio,
                    },
                ));
                let compare = self.add_step(step(
                    format!("codec:preview:{what}"),
                    StepKind::Codec,
                    Action::CodecDifference {
                        lossy: preview,
                        lossless: source.audio,
                        inspection: source.inspected(),
                    },
                ));
                self.previews.push(PlannedPreview {
                    file: source.file,
                    format: *format,
                    compare,
                });
            }
        }
    }

    /// Every delivered audio file of a track, as the report's steps read
    /// it.
    fn report_files(&self, project: &Project) -> Vec<ReportFile> {
        self.outputs
            .iter()
            .filter(|o| o.track.is_some() && crate::formats::is_audio(&o.path))
            .map(|o| {
                let step = &self.graph[o.step];
                let what = step.id.split_once(':').map_or(step.id.as_str(), |(_, r)| r);
                let audio = match step.action {
                    Action::Tag { encoded, .. } => encoded,
                    _ => o.step,
                };
                let encoded = match &self.graph[audio].action {
                    Action::Encode { file, master, .. } => Some(Encoded {
                        encodes: (*master, file.rate),
                        lossy: file.mp3.is_some(),
                        targets: project.file_targets(&o.deliverable),
                    }),
                    _ => None,
                };
                ReportFile {
                    file: o.step,
                    audio,
                    inspect: None,
                    encoded,
                    track: step.track,
                    what: what.to_string(),
                }
            })
            .collect()
    }

    /// Adds a report step: each is made once per file, so no id repeats.
    fn add_step(&mut self, step: Step) -> NodeIndex {
        super::add_node(&mut self.graph, step)
    }
}

/// A delivered audio file of a track, as the report's steps read it.
struct ReportFile {
    /// Its output step, and the encoded audio (before tags).
    file: NodeIndex,
    audio: NodeIndex,
    /// Its inspect step, once added (none for a lossy file its codec
    /// comparison inspects).
    inspect: Option<NodeIndex>,
    /// What an encoded file encodes and how.
    encoded: Option<Encoded>,
    track: Option<u32>,
    /// `DELIVERABLE:TRACK[:STEM]`.
    what: String,
}

impl ReportFile {
    /// The inspect step of a lossless file.
    fn inspected(&self) -> NodeIndex {
        self.inspect
            .expect("a lossless file has an inspect step of its own")
    }
}

/// What an encoded file encodes, and how.
struct Encoded {
    /// Its master or stem, at its rate.
    encodes: (NodeIndex, u32),
    lossy: bool,
    targets: FileTargets,
}

impl Encoded {
    /// Whether this file's samples are what `lossy`'s codec was given, but
    /// for the lossy file's own limiting and dither: the same master (or
    /// stem) at the same rate, for the same loudness target and ceiling.
    fn partners(&self, lossy: &Encoded) -> bool {
        self.encodes == lossy.encodes
            && (self.targets.target, self.targets.ceiling)
                == (lossy.targets.target, lossy.targets.ceiling)
    }
}

/// A preview the report asked for: the lossless file's output step, the
/// lossy format, and the step comparing the preview with the file, whose
/// output holds the preview's inspection too.
#[derive(Clone)]
pub struct PlannedPreview {
    pub file: NodeIndex,
    pub format: crate::formats::FileFormat,
    pub compare: NodeIndex,
}
