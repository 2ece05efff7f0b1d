//! Secret key files in the data dir: created once, readable by the owner only (folder 0700,
//! file 0600), and never half-written: a new key is written to a temporary file and linked
//! into place, so concurrent first starts agree on one key.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::KeyError;

/// The bytes of the key file at `path`, creating it with `make()` if it does not exist.
pub(crate) fn load_or_create(
    path: &Path,
    make: impl FnOnce() -> Result<Vec<u8>, KeyError>,
) -> Result<Vec<u8>, KeyError> {
    match fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("read key file", e)),
    }
    let dir = path
        .parent()
        .ok_or_else(|| KeyError::Invalid("key file path has no parent".to_owned()))?;
    create_private_dir(dir)?;
    let bytes = make()?;
    let tmp = dir.join(format!(".key.{}.tmp", uuid::Uuid::new_v4()));
    write_private_file(&tmp, &bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(bytes),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            fs::read(path).map_err(|e| io_error("read key file", e))
        }
        Err(e) => Err(io_error("store key file", e)),
    }
}

fn io_error(context: &str, source: std::io::Error) -> KeyError {
    KeyError::Io {
        context: context.to_owned(),
        source,
    }
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error("create key folder", e))
}

fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| io_error("create key file", e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error("write key file", e))
}
