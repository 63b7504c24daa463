//! `cybrid-idsim`: a local stand-in for Cybrid's identity service, for demos
//! and for tests that run the scanner against it (see README, Verification).
//!
//! Prints the URL it listens on (one line on standard output), then serves
//! until killed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cybrid_scan::idsim::{Seed, Simulator};

#[derive(Debug, Parser)]
#[command(
    name = "cybrid-idsim",
    version,
    about = "Simulate Cybrid's identity service (token and application endpoints) with injectable faults"
)]
struct Args {
    /// Port to listen on (0: any free port; the URL is printed)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Environment of paths without an environment prefix (/oauth/token)
    #[arg(long, default_value = "sandbox", value_parser = ["sandbox", "production", "staging"])]
    environment: String,
    /// JSON file of applications (and faults) to start with
    #[arg(long, value_name = "FILE")]
    applications: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = match &args.applications {
        None => Seed::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Seed::from_json(&text).map_err(|e| e.to_string()))
        {
            Ok(seed) => seed,
            Err(e) => {
                eprintln!("cybrid-idsim: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let bind = if args.host.contains(':') {
        format!("[{}]:{}", args.host, args.port)
    } else {
        format!("{}:{}", args.host, args.port)
    };
    let sim = match Simulator::start(&bind, &args.environment, seed) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("cybrid-idsim: cannot listen on {bind}: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", sim.url());
    let _ = std::io::stdout().flush();
    sim.wait();
    ExitCode::SUCCESS
}
