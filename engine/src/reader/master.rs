//! The `master` node: its chain, target, ceiling and mode.

use super::*;
use crate::targets::{CEILING_RANGE, DEFAULT_CEILING_DBTP, TARGET_RANGE};

impl Reader {
    pub(super) fn read_master(&mut self, node: NodeView) {
        let diags = &mut self.diags;
        node.check_shape(diags, &["target", "ceiling", "mode"], 1, true);
        let Some(name) = node.string_arg(diags, 0, "a name") else {
            return;
        };
        let target = node.optional_number_prop(diags, "target", TARGET_RANGE);
        let ceiling = node.optional_number_prop(diags, "ceiling", CEILING_RANGE);
        let mode = match node.choice_prop(diags, "mode", &["track", "album"]) {
            Some("album") => LoudnessMode::Album,
            _ => LoudnessMode::Track,
        };
        if mode == LoudnessMode::Album && target.is_none() {
            let span = node.span_of(node.prop("mode").expect("mode was read").span());
            diags.push(
                ProjectDiagnostic::new(&span, "album mode needs a `target=`")
                    .code(Code::MissingValue)
                    .help(
                        "mode=\"album\" solves one gain for the whole release to reach the target",
                    ),
            );
        }
        if let (Some(t), Some(c)) = (target, ceiling) {
            if t >= c {
                let span = node.span_of(node.prop("target").expect("target was read").span());
                diags.push(
                    ProjectDiagnostic::new(
                        &span,
                        format!("a target of {t} LUFS cannot sit at or above a {c} dBTP ceiling"),
                    )
                    .code(Code::OutOfRange),
                );
            }
        }
        if let Some(first) = self.masters.iter().find(|m| m.name == name) {
            let (line, _) = first.span.line_col();
            self.error(
                Code::Duplicate,
                &node.name_span(),
                format!("master \"{name}\" is defined twice"),
            )
            .help = Some(format!("the first is at {}:{line}", first.span.file.name));
        }
        let chain = self.read_chain(node);
        if chain.iter().any(|p| p.ducks_under().is_some()) {
            self.error(
                Code::BadRouting,
                &node.name_span(),
                "a duck belongs in the chain of a stem or bus (the bed's), not a master's",
            );
        }
        self.masters.push(Master {
            name,
            target,
            // The ceiling defaults whenever a target is set.
            ceiling: ceiling.or(target.map(|_| DEFAULT_CEILING_DBTP)),
            mode,
            chain,
            span: node.name_span(),
        });
    }
}
