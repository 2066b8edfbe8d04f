//! The one type that carries a credential through convoy. Its `Debug` and `Display` print
//! `[redacted]`, so a secret inside any struct, error or log line cannot leak by formatting;
//! the value is reachable only through [`Secret::expose`], and is wiped from memory on drop.
//! Creating a `Secret` also registers its value with the process-wide redactor, so the value
//! is scrubbed even if it reaches output by another path (a server echoing it in an error).

use std::fmt;

use zeroize::Zeroizing;

use super::redact;

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "[redacted]";

/// A credential value. Cloning copies the value; every copy is wiped when dropped.
#[derive(Clone)]
pub struct Secret(pub(super) Zeroizing<String>);

impl Secret {
    /// Wraps `value` and registers it with the redactor (values shorter than 4 characters
    /// are not registered: scrubbing them would mangle ordinary output).
    pub fn new(value: String) -> Secret {
        redact::register(&value);
        Secret(Zeroizing::new(value))
    }

    /// The value, for the one place that must hand it to a driver or a cipher.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Connection {
        user: String,
        password: Secret,
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2-canary-value".to_string());
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s:#?}"), REDACTED);
        assert_eq!(s.expose(), "hunter2-canary-value");
    }

    #[test]
    fn derived_debug_of_a_containing_struct_is_redacted() {
        let c = Connection {
            user: "loader".into(),
            password: Secret::new("struct-canary-4711".into()),
        };
        for text in [format!("{c:?}"), format!("{c:#?}")] {
            assert!(!text.contains("struct-canary-4711"), "{text}");
            assert!(text.contains("loader") && text.contains(REDACTED), "{text}");
        }
        let list = vec![c.password.clone(), c.password];
        assert!(!format!("{list:?}").contains("struct-canary"));
    }

    #[test]
    fn new_registers_with_the_redactor() {
        let _s = Secret::new("registered-canary-99".to_string());
        let out = redact::redact("server said: bad password registered-canary-99!");
        assert_eq!(out, "server said: bad password [redacted]!");
    }

    #[test]
    fn short_values_are_not_registered() {
        let _s = Secret::new("abc".to_string());
        assert_eq!(redact::redact("abcdef abc"), "abcdef abc");
    }
}
