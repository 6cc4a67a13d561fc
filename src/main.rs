//! The `bounce` command.

mod analyze;
mod cache;
mod cli;
mod report;
mod revisions;

fn main() {
    std::process::exit(cli::run());
}
