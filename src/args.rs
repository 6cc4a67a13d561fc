//! What every command shares: exit statuses, the project and shared-cache
//! arguments, the message format, and reading the project.

use std::path::PathBuf;

use bounce_engine::{load_project, BuildOptions, Project};
use clap::ValueEnum;

use crate::build_log::print_project_errors;

/// Exit status: the build failed or an output is out of spec.
pub const EXIT_FAILED: i32 = 1;

/// Exit status: the project file or the command line is wrong.
pub const EXIT_USAGE: i32 = 2;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(clap::Args)]
pub(crate) struct ProjectArgs {
    /// The project file.
    #[arg(short = 'f', long = "file", default_value = "bounce.kdl")]
    pub file: PathBuf,
    /// The cache folder (default: .bounce/ beside the project file, or $BOUNCE_CACHE).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// A cache shared with other machines.
#[derive(clap::Args)]
pub(crate) struct RemoteArgs {
    /// A shared cache: s3://BUCKET/PREFIX (endpoint, region and credentials
    /// from the AWS variables), webdav+http(s)://HOST/PATH, http(s)://HOST/PATH
    /// (read only) or file:///PATH.
    #[arg(long, env = "BOUNCE_REMOTE_CACHE", global = true)]
    pub remote_cache: Option<String>,
    /// What the build may do with the shared cache.
    #[arg(long, value_enum, default_value = "read-write", global = true)]
    pub remote_cache_mode: RemoteModeArg,
    /// Fail when the shared cache fails, instead of going on locally.
    #[arg(long, global = true)]
    pub remote_cache_required: bool,
    /// Seconds before a request to the shared cache gives up.
    #[arg(long, default_value_t = 10.0, global = true)]
    pub remote_cache_timeout: f64,
    /// Tries again after a failed request.
    #[arg(long, default_value_t = 2, global = true)]
    pub remote_cache_retries: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RemoteModeArg {
    Read,
    Write,
    ReadWrite,
}

impl RemoteArgs {
    /// The shared cache, if one is named; a bad URL is a usage error.
    pub fn open(&self) -> Result<Option<std::sync::Arc<bounce_cache::RemoteCache>>, i32> {
        let Some(url) = &self.remote_cache else {
            return Ok(None);
        };
        let settings = bounce_cache::RemoteSettings {
            url: url.clone(),
            mode: match self.remote_cache_mode {
                RemoteModeArg::Read => bounce_cache::RemoteMode::Read,
                RemoteModeArg::Write => bounce_cache::RemoteMode::Write,
                RemoteModeArg::ReadWrite => bounce_cache::RemoteMode::ReadWrite,
            },
            required: self.remote_cache_required,
            timeout: std::time::Duration::from_secs_f64(self.remote_cache_timeout.max(0.1)),
            retries: self.remote_cache_retries,
        };
        bounce_cache::RemoteCache::open(&settings)
            .map(|remote| Some(std::sync::Arc::new(remote)))
            .map_err(|error| {
                eprintln!("error: {error}");
                EXIT_USAGE
            })
    }
}

impl ProjectArgs {
    /// Build options for this project: its cache and the shared cache.
    pub fn options(&self) -> Result<BuildOptions, i32> {
        Ok(BuildOptions {
            cache_dir: self.cache_dir.clone(),
            remote: self.remote.open()?,
            ..BuildOptions::default()
        })
    }
}

pub(crate) fn load(args: &ProjectArgs) -> Result<Project, i32> {
    load_with(args, load_project)
}

/// Reads the project with `loader`, printing its errors.
pub(crate) fn load_with(
    args: &ProjectArgs,
    loader: fn(&std::path::Path) -> Result<Project, bounce_engine::ProjectErrors>,
) -> Result<Project, i32> {
    loader(&args.file).map_err(|errors| {
        print_project_errors(&errors);
        EXIT_USAGE
    })
}

pub(crate) fn parse_cache_size(text: &str) -> Result<u64, String> {
    bounce_cache::parse_size(text)
        .ok_or_else(|| format!("`{text}` is not a size such as 20G or 500M"))
}
