//! `exec:COMMAND`: the values on the command's standard input as
//! `NAME=value` lines, never in its arguments or environment (both are
//! visible to other users of the machine through `ps` and `/proc`). The
//! command runs with `sh -c` (`cmd /C` on Windows), without the admin
//! credential's variables; its output is captured and shown only when it
//! fails, with both values redacted.

use std::io::Write;
use std::process::{Command, Stdio};

use super::Values;
use crate::revoke::api::{ADMIN_ID_VAR, ADMIN_SECRET_VAR};

/// Run `cmd` with the values on its standard input.
pub fn run(cmd: &str, values: &Values) -> Result<String, String> {
    let mut command = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(cmd);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd);
        c
    };
    let mut child = command
        .env_remove(ADMIN_ID_VAR)
        .env_remove(ADMIN_SECRET_VAR)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start the command: {e}"))?;
    let mut input = String::new();
    for (name, value) in values.pairs() {
        input.push_str(name);
        input.push('=');
        input.push_str(value.expose());
        input.push('\n');
    }
    // A command that does not read its input closes the pipe: not an error
    // by itself, its exit status decides.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    // Wipe our copy of the lines.
    let mut bytes = input.into_bytes();
    bytes.fill(0);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for the command: {e}"))?;
    if out.status.success() {
        return Ok("command succeeded".into());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: String = {
        let t = err.trim();
        let start = t.char_indices().rev().nth(300).map_or(0, |(i, _)| i);
        t[start..].to_string()
    };
    Err(format!(
        "the command failed ({}){}",
        out.status,
        if tail.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                crate::report::escape_for_terminal(&values.scrub(&tail))
            )
        }
    ))
}
