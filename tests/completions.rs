//! `cybrid-scan completions SHELL` and `cybrid-scan man`: clap's generators over
//! the real parser, checked by the shells and `man` themselves.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cybrid-scan"))
        .args(args)
        .output()
        .expect("run cybrid-scan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SUBCOMMANDS: [&str; 9] = [
    "dir",
    "git",
    "logs",
    "sweep",
    "revoke",
    "rotate",
    "merge",
    "ci",
    "completions",
];

#[test]
fn completions_for_every_shell_name_the_subcommands_and_options() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for sub in SUBCOMMANDS {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
        // fish names long options without their dashes (`-l range`).
        assert!(out.contains("min-confidence"), "{shell}");
        assert!(out.contains("range"), "{shell}");
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
    assert!(err.contains("bash"), "{err}");
}

#[test]
fn bash_completions_parse_and_complete_subcommands() {
    let (code, out, err) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cybrid-scan.bash");
    std::fs::write(&file, &out).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        syntax.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Loaded into a shell, it completes `cybrid-scan g` to `git`.
    let script = format!(
        "source '{}'; f=$(complete -p cybrid-scan | sed -E 's/.* -F ([^ ]+) .*/\\1/'); \
         COMP_WORDS=(cybrid-scan g); COMP_CWORD=1; COMP_LINE='cybrid-scan g'; COMP_POINT=13; \
         \"$f\" cybrid-scan g cybrid-scan; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let done = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&done.stdout);
    assert!(
        words.lines().any(|w| w == "git"),
        "completions offered: {words:?}; {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn the_manual_page_is_roff_with_every_subcommand_and_renders() {
    let (code, page, err) = run(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(page.starts_with(".ie") || page.contains("\n.TH ") || page.starts_with(".TH "));
    assert!(
        page.contains(".TH cybrid-scan 1"),
        "{}",
        &page[..page.len().min(400)]
    );
    for sub in [
        "dir",
        "git",
        "logs",
        "sweep",
        "revoke",
        "rotate",
        "merge",
        "ci",
        "completions",
    ] {
        let heading = format!(".SH \"CYBRID-SCAN {}\"", sub.to_uppercase());
        assert!(page.contains(&heading), "no section {heading}");
    }
    assert!(
        page.contains("\\-\\-min\\-confidence"),
        "options are listed"
    );
    // `man` itself renders it, when installed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cybrid-scan.1");
    std::fs::write(&file, &page).unwrap();
    match Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&file)
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C")
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("CYBRID-SCAN GIT OPTIONS"), "{text}");
            assert!(text.contains("--range"), "{text}");
        }
        Err(e) => eprintln!("man not installed ({e}): rendering not checked"),
    }
}
