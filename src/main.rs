//! The `bounce` command.

mod analyze;
mod cache;
mod cli;
mod report;

fn main() {
    std::process::exit(cli::run());
}
