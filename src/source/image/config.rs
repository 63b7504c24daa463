//! An image configuration as the lines a person reads in `docker inspect`
//! and `docker history`: one `ENV`, `LABEL`, `CMD`, `ENTRYPOINT` per line,
//! then every history step's `created_by` (`RUN …`, build arguments
//! included). A secret passed with `--build-arg` or `ENV` lives there.

use serde_json::Value;

pub fn as_text(config: &[u8]) -> String {
    let Ok(c) = serde_json::from_slice::<Value>(config) else {
        // Not JSON: scan it as it is.
        return String::from_utf8_lossy(config).into_owned();
    };
    let cfg = if c["config"].is_object() {
        &c["config"]
    } else {
        &c["Config"]
    };
    let mut out = String::new();
    for e in cfg["Env"].as_array().into_iter().flatten() {
        if let Some(e) = e.as_str() {
            out.push_str(&format!("ENV {e}\n"));
        }
    }
    if let Some(labels) = cfg["Labels"].as_object() {
        for (k, v) in labels {
            out.push_str(&format!("LABEL {k}={}\n", v.as_str().unwrap_or_default()));
        }
    }
    for key in ["Entrypoint", "Cmd"] {
        let words: Vec<&str> = cfg[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !words.is_empty() {
            out.push_str(&format!("{} {}\n", key.to_uppercase(), words.join(" ")));
        }
    }
    for h in c["history"].as_array().into_iter().flatten() {
        if let Some(line) = h["created_by"].as_str() {
            // Buildah and Docker prefix shell steps with `/bin/sh -c`.
            let line = line
                .trim_start_matches("/bin/sh -c ")
                .trim_start_matches("#(nop) ")
                .trim();
            out.push_str(&format!("RUN {line}\n"));
        }
    }
    out
}
