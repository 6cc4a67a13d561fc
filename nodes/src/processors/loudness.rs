//! `loudness`: a static gain that brings the chain's integrated loudness
//! to a level. The chain runner measures what reaches it and resolves it
//! to a `gain` before anything is built, so it has no running state.

use super::kind::{Kind, Param};
use super::{Processor, ProcessorSpec};

pub const KIND: Kind = Kind {
    name: "loudness",
    summary: "a static gain that brings the chain's integrated loudness to a level",
    params: &[Param::argument("a loudness in LUFS", "LUFS", -70.0, 0.0)],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Loudness { lufs: v[0] }),
    in_chain: true,
    example: "loudness -16",
};

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(_: &f64) -> bool {
    false
}

pub(super) fn describe(lufs: &f64) -> String {
    format!("loudness {lufs} LUFS")
}

pub(super) fn build(_: &f64, _: &super::ProcessorContext) -> Box<dyn Processor> {
    unreachable!("the chain runner resolves loudness before building")
}
