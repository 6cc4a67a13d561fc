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
    /// ReplayGain and tagging rather than after them; then the codec
    /// comparisons and the previews the project asks for.
    pub fn add_report_steps(&mut self, project: &Project) {
        let files: Vec<(NodeIndex, NodeIndex, String)> = self
            .outputs
            .iter()
            .filter(|o| o.track.is_some() && crate::formats::is_audio(&o.path))
            .map(|o| {
                let step = &self.graph[o.step];
                let what = step.id.split_once(':').map_or(step.id.as_str(), |(_, r)| r);
                // A tag step's first input is the encoded file.
                let audio = match step.kind {
                    StepKind::Tag => self.inputs_of(o.step)[0],
                    _ => o.step,
                };
                (o.step, audio, format!("inspect:{what}"))
            })
            .collect();
        for (file, audio, id) in files {
            let track = self.graph[file].track;
            let index = self.add_step(
                Step {
                    id,
                    kind: StepKind::Inspect,
                    track,
                    action: Action::Inspect,
                },
                vec![audio],
            );
            self.inspections.push((file, index));
        }
        let encoded = self.encoded_files(project);
        self.add_comparisons(&encoded);
        self.add_previews(project, &encoded);
    }

    /// Adds a `codec:DELIVERABLE:TRACK` step for each lossy file with a
    /// lossless partner: the first file of its track encoding the same
    /// master (or stem) at the same rate for the same loudness target and
    /// ceiling, whose samples are what the codec was given but for the
    /// lossy file's own limiting and dither.
    fn add_comparisons(&mut self, encoded: &[EncodedFile]) {
        for lossy in encoded.iter().filter(|e| e.lossy) {
            let Some(partner) = encoded.iter().find(|other| {
                !other.lossy
                    && other.encodes == lossy.encodes
                    && (other.targets.target, other.targets.ceiling)
                        == (lossy.targets.target, lossy.targets.ceiling)
            }) else {
                continue;
            };
            let compare = self.add_step(
                Step {
                    id: format!("codec:{}", lossy.what),
                    kind: StepKind::Codec,
                    track: lossy.track,
                    action: Action::CodecDifference,
                },
                vec![lossy.audio, partner.audio, partner.inspect],
            );
            self.comparisons.push((lossy.file, partner.file, compare));
        }
    }

    /// Adds the previews the report asks for (`report { preview … }`):
    /// each track's first lossless file at a rate the codec carries,
    /// encoded (`preview:SLUG:DELIVERABLE:TRACK`), inspected and compared
    /// with that file as a delivered lossy file is.
    fn add_previews(&mut self, project: &Project, encoded: &[EncodedFile]) {
        for track in &project.tracks {
            for format in &project.previews {
                let Some(codec) = format.codec else { continue };
                let rates = format.kind.rates();
                let Some(source) = encoded.iter().find(|e| {
                    e.track == Some(track.number)
                        && !e.lossy
                        && (rates.is_empty() || rates.contains(&e.encodes.1))
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
                let preview = self.add_step(
                    step(
                        format!("preview:{what}"),
                        StepKind::Preview,
                        Action::Preview { codec },
                    ),
                    vec![source.audio],
                );
                let inspect = self.add_step(
                    step(
                        format!("inspect:preview:{what}"),
                        StepKind::Inspect,
                        Action::Inspect,
                    ),
                    vec![preview],
                );
                let compare = self.add_step(
                    step(
                        format!("codec:preview:{what}"),
                        StepKind::Codec,
                        Action::CodecDifference,
                    ),
                    vec![preview, source.audio, source.inspect],
                );
                self.previews.push(PlannedPreview {
                    file: source.file,
                    format: *format,
                    inspect,
                    compare,
                });
            }
        }
    }

    /// Every delivered file of a track the report inspects, as its steps
    /// read it.
    fn encoded_files(&self, project: &Project) -> Vec<EncodedFile> {
        self.inspections
            .iter()
            .filter_map(|&(file, inspect)| {
                let audio = self.inputs_of(inspect)[0];
                let Action::Encode { rate, mp3, .. } = &self.graph[audio].action else {
                    return None;
                };
                let deliverable = &self.outputs.iter().find(|o| o.step == file)?.deliverable;
                let id = &self.graph[inspect].id;
                Some(EncodedFile {
                    file,
                    audio,
                    inspect,
                    encodes: (*self.inputs_of(audio).first()?, *rate),
                    lossy: mp3.is_some(),
                    targets: project.file_targets(deliverable),
                    track: self.graph[file].track,
                    what: id.strip_prefix("inspect:").unwrap_or(id).to_string(),
                })
            })
            .collect()
    }

    fn add_step(&mut self, step: Step, inputs: Vec<NodeIndex>) -> NodeIndex {
        let index = self.graph.add_node(step);
        for input in &inputs {
            self.graph.add_edge(*input, index, ());
        }
        self.inputs.insert(index, inputs);
        index
    }
}

/// A delivered file of a track, as the report's steps read it.
struct EncodedFile {
    /// Its output step, the encoded audio (before tags) and its inspection.
    file: NodeIndex,
    audio: NodeIndex,
    inspect: NodeIndex,
    /// What it encodes (its master or stem), at its rate.
    encodes: (NodeIndex, u32),
    lossy: bool,
    targets: FileTargets,
    track: Option<u32>,
    /// `DELIVERABLE:TRACK[:STEM]`.
    what: String,
}

/// A preview the report asked for: the lossless file's output step, the
/// lossy format, and the steps inspecting the preview and comparing it.
#[derive(Clone)]
pub struct PlannedPreview {
    pub file: NodeIndex,
    pub format: crate::formats::FileFormat,
    pub inspect: NodeIndex,
    pub compare: NodeIndex,
}
