//! The `bounce` command.
#![forbid(unsafe_code)]

mod analyze;
mod args;
mod build_log;
mod building;
mod cache;
mod cli;
mod output;
mod progress;
mod revisions;
mod watch;

fn main() {
    bounce_nodes::contain::quiet_contained_panics();
    std::process::exit(cli::run());
}
