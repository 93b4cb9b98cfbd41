//! One error type for the whole library.
//!
//! Every failure an agent can meet is one variant here, and each agent
//! protocol maps a variant to its own exit codes (`fence::exit_code`,
//! `ocf::exit_code`). Messages are one line and never contain a secret:
//! HTTP bodies are passed through `redact` before they are stored, and no
//! variant carries a password or a token.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command line, bad stdin, unknown option or action, bad value.
    #[error("{0}")]
    Usage(String),

    /// The configuration is incomplete or contradicts itself (missing
    /// credentials, clouds.yaml without the named cloud, ...).
    #[error("{0}")]
    Config(String),

    /// No TCP/TLS connection, DNS failure, connection reset.
    #[error("cannot reach {service} at {url}: {reason}")]
    Unreachable {
        service: String,
        url: String,
        reason: String,
    },

    /// A request or an overall wait ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),

    /// Keystone refused the credentials (401) or the token.
    #[error("authentication failed at {url}: {message}")]
    Auth { url: String, message: String },

    /// An OpenStack API answered with an error status; `message` is the
    /// service's own message (Nova's `badRequest.message`, ...).
    #[error("{service} {method} {path}: HTTP {status}: {message}")]
    Api {
        service: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },

    /// The API answered 2xx with a body we cannot understand.
    #[error("{service}: unexpected response: {message}")]
    BadResponse { service: String, message: String },

    /// The named host, node or server does not exist.
    #[error("{0}")]
    NotFound(String),

    /// A cluster node name matches more than one Nova host (or none
    /// unambiguously); the message lists the candidates.
    #[error("{0}")]
    Ambiguous(String),

    /// A helper command (attrd_updater, crm_mon, ...) failed.
    #[error("{command}: {message}")]
    Command { command: String, message: String },

    /// Refusing to act because it would be unsafe (host still up, mass
    /// failure guard, not fenced, ...).
    #[error("refusing: {0}")]
    Unsafe(String),

    /// Local I/O (state files, journal, log).
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(msg: impl fmt::Display) -> Self {
        Error::Usage(msg.to_string())
    }
    pub fn config(msg: impl fmt::Display) -> Self {
        Error::Config(msg.to_string())
    }
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }
    /// The HTTP status of an API error, if this is one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// Worth retrying later: the service may answer next time.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout(_) => true,
            Error::Api { status, .. } => *status >= 500 || *status == 409 || *status == 429,
            _ => false,
        }
    }
}

/// Remove anything that looks like a secret from text that came from
/// outside (HTTP bodies, command output) before it goes into a message.
pub fn redact(text: &str) -> String {
    // Tokens and passwords never appear in Nova/Keystone error messages we
    // keep, but a misbehaving proxy could echo a request body; cut JSON
    // values of secret-looking keys and long opaque tokens.
    let mut out = String::with_capacity(text.len().min(512));
    let mut value_follows = false;
    for word in text.split_inclusive(|c: char| c.is_whitespace()) {
        let w = word.trim_end();
        let lower = w.to_ascii_lowercase();
        let secretish = ["password", "secret", "token"]
            .iter()
            .any(|k| lower.contains(k))
            && (w.contains(':') || w.contains('='));
        let opaque = w.len() >= 40
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=+/".contains(c));
        // `"password": "x"`: the key and its value are two words.
        let hide = secretish || opaque || value_follows;
        value_follows = secretish && (w.ends_with(':') || w.ends_with('='));
        if hide {
            out.push_str("<redacted>");
            out.push_str(&word[w.len()..]);
        } else {
            out.push_str(word);
        }
    }
    let mut s: String = out
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_cuts_secrets_and_tokens() {
        let t = "bad request {\"password\": \"hunter2\"} token=gAAAAABkZ7x8abcdefghijklmnopqrstuvwxyz0123456789";
        let r = redact(t);
        assert!(!r.contains("hunter2"), "{r}");
        assert!(
            !r.contains("gAAAAABkZ7x8abcdefghijklmnopqrstuvwxyz0123456789"),
            "{r}"
        );
        assert!(r.starts_with("bad request"));
    }

    #[test]
    fn redact_keeps_ordinary_messages() {
        let t = "Compute service of compute-1 is still in use.";
        assert_eq!(redact(t), t);
    }

    #[test]
    fn transient_errors() {
        let api = |status| Error::Api {
            service: "compute".into(),
            method: "GET".into(),
            path: "/".into(),
            status,
            message: String::new(),
        };
        assert!(api(503).is_transient());
        assert!(!api(400).is_transient());
        assert!(Error::Timeout("x".into()).is_transient());
    }
}
