//! The `checks` node: the report's thresholds, and which warnings fail.
//!
//! ```kdl
//! checks {
//!     dc-offset -40 fail=#true      // dBFS
//!     silence head=2 tail=5         // seconds
//!     mono loss=4 antiphase=2       // LU, % of the time
//!     dynamics plr=6 fail=#true     // dB
//!     hi-res bits=24 rate=48000
//!     cover side=3000 fail=#true    // pixels
//! }
//! ```

use super::Reader;
use crate::diagnostic::Code;
use crate::kdl_view::{NodeView, Range};
use crate::model::CheckRules;

/// The children of `checks`: as written, the check they tune (as the
/// report names it), and the properties they take.
pub(super) const CHECKS: &[(&str, &str, &[&str])] = &[
    ("dc-offset", CheckRules::DC_OFFSET, &["fail"]),
    ("silence", CheckRules::SILENCE, &["head", "tail", "fail"]),
    ("mono", CheckRules::MONO, &["loss", "antiphase", "fail"]),
    ("dynamics", CheckRules::DYNAMICS, &["plr", "fail"]),
    ("hi-res", CheckRules::HI_RES, &["bits", "rate", "fail"]),
    ("cover", CheckRules::COVER, &["side", "fail"]),
];

impl Reader {
    pub(super) fn read_checks(&mut self, node: NodeView) {
        node.check_shape(&mut self.diags, &[], 0, true);
        if let Some(first) = &self.checks_at {
            let (line, _) = first.line_col();
            self.error(Code::Duplicate, &node.name_span(), "a second `checks`")
                .help = Some(format!(
                "a project has one `checks`; the first is at {}:{line}",
                first.file.name
            ));
            return;
        }
        self.checks_at = Some(node.name_span());
        let mut rules = CheckRules::default();
        for child in node.children() {
            let Some(&(_, name, props)) = CHECKS.iter().find(|c| c.0 == child.name()) else {
                let nodes: Vec<&str> = CHECKS.iter().map(|c| c.0).collect();
                self.unknown("check", child, child.name(), &nodes, "in `checks`");
                continue;
            };
            let diags = &mut self.diags;
            let args = usize::from(child.name() == "dc-offset");
            child.check_shape(diags, props, args, false);
            match child.name() {
                "dc-offset" if !child.args().is_empty() => {
                    if let Some(level) = child.number_arg(
                        diags,
                        0,
                        "a level in dBFS",
                        Range::between(-200.0, 0.0, "dBFS"),
                    ) {
                        rules.dc_offset = level;
                    }
                }
                "silence" => {
                    let seconds = Range::between(0.0, 3600.0, "s");
                    rules.head_silence =
                        child.number_prop(diags, "head", rules.head_silence, seconds);
                    rules.tail_silence =
                        child.number_prop(diags, "tail", rules.tail_silence, seconds);
                }
                "mono" => {
                    rules.mono_loss = child.number_prop(
                        diags,
                        "loss",
                        rules.mono_loss,
                        Range::between(0.0, 100.0, "LU"),
                    );
                    rules.antiphase = child.number_prop(
                        diags,
                        "antiphase",
                        rules.antiphase * 100.0,
                        Range::between(0.0, 100.0, "%"),
                    ) / 100.0;
                }
                "dynamics" => {
                    rules.plr =
                        child.number_prop(diags, "plr", rules.plr, Range::between(0.0, 60.0, "dB"));
                }
                "hi-res" => {
                    rules.hi_res_bits = child.number_prop(
                        diags,
                        "bits",
                        rules.hi_res_bits as f64,
                        Range::integer(8.0, 32.0),
                    ) as u16;
                    rules.hi_res_rate = child.number_prop(
                        diags,
                        "rate",
                        rules.hi_res_rate as f64,
                        Range::integer(8000.0, 768_000.0),
                    ) as u32;
                }
                "cover" => {
                    rules.cover_side = child.number_prop(
                        diags,
                        "side",
                        rules.cover_side as f64,
                        Range::integer(1.0, 100_000.0),
                    ) as u32;
                }
                _ => {}
            }
            if child.bool_prop(diags, "fail", false) && !rules.failing.contains(&name) {
                rules.failing.push(name);
            }
        }
        self.checks = rules;
    }
}
