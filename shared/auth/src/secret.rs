//! The embedded-mode HS256 key: taken from `VWC_JWT_SECRET`, else from `<data-dir>/jwt.secret`, else generated
//! once into that file (mode 0600) so tokens stay valid across restarts. A file other users can read is
//! refused.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// Shortest accepted HS256 key; RFC 7518 §3.2 asks for at least the hash size.
pub const MIN_SECRET_BYTES: usize = 32;
/// File name of the generated secret inside the data directory.
pub const SECRET_FILE_NAME: &str = "jwt.secret";

/// HS256 key bytes. Never printed: `Debug` shows `Secret(***)` and there is no `Display`.
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps key bytes; fewer than [`MIN_SECRET_BYTES`] is an `InvalidInput` error.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> io::Result<Secret> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a JWT secret needs at least {MIN_SECRET_BYTES} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        Ok(Secret(bytes))
    }

    /// A random key kept only in memory, for a process that neither issues nor verifies tokens anyone else
    /// sees (a daily job or a replay run by hand): no `jwt.secret` is written for it.
    pub fn ephemeral() -> Secret {
        let mut key = vec![0u8; MIN_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Secret(key)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `env_value` is the content of `VWC_JWT_SECRET` when set: its bytes are the key (≥ 32 bytes). Otherwise
/// `<data_dir>/jwt.secret` holds the base64 key; when it does not exist a random 32-byte key is written there
/// with mode 0600. Concurrent first calls agree on one key: the file appears atomically, complete, or not at all.
pub fn load_or_create_secret(env_value: Option<&str>, data_dir: &Path) -> io::Result<Secret> {
    if let Some(value) = env_value {
        return Secret::from_bytes(value.as_bytes()).map_err(|err| {
            io::Error::new(err.kind(), format!("VWC_JWT_SECRET is too short: {err}"))
        });
    }
    let path = data_dir.join(SECRET_FILE_NAME);
    match fs::read_to_string(&path) {
        Ok(content) => return parse_secret_file(&path, &content),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let mut dir = fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data_dir)?;

    let mut key = vec![0u8; MIN_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);

    // Written to a private temporary file first, then hard-linked into place: `link` fails if the target
    // exists, so a concurrent caller either wins (and we read its key) or never sees a half-written file.
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let temporary = data_dir.join(format!(
        ".{SECRET_FILE_NAME}.{}.tmp",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let written = write_private_file(
        &temporary,
        format!("{}\n", STANDARD.encode(&key)).as_bytes(),
    )
    .and_then(|()| fs::hard_link(&temporary, &path));
    let _ = fs::remove_file(&temporary);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new JWT signing secret");
            Secret::from_bytes(key)
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            parse_secret_file(&path, &fs::read_to_string(&path)?)
        }
        Err(err) => Err(err),
    }
}

fn write_private_file(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

fn parse_secret_file(path: &Path, content: &str) -> io::Result<Secret> {
    // Anyone who can read the key can mint a token for any organisation: refuse to use a key that has
    // been open to other users rather than trust it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is open to other users (mode {:o}); chmod 600 it, or delete it to generate a new key",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    let bytes = STANDARD.decode(content.trim()).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not base64: {err}", path.display()),
        )
    })?;
    Secret::from_bytes(bytes).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {err}", path.display()),
        )
    })
}
