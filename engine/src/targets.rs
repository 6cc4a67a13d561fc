//! What a deliverable's files are held to, decided once: the loudness
//! target and true-peak ceiling, each with where it came from (the
//! deliverable's own `target=`/`ceiling=`, its delivery standard, its
//! master, or bounce's default), and the standard's tolerance. The plan,
//! the build summary, the report and `check` all read [`resolve`].

use bounce_nodes::{ProcessorSpec, DUAL_MONO_GAIN_DB};

use crate::kdl_view::Range;
use crate::model::{Content, Deliverable, FileTargets, LoudnessMode, Master, Project, Standard};

/// The ceiling wherever a target is set and no ceiling is: what the
/// streaming services ask for (−1 dBTP).
pub const DEFAULT_CEILING_DBTP: f64 = -1.0;

/// How far under its true peak the loudness of a sine wave sits, dB
/// (BS.1770: a 0 dBFS sine reads −3.01 LUFS): the least a target can sit
/// under its ceiling and be reached.
pub const MIN_PEAK_TO_LOUDNESS_DB: f64 = 3.0;

/// Loudness targets bounce takes (`target=`), LUFS.
pub const TARGET_RANGE: Range = Range::between(-70.0, -1.0, "LUFS");

/// True-peak ceilings bounce takes (`ceiling=`), dBTP.
pub const CEILING_RANGE: Range = Range::between(-30.0, 0.0, "dBTP");

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Deliverable,
    Standard(Standard),
    Master,
    /// [`DEFAULT_CEILING_DBTP`], for a target without a ceiling.
    Default,
}

/// A value and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub value: f64,
    pub origin: Origin,
}

/// A deliverable's target, ceiling and tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Targets {
    pub target: Option<Resolved>,
    pub ceiling: Option<Resolved>,
    /// The standard's tolerance, LU (`None` without a standard).
    pub tolerance: Option<f64>,
}

/// The precedence deliverable → standard → master, and the default
/// ceiling under a target.
pub fn resolve(deliverable: &Deliverable, master: Option<&Master>) -> Targets {
    let pick = |own: Option<f64>, standard: Option<f64>, of_master: Option<f64>| {
        let at = |value, origin| Resolved { value, origin };
        own.map(|v| at(v, Origin::Deliverable))
            .or(standard.map(|v| at(v, Origin::Standard(deliverable.standard.expect("set")))))
            .or(of_master.map(|v| at(v, Origin::Master)))
    };
    let standard = deliverable.standard;
    let channels = deliverable.format.channels;
    let target = pick(
        deliverable.target,
        standard.map(|s| s.target_for(channels)),
        master.and_then(|m| m.target).map(|t| as_heard(t, channels)),
    );
    let ceiling = pick(
        deliverable.ceiling,
        standard.map(|s| s.ceiling()),
        master.and_then(|m| m.ceiling),
    )
    .or(target.map(|_| Resolved {
        value: DEFAULT_CEILING_DBTP,
        origin: Origin::Default,
    }));
    Targets {
        target,
        ceiling,
        tolerance: standard.map(|s| s.tolerance()),
    }
}

/// A master's target for a file of `channels`: a mono file keeps the
/// master's loudness as heard on two speakers, 3.01 dB under it as
/// BS.1770-4 reads the one channel (to 0.01 LU).
pub fn as_heard(target: f64, channels: u16) -> f64 {
    match channels {
        1 => crate::words::rounded(target - DUAL_MONO_GAIN_DB, 2),
        _ => target,
    }
}

impl Targets {
    pub fn target(&self) -> Option<f64> {
        self.target.map(|t| t.value)
    }

    pub fn ceiling(&self) -> Option<f64> {
        self.ceiling.map(|c| c.value)
    }
}

impl Origin {
    fn says(self) -> String {
        match self {
            Origin::Deliverable => "the deliverable's own".into(),
            Origin::Standard(s) => format!("standard {}", s.name()),
            Origin::Master => "the master".into(),
            Origin::Default => "bounce's default".into(),
        }
    }
}

impl Project {
    /// The master a deliverable renders, if it renders one.
    pub fn master_of(&self, deliverable: &Deliverable) -> Option<&Master> {
        match &deliverable.content {
            Content::Master(name) => self.master(name),
            Content::Stems(_) => None,
        }
    }

    /// A deliverable's targets (see [`resolve`]); the default for a name
    /// that is no deliverable.
    pub fn targets(&self, deliverable: &str) -> Targets {
        self.deliverables
            .iter()
            .find(|d| d.name == deliverable)
            .map(|d| resolve(d, self.master_of(d)))
            .unwrap_or_default()
    }

    /// Settings that have no effect because another overrides them, each
    /// said in words: a master's target or ceiling that a deliverable's
    /// standard or own value replaces.
    pub fn unused_settings(&self) -> Vec<String> {
        let mut said = Vec::new();
        for deliverable in &self.deliverables {
            let Some(master) = self.master_of(deliverable) else {
                continue;
            };
            let targets = resolve(deliverable, Some(master));
            // A mono file's target is set as its stereo figure heard on two
            // speakers: compared with the master in stereo terms.
            let stereo = |t: Resolved| match t.origin {
                Origin::Standard(standard) => Resolved {
                    value: standard.target(),
                    ..t
                },
                _ => t,
            };
            let fields = [
                ("target", master.target, targets.target.map(stereo), "LUFS"),
                ("ceiling", master.ceiling, targets.ceiling, "dBTP"),
            ];
            for (field, of_master, resolved, unit) in fields {
                let (Some(of_master), Some(resolved)) = (of_master, resolved) else {
                    continue;
                };
                if resolved.origin != Origin::Master && resolved.value != of_master {
                    said.push(format!(
                        "master \"{}\"'s {field} {of_master} {unit} is not used by deliverable \
                         \"{}\": {} sets {} {unit}",
                        master.name,
                        deliverable.name,
                        resolved.origin.says(),
                        resolved.value
                    ));
                }
            }
        }
        said
    }

    /// Targets too close to their ceiling to be reached: integrated
    /// loudness (BS.1770) sits at least 3 dB under the true peak of a sine,
    /// and music limited harder than that is distortion, so a target less
    /// than [`MIN_PEAK_TO_LOUDNESS_DB`] under its ceiling fails the build
    /// after every track has rendered. Said once per target and ceiling,
    /// naming the deliverables held to them.
    pub fn unreachable_targets(&self) -> Vec<String> {
        let mut pairs: Vec<(Resolved, Resolved, Vec<&str>)> = Vec::new();
        for deliverable in &self.deliverables {
            let targets = resolve(deliverable, self.master_of(deliverable));
            let (Some(target), Some(ceiling)) = (targets.target, targets.ceiling) else {
                continue;
            };
            if ceiling.value - target.value >= MIN_PEAK_TO_LOUDNESS_DB {
                continue;
            }
            match pairs
                .iter_mut()
                .find(|(t, c, _)| *t == target && *c == ceiling)
            {
                Some((_, _, names)) => names.push(&deliverable.name),
                None => pairs.push((target, ceiling, vec![&deliverable.name])),
            }
        }
        pairs
            .into_iter()
            .map(|(target, ceiling, names)| {
                format!(
                    "the target {} LUFS (from {}) is {} dB under the {} dBTP ceiling (from {}), closer than \
                     a sine wave's loudness is to its peak ({MIN_PEAK_TO_LOUDNESS_DB} dB): no \
                     limiter reaches it without distortion, and the build will miss it; for \
                     deliverable{} \"{}\"",
                    target.value,
                    target.origin.says(),
                    crate::words::rounded(ceiling.value - target.value, 1),
                    ceiling.value,
                    ceiling.origin.says(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join("\", \"")
                )
            })
            .collect()
    }

    /// The level each mono deliverable is held to, and why: BS.1770-4
    /// reads a mono file 3 dB under the same channel on both speakers,
    /// so the figure differs from the stereo one it stands for.
    pub fn mono_levels(&self) -> Vec<String> {
        let mut said = Vec::new();
        for deliverable in self.deliverables.iter().filter(|d| d.format.mono()) {
            let targets = resolve(deliverable, self.master_of(deliverable));
            let Some(target) = targets.target else {
                continue;
            };
            let why = match target.origin {
                Origin::Standard(standard) if standard.target_for(1) != standard.target() => {
                    format!(
                        "the {} LUFS of standard \"{}\"",
                        standard.target(),
                        standard.name()
                    )
                }
                Origin::Master => format!(
                    "the {} LUFS of its master",
                    crate::words::rounded(target.value + DUAL_MONO_GAIN_DB, 1)
                ),
                _ => continue,
            };
            said.push(format!(
                "deliverable \"{}\" is mono: its files are held to {} LUFS, {why} as it plays \
                 on two speakers (BS.1770-4 counts a mono file's one channel once)",
                deliverable.name,
                crate::words::rounded(target.value, 1)
            ));
        }
        said
    }

    /// Masters that set a level with `loudness` in their chain but that
    /// nothing limits for some deliverable (no target, no ceiling, no
    /// `limit`): the trap of a loudness processor without a ceiling, said
    /// once per master with the form that holds the peaks.
    pub fn unheld_loudness(&self) -> Vec<String> {
        let mut said = Vec::new();
        for master in &self.masters {
            let levels = master
                .chain
                .iter()
                .any(|p| matches!(p, ProcessorSpec::Loudness { .. }));
            let limits = master
                .chain
                .iter()
                .any(|p| matches!(p, ProcessorSpec::Limit { .. }));
            let unheld = self.deliverables.iter().any(|d| {
                self.master_of(d).is_some_and(|m| m.name == master.name)
                    && resolve(d, Some(master)).ceiling().is_none()
            });
            if levels && !limits && unheld {
                said.push(format!(
                    "master \"{}\" sets a loudness but has no ceiling, so nothing holds its true \
                     peaks (services ask for -1 dBTP): write `target=LUFS ceiling=-1.0` on the master",
                    master.name
                ));
            }
        }
        said
    }
}

/// What each delivery standard asks of a file.
impl Standard {
    /// Integrated loudness of a stereo file, LUFS.
    pub fn target(self) -> f64 {
        match self {
            Standard::EbuR128 => -23.0,
            Standard::AtscA85 => -24.0,
            Standard::Spotify | Standard::Youtube => -14.0,
            Standard::AppleMusic | Standard::ApplePodcasts | Standard::Podcast => -16.0,
        }
    }

    /// Integrated loudness of a file of `channels`, LUFS. The podcast
    /// standards hold a mono file to the level that plays as loud on two
    /// speakers as their stereo target (BS.1770-4 counts its one channel
    /// once, 3 dB under the same channel on both): −19 for −16. Apple
    /// states −16 LKFS and no mono figure; a mono episode is played on
    /// both speakers, so bounce holds it to −19 and says so in the build.
    /// The broadcast and music standards measure the file as it is.
    pub fn target_for(self, channels: u16) -> f64 {
        match (self, channels) {
            // The practice's round figure for 16 + 3.01.
            (Standard::Podcast | Standard::ApplePodcasts, 1) => -19.0,
            _ => self.target(),
        }
    }

    /// Maximum true peak, dBTP.
    pub fn ceiling(self) -> f64 {
        match self {
            Standard::AtscA85 => -2.0,
            _ => DEFAULT_CEILING_DBTP,
        }
    }

    /// How far the integrated loudness may sit from the target, LU.
    pub fn tolerance(self) -> f64 {
        match self {
            Standard::EbuR128 => 0.5,
            Standard::AtscA85 => 2.0,
            _ => 1.0,
        }
    }
}

impl Project {
    /// What a deliverable's files are held to: their loudness target (none
    /// for an album-mode master's, whose album carries it), their true-peak
    /// ceiling and the tolerance of their standard (`None` without one).
    pub fn file_targets(&self, deliverable: &str) -> FileTargets {
        let Some(d) = self.deliverables.iter().find(|d| d.name == deliverable) else {
            return FileTargets::default();
        };
        let master = self.master_of(d);
        let targets = resolve(d, master);
        FileTargets {
            target: targets.target().filter(|_| !album_mode(master)),
            ceiling: targets.ceiling(),
            tolerance: targets.tolerance,
        }
    }
}

/// Whether a master's loudness is the album's, not each file's.
pub(crate) fn album_mode(master: Option<&Master>) -> bool {
    master.is_some_and(|m| m.mode == LoudnessMode::Album)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(masters_and_deliverables: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bounce.kdl");
        let text = format!(
            "release \"R\" {{ version \"1\"; }}\ntrack 1 \"T\" {{ tone \"t\" freq=440 level=-12 length=2; }}\n{masters_and_deliverables}"
        );
        std::fs::write(&path, text).unwrap();
        crate::reader::load_project(&path).unwrap()
    }

    #[test]
    fn a_deliverable_target_over_a_plain_master_gets_the_default_ceiling_everywhere() {
        let p = project(
            "master \"plain\" { }\ndeliverable \"loud\" target=-10 { master \"plain\"; format \"wav\"; }\n",
        );
        let targets = p.targets("loud");
        assert_eq!(
            targets.target,
            Some(Resolved {
                value: -10.0,
                origin: Origin::Deliverable
            })
        );
        assert_eq!(
            targets.ceiling,
            Some(Resolved {
                value: DEFAULT_CEILING_DBTP,
                origin: Origin::Default
            })
        );
        // What the summary and the report hold the file to is what the
        // plan limits it to.
        assert_eq!(p.file_targets("loud").ceiling, Some(DEFAULT_CEILING_DBTP));
        let plan = crate::plan::plan(&p).unwrap();
        let variant = plan
            .graph
            .node_weights()
            .find(|s| s.id.starts_with("master:plain@"))
            .expect("a variant master");
        assert_eq!(variant.id, "master:plain@-10/-1:1");
    }

    #[test]
    fn precedence_is_deliverable_then_standard_then_master() {
        let p = project(
            "master \"m\" target=-14 ceiling=-2 { }\n\
             deliverable \"a\" { master \"m\"; format \"wav\"; }\n\
             deliverable \"b\" { master \"m\"; standard \"ebu-r128\"; format \"wav\"; }\n\
             deliverable \"c\" target=-20 { master \"m\"; standard \"ebu-r128\"; format \"wav\"; }\n",
        );
        let origin = |d: &str| {
            let t = p.targets(d);
            (
                t.target.unwrap().origin,
                t.ceiling.unwrap().origin,
                t.tolerance,
            )
        };
        assert_eq!(origin("a"), (Origin::Master, Origin::Master, None));
        let ebu = Origin::Standard(Standard::EbuR128);
        assert_eq!(origin("b"), (ebu, ebu, Some(0.5)));
        assert_eq!(origin("c"), (Origin::Deliverable, ebu, Some(0.5)));
    }

    #[test]
    fn a_master_target_a_standard_overrides_is_said() {
        let p = project(
            "master \"broadcast\" target=-3 { }\n\
             deliverable \"broadcast\" { master \"broadcast\"; standard \"ebu-r128\"; format \"wav\"; }\n\
             deliverable \"plain\" { master \"broadcast\"; format \"wav\"; }\n",
        );
        let said = p.unused_settings();
        assert_eq!(
            said[0],
            "master \"broadcast\"'s target -3 LUFS is not used by deliverable \"broadcast\": \
             standard ebu-r128 sets -23 LUFS"
        );
        // The ceiling -1 the master defaults to is the standard's too.
        assert_eq!(said.len(), 1, "{said:?}");
    }

    #[test]
    fn a_target_closer_to_its_ceiling_than_a_sine_is_said_once() {
        let p = project(
            "master \"loud\" target=-3 { }\n\
             deliverable \"a\" { master \"loud\"; format \"wav\"; }\n\
             deliverable \"b\" { master \"loud\"; format \"flac\"; }\n\
             deliverable \"c\" target=-14 { master \"loud\"; format \"wav\"; }\n",
        );
        let said = p.unreachable_targets();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].starts_with("the target -3 LUFS (from the master) is 2 dB under the -1 dBTP ceiling (from the master)"), "{}", said[0]);
        assert!(
            said[0].ends_with("deliverables \"a\", \"b\""),
            "{}",
            said[0]
        );
        // 3 dB under, a sine's distance, can be reached.
        let p = project("master \"m\" target=-4 ceiling=-1 { }\ndeliverable \"a\" { master \"m\"; format \"wav\"; }\n");
        assert!(p.unreachable_targets().is_empty());
    }
}
