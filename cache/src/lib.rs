//! bounce's content-addressed store. It knows bytes and hashes, never audio.
//!
//! Two maps, as in Bazel's remote cache:
//! - the **action cache** maps a step's key to what the step produced (the
//!   content hash of its output and a small JSON record of facts about it);
//! - the **blob store** maps a content hash to the bytes.
//!
//! Layout under the cache root (`.bounce/` by default):
//!
//! | path | holds |
//! | --- | --- |
//! | `CACHEDIR.TAG` | marks the folder as a cache for backup tools |
//! | `blobs/ab/abcdef…` | a blob, named by its BLAKE3 hash |
//! | `actions/ab/abcdef….json` | an [`ActionEntry`], named by the step key |
//! | `stat.json` | the [`StatCache`] of source files |
//! | `tmp/` | files being written; renamed into place when whole |
//!
//! Every write goes to `tmp/` first and is renamed into place, so a crash
//! never leaves a partial blob or entry.
#![forbid(unsafe_code)]

mod atomic;
mod care;
mod error;
mod hash;
mod layout;
mod lock;
mod remote;
mod stat_cache;
mod store;

pub use atomic::{remove_stale_temps, write_atomically, AtomicFile};
pub use care::{parse_size, BlobInfo, Evicted, Verification, DEFAULT_CACHE_SIZE};
pub use error::CacheError;
pub use hash::{hash_file, Hash};
pub use layout::{CacheLayout, Removal};
pub use lock::DirLock;
pub use remote::{RemoteCache, RemoteError, RemoteMode, RemoteReport, RemoteSettings};
pub use stat_cache::StatCache;
pub use store::{ActionEntry, Cache, TempFile};
