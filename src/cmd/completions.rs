//! `cybrid-scan completions SHELL` and the hidden `cybrid-scan man`: clap's
//! own generators over the parser's definition, so neither can drift from
//! the options the binary takes.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::CommandFactory;
use cybrid_scan::cli::{Cli, CompletionsArgs};
use cybrid_scan::exit::Outcome;

pub fn completions(args: CompletionsArgs) -> Result<Outcome> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "cybrid-scan", &mut out);
    write_stdout(&out)
}

/// The manual page, one page for everything (as `rg --generate man` gives):
/// the top-level command, then a section per subcommand with its options.
pub fn man() -> Result<Outcome> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    subcommand_sections(&command, "cybrid-scan", &mut out)?;
    man.render_extra_section(&mut out)?;
    man.render_version_section(&mut out)?;
    write_stdout(&out)
}

/// `.SH "CYBRID-SCAN GIT"`: what the subcommand does and its options, for
/// each visible subcommand and theirs (`rules check`, `ci github`).
fn subcommand_sections(parent: &clap::Command, path: &str, out: &mut Vec<u8>) -> Result<()> {
    for sub in parent.get_subcommands().filter(|s| !s.is_hide_set()) {
        let path = format!("{path} {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", path.to_uppercase())?;
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            writeln!(out, "{}", escape(&about.to_string()))?;
        }
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            // Its options: clap_mangen titles them OPTIONS; here they are the
            // subcommand's, so the title says whose.
            let mut options = Vec::new();
            clap_mangen::Man::new(sub.clone()).render_options_section(&mut options)?;
            let options = String::from_utf8_lossy(&options);
            let title = format!(".SH \"{} OPTIONS\"", path.to_uppercase());
            out.extend_from_slice(options.replacen(".SH OPTIONS", &title, 1).as_bytes());
        }
        subcommand_sections(sub, &path, out)?;
    }
    Ok(())
}

/// A line of text that roff must not take for a request (a leading `.` or `'`).
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\\\");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

fn write_stdout(bytes: &[u8]) -> Result<Outcome> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(Outcome::Clean),
        // `cybrid-scan man | head`: a closed pipe is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Outcome::Clean),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}
