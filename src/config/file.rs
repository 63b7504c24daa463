//! The settings file, `.cybrid-scan.toml`: parsed strictly (an unknown key or
//! a wrong value is an error naming the file, line and key, never ignored),
//! with paths in it taken relative to the file's own directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::report::Format;

/// The file looked for in the scanned root.
pub const FILE_NAME: &str = ".cybrid-scan.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: `{key}`: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// What a config file sets; `None` / empty where it is silent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    pub path: PathBuf,
    pub format: Option<Format>,
    pub max_file_size: Option<u64>,
    /// Extra rules directories, resolved against the file's directory.
    pub rules: Vec<PathBuf>,
    pub allow_paths: Vec<String>,
    pub allow_fingerprints: Vec<String>,
    pub verify: VerifyTable,
}

/// The `[verify]` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyTable {
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub timeout: Option<f64>,
    pub deadline: Option<f64>,
    /// Environment name to identity-service base URL.
    pub endpoints: BTreeMap<String, String>,
    pub proxy: Option<String>,
}

type Value = Spanned<toml::Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: Option<Value>,
    max_file_size: Option<Value>,
    rules: Option<Value>,
    allow: Option<RawAllow>,
    verify: Option<RawVerify>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    paths: Option<Value>,
    fingerprints: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    concurrency: Option<Value>,
    rate: Option<Value>,
    timeout: Option<Value>,
    deadline: Option<Value>,
    endpoints: Option<Value>,
    proxy: Option<Value>,
}

/// Read and check one config file.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(path, &text)
}

/// Check a config file's text; `path` names it in errors and anchors relative paths.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let ctx = Ctx { path, text };
    let raw: Raw = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut cfg = FileConfig {
        path: path.to_path_buf(),
        ..FileConfig::default()
    };
    if let Some(v) = &raw.format {
        let s = ctx.string("format", v)?;
        let format = <Format as clap::ValueEnum>::from_str(s, true).map_err(|_| {
            let known: Vec<String> = <Format as clap::ValueEnum>::value_variants()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .map(|p| p.get_name().to_string())
                .collect();
            ctx.invalid(
                "format",
                v,
                format!("unknown format {s:?} (use one of {})", known.join(", ")),
            )
        })?;
        cfg.format = Some(format);
    }
    if let Some(v) = &raw.max_file_size {
        cfg.max_file_size = Some(match v.get_ref() {
            toml::Value::Integer(n) if *n > 0 => *n as u64,
            toml::Value::String(s) => crate::cli::parse_size(s)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ctx.invalid(
                        "max_file_size",
                        v,
                        format!("invalid size {s:?} (use e.g. 50M)"),
                    )
                })?,
            _ => {
                return Err(ctx.invalid(
                    "max_file_size",
                    v,
                    "expected a positive number of bytes or a size like \"50M\"".into(),
                ))
            }
        });
    }
    if let Some(v) = &raw.rules {
        cfg.rules = ctx
            .strings("rules", v)?
            .into_iter()
            .map(|d| base.join(d))
            .collect();
    }
    if let Some(allow) = &raw.allow {
        if let Some(v) = &allow.paths {
            let paths = ctx.strings("allow.paths", v)?;
            for p in &paths {
                crate::suppress::path_glob(p).map_err(|e| {
                    ctx.invalid("allow.paths", v, format!("bad glob {p:?}: {}", e.kind()))
                })?;
            }
            cfg.allow_paths = paths;
        }
        if let Some(v) = &allow.fingerprints {
            let fps = ctx.strings("allow.fingerprints", v)?;
            if let Some(bad) = fps
                .iter()
                .find(|f| f.len() != 64 || !f.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(ctx.invalid(
                    "allow.fingerprints",
                    v,
                    format!("{bad:?} is not a fingerprint (64 hex digits, as in a JSON report)"),
                ));
            }
            cfg.allow_fingerprints = fps;
        }
    }
    if let Some(verify) = &raw.verify {
        cfg.verify = ctx.verify(verify)?;
    }
    Ok(cfg)
}

/// Error-building helpers that know the file's name and text.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn place(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    }

    fn invalid(&self, key: &str, v: &Value, message: String) -> ConfigError {
        let (line, column) = self.place(v.span().start);
        ConfigError::Invalid {
            path: self.path.display().to_string(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }

    /// A serde or syntax error from `toml`: unknown keys and wrong shapes get
    /// the key named (with its table), syntax errors their place.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = self.place(offset);
        let mut message = e.message().trim().replace('\n', "; ");
        // Our private struct names mean nothing to a user.
        if let Some(i) = message.find("expected struct Raw") {
            message.replace_range(i.., "expected a table");
        }
        let path = self.path.display().to_string();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let key = rest.split('`').next().unwrap_or_default();
            let expected = rest.split_once(", expected ").map(|(_, x)| x);
            return ConfigError::Invalid {
                path,
                line,
                column,
                key: self.qualified(offset, key),
                message: match expected {
                    Some(x) => format!("unknown key (expected {x})"),
                    None => "unknown key".into(),
                },
            };
        }
        if message.starts_with("invalid") {
            if let Some(key) = self.key_on_line(offset) {
                return ConfigError::Invalid {
                    path,
                    line,
                    column,
                    key: self.qualified(offset, &key),
                    message,
                };
            }
        }
        ConfigError::Syntax {
            path,
            line,
            column,
            message,
        }
    }

    /// The key assigned on the line holding `offset`, if the line is `key = …`.
    fn key_on_line(&self, offset: usize) -> Option<String> {
        let start = self.text[..offset.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim().trim_matches('"');
        (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
    }

    /// `key` prefixed with the `[table]` it sits in, if any.
    fn qualified(&self, offset: usize, key: &str) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let table = self.text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && !l.starts_with("[["))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        match table {
            Some(t) if !key.starts_with(&format!("{t}.")) => format!("{t}.{key}"),
            _ => key.to_string(),
        }
    }

    fn string<'v>(&self, key: &str, v: &'v Value) -> Result<&'v str, ConfigError> {
        v.get_ref()
            .as_str()
            .ok_or_else(|| self.invalid(key, v, format!("expected a string, found {}", kind(v))))
    }

    fn strings(&self, key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
        let wrong = || {
            self.invalid(
                key,
                v,
                format!("expected a list of strings, found {}", kind(v)),
            )
        };
        let arr = v.get_ref().as_array().ok_or_else(wrong)?;
        arr.iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(wrong))
            .collect()
    }

    fn positive(&self, key: &str, v: &Value) -> Result<f64, ConfigError> {
        let n = match v.get_ref() {
            toml::Value::Integer(i) => *i as f64,
            toml::Value::Float(f) => *f,
            _ => return Err(self.invalid(key, v, format!("expected a number, found {}", kind(v)))),
        };
        if n.is_finite() && n > 0.0 {
            Ok(n)
        } else {
            Err(self.invalid(key, v, format!("must be greater than zero, found {n}")))
        }
    }

    fn verify(&self, raw: &RawVerify) -> Result<VerifyTable, ConfigError> {
        let mut out = VerifyTable::default();
        if let Some(v) = &raw.concurrency {
            out.concurrency = Some(match v.get_ref() {
                toml::Value::Integer(n) if *n > 0 => *n as usize,
                _ => {
                    return Err(self.invalid(
                        "verify.concurrency",
                        v,
                        "expected a whole number greater than zero".into(),
                    ))
                }
            });
        }
        if let Some(v) = &raw.rate {
            out.rate = Some(self.positive("verify.rate", v)?);
        }
        if let Some(v) = &raw.timeout {
            out.timeout = Some(self.positive("verify.timeout", v)?);
        }
        if let Some(v) = &raw.deadline {
            out.deadline = Some(self.positive("verify.deadline", v)?);
        }
        if let Some(v) = &raw.proxy {
            out.proxy = Some(self.string("verify.proxy", v)?.to_string());
        }
        if let Some(v) = &raw.endpoints {
            let table = v.get_ref().as_table().ok_or_else(|| {
                self.invalid(
                    "verify.endpoints",
                    v,
                    "expected a table of environment = \"URL\" (e.g. sandbox = \"http://127.0.0.1:8080\")"
                        .into(),
                )
            })?;
            for (env, url) in table {
                let key = format!("verify.endpoints.{env}");
                let url = url
                    .as_str()
                    .ok_or_else(|| self.invalid(&key, v, "expected a URL string".into()))?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(self.invalid(
                        &key,
                        v,
                        format!("{url:?} is not an http:// or https:// URL"),
                    ));
                }
                out.endpoints.insert(env.clone(), url.to_string());
            }
        }
        Ok(out)
    }
}

fn kind(v: &Value) -> &'static str {
    v.get_ref().type_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("cfg/.cybrid-scan.toml"), text)
            .expect_err("should be rejected")
            .to_string()
    }

    #[test]
    fn full_file_parses() {
        let cfg = parse(
            Path::new("/repo/.cybrid-scan.toml"),
            r#"
format = "sarif"
max_file_size = "2M"
rules = ["ci/rules"]

[allow]
paths = ["tests/fixtures/**"]
fingerprints = ["0000000000000000000000000000000000000000000000000000000000000000"]

[verify]
concurrency = 4
rate = 2.5
timeout = 3
endpoints = { sandbox = "http://127.0.0.1:9" }
"#,
        )
        .expect("valid");
        assert_eq!(cfg.format, Some(Format::Sarif));
        assert_eq!(cfg.max_file_size, Some(2 << 20));
        assert_eq!(cfg.rules, vec![PathBuf::from("/repo/ci/rules")]);
        assert_eq!(cfg.verify.concurrency, Some(4));
        assert_eq!(cfg.verify.timeout, Some(3.0));
        assert_eq!(cfg.verify.endpoints["sandbox"], "http://127.0.0.1:9");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err("format = \"json\"\n\n[verify]\nconcurency = 3\n");
        assert!(e.starts_with("cfg/.cybrid-scan.toml:4:"), "{e}");
        assert!(e.contains("`verify.concurency`"), "{e}");
        assert!(e.contains("unknown key"), "{e}");

        let e = err("formt = \"json\"\n");
        assert!(e.starts_with("cfg/.cybrid-scan.toml:1:"), "{e}");
        assert!(e.contains("`formt`"), "{e}");

        let e = err("\n[verify]\ntimeout = -1\n");
        assert!(e.starts_with("cfg/.cybrid-scan.toml:3:"), "{e}");
        assert!(e.contains("`verify.timeout`"), "{e}");

        let e = err("max_file_size = \"lots\"\n");
        assert!(e.contains(":1:") && e.contains("`max_file_size`"), "{e}");

        let e = err("[allow]\npaths = \"x\"\n");
        assert!(e.contains(":2:") && e.contains("`allow.paths`"), "{e}");

        let e = err("[allow]\nfingerprints = [\"abc\"]\n");
        assert!(e.contains("`allow.fingerprints`"), "{e}");

        let e = err("format = \"xml\"\n");
        assert!(e.contains("`format`") && e.contains("xml"), "{e}");

        let e = err("allow = 3\n");
        assert!(e.contains(":1:") && e.contains("`allow`"), "{e}");
        assert!(e.contains("expected a table") && !e.contains("Raw"), "{e}");

        let e = err("format = \n");
        assert!(e.starts_with("cfg/.cybrid-scan.toml:1:"), "{e}");
    }
}
