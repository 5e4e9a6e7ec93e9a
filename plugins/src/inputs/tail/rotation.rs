//! Telling rotation from deletion, and when a rotated file is done.
//!
//! A followed file is rotated when its path no longer leads to it: the path is gone or names
//! another file (another device and inode), while the file itself still has a name, found
//! through `/proc/self/fd`. It is deleted when it has no name left (`st_nlink == 0`).
//!
//! After a rename rotation tail keeps reading the old file under its new name for
//! `rotate_wait`, for lines its writer adds late, and follows the new file at the path from
//! its first byte. A truncation (`copytruncate`) is not a rotation: the same file shrinks, and
//! tail starts it over from the beginning (see `read_block`). A truncation shows only while
//! the file is shorter than where tail stood: if the writer has written past that point again
//! before tail looks, the truncation cannot be seen (Fluent Bit has the same limit).

use super::db::FileId;
use super::file::{real_name, TailFile};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

/// What became of a followed file's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathState {
    /// The path still leads to the file.
    Same,
    /// The file lives on under `new_name`; the path is free or names another file.
    Rotated { new_name: PathBuf },
    /// The file has no name any more.
    Deleted,
}

/// Checks a file that is not known to be rotated yet.
pub fn check(f: &TailFile) -> PathState {
    if let Ok(m) = std::fs::metadata(&f.name) {
        if FileId::of(&m) == f.id {
            return PathState::Same;
        }
    }
    if let Ok(m) = f.file.metadata() {
        if m.nlink() == 0 {
            return PathState::Deleted;
        }
    }
    match real_name(&f.file) {
        Some((_, true)) => PathState::Deleted,
        Some((new_name, false)) => PathState::Rotated { new_name },
        // Without /proc the new name is unknown; the file is followed under its old one.
        None => PathState::Rotated {
            new_name: f.name.clone(),
        },
    }
}

/// Whether a file rotated `since` ago has been kept long enough.
pub fn due(since: Duration, rotate_wait: Duration) -> bool {
    since >= rotate_wait
}

/// Whether the open file has lost its last name.
pub fn is_deleted(f: &TailFile) -> bool {
    f.file.metadata().map(|m| m.nlink() == 0).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::tail::record::RecordLayout;
    use std::fs::File;

    fn follow(path: &std::path::Path) -> TailFile {
        let f = File::open(path).unwrap();
        let id = FileId::of(&f.metadata().unwrap());
        let l = RecordLayout::new("log", None, None);
        TailFile::new(
            id,
            path.to_path_buf(),
            f,
            "t".into(),
            0,
            &l,
            100,
            crate::inputs::tail::lines::LongLines::Stop,
            None,
            false,
            1,
        )
    }

    #[test]
    fn rename_is_rotation_and_new_file_is_not_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, b"a\n").unwrap();
        let f = follow(&p);
        assert_eq!(check(&f), PathState::Same);
        let q = dir.path().join("app.log.1");
        std::fs::rename(&p, &q).unwrap();
        match check(&f) {
            PathState::Rotated { new_name } => {
                if real_name(&f.file).is_some() {
                    assert_eq!(new_name, q.canonicalize().unwrap());
                }
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&p, b"new\n").unwrap();
        assert!(
            matches!(check(&f), PathState::Rotated { .. }),
            "a new file at the path is another file"
        );
        assert!(!is_deleted(&f));
    }

    #[test]
    fn unlink_is_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, b"a\n").unwrap();
        let f = follow(&p);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(check(&f), PathState::Deleted);
        assert!(is_deleted(&f));
    }

    #[test]
    fn truncation_is_not_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, b"aaaa\n").unwrap();
        let f = follow(&p);
        std::fs::write(&p, b"").unwrap();
        assert_eq!(check(&f), PathState::Same);
    }

    #[test]
    fn rotate_wait() {
        assert!(!due(Duration::from_secs(4), Duration::from_secs(5)));
        assert!(due(Duration::from_secs(5), Duration::from_secs(5)));
        assert!(due(Duration::ZERO, Duration::ZERO));
    }
}
