//! What a path names, before anything opens it: bounce reads regular files
//! only. A FIFO would block a read forever, a device (`/dev/zero`) never
//! ends, and a folder or a dangling link is no audio: each is named as what
//! it is rather than reported as a missing or damaged file.

use std::fs;
use std::io;
use std::path::Path;

/// Why `path` is not a regular file bounce can read, or `None` if it is one
/// (following symbolic links, as opening it would).
pub fn not_a_regular_file(path: &Path) -> Option<String> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) => return Some(describe_error(path, &error)),
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    Some(if kind.is_dir() {
        "a folder, not a file".into()
    } else {
        special_kind(&kind).into()
    })
}

fn describe_error(path: &Path, error: &io::Error) -> String {
    let dangling = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match error.kind() {
        io::ErrorKind::NotFound if dangling => "a symbolic link to nothing".into(),
        io::ErrorKind::NotFound => "not found".into(),
        _ if error.raw_os_error() == Some(40) => "a loop of symbolic links".into(),
        _ => error.to_string(),
    }
}

#[cfg(unix)]
fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe), not a file"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device, not a file"
    } else if kind.is_socket() {
        "a socket, not a file"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &fs::FileType) -> &'static str {
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_path_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        fs::write(&file, b"x").unwrap();
        assert_eq!(not_a_regular_file(&file), None);
        assert_eq!(
            not_a_regular_file(dir.path()).unwrap(),
            "a folder, not a file"
        );
        assert!(not_a_regular_file(Path::new("/dev/zero"))
            .unwrap()
            .contains("device"));
        assert_eq!(
            not_a_regular_file(&dir.path().join("no.wav")).unwrap(),
            "not found"
        );
        let link = dir.path().join("dangling.wav");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        assert!(not_a_regular_file(&link)
            .unwrap()
            .contains("link to nothing"));
        let a = dir.path().join("loop-a");
        let b = dir.path().join("loop-b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(not_a_regular_file(&a).unwrap().contains("loop"));
    }
}
