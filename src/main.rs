//! The `bounce` command.

mod analyze;
mod cli;
mod report;

fn main() {
    std::process::exit(cli::run());
}
