//! The admin token: from `--admin-token` or from the file `--admin-token-file` names, and long
//! enough to resist guessing. Neither the token nor a part of it is ever put in a message.
use std::path::Path;

use crate::config::Config;

/// The shortest admin token accepted.
pub const MIN_LEN: usize = 24;

/// How to make a good token, for the messages below.
const HOW_TO: &str = "make one with `openssl rand -hex 32` (or `head -c 32 /dev/urandom | base64`)";

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("the admin token is shorter than {MIN_LEN} characters; {HOW_TO}")]
    TooShort,
    #[error("cannot read the admin token file {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("the admin token file {path} is empty; {HOW_TO} and write it there")]
    EmptyFile { path: String },
}

/// The configured admin token, checked; `None` leaves the admin API off.
pub fn resolve(config: &Config) -> Result<Option<String>, AdminTokenError> {
    let token = match (&config.admin_token, &config.admin_token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => read_file(path)?,
        (None, None) => return Ok(None),
    };
    check(&token)?;
    Ok(Some(token))
}

fn read_file(path: &Path) -> Result<String, AdminTokenError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AdminTokenError::Unreadable {
        path: shown.clone(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(AdminTokenError::EmptyFile { path: shown });
    }
    Ok(token.to_string())
}

pub fn check(token: &str) -> Result<(), AdminTokenError> {
    if token.chars().count() < MIN_LEN {
        return Err(AdminTokenError::TooShort);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_shorter_than_24_characters_are_refused_without_being_echoed() {
        let short = "x".repeat(MIN_LEN - 1);
        let err = check(&short).unwrap_err().to_string();
        assert!(err.contains("24") && err.contains("openssl rand"), "{err}");
        assert!(!err.contains(&short));
        assert!(check(&"x".repeat(MIN_LEN)).is_ok());
    }
}
