//! `cybrid-scan incidents list|show|triage`: the datastore's incidents, one
//! per distinct credential, and their triage.

use std::io::{self, Write};

use anyhow::Result;
use cybrid_scan::cli::{IncidentsArgs, IncidentsCommand, IncidentsFormat};
use cybrid_scan::datastore::incidents::{HistoryRecord, IncidentRecord, OccurrenceRecord};
use cybrid_scan::datastore::{triage, Datastore};
use cybrid_scan::exit::Outcome;
use cybrid_scan::report::escape_for_terminal as esc;
use serde_json::json;

pub fn run(args: IncidentsArgs) -> Result<Outcome> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.command {
        IncidentsCommand::List {
            store,
            status,
            format,
        } => {
            let ds = Datastore::open_existing(&store.datastore)?;
            let incidents = ds.incidents(status)?;
            match format {
                IncidentsFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &json!({ "incidents": incidents }))?;
                    writeln!(out)?;
                }
                IncidentsFormat::Human => write_list(&incidents, &mut out)?,
            }
        }
        IncidentsCommand::Show {
            store,
            fingerprint,
            format,
        } => {
            let ds = Datastore::open_existing(&store.datastore)?;
            let fp = ds.resolve(&fingerprint)?;
            let (incident, occurrences, history) = ds.incident(&fp)?;
            match format {
                IncidentsFormat::Json => {
                    let mut value = serde_json::to_value(&incident)?;
                    value["places"] = serde_json::to_value(&occurrences)?;
                    value["history"] = serde_json::to_value(&history)?;
                    serde_json::to_writer_pretty(&mut out, &value)?;
                    writeln!(out)?;
                }
                IncidentsFormat::Human => write_one(&incident, &occurrences, &history, &mut out)?,
            }
        }
        IncidentsCommand::Triage {
            store,
            fingerprints,
            status,
            note,
            who,
        } => {
            let mut ds = Datastore::open_existing(&store.datastore)?;
            let who = triage::who(who.as_deref());
            for c in ds.triage(&fingerprints, status, &note, &who)? {
                writeln!(
                    out,
                    "{}: {} -> {} (by {})",
                    c.fingerprint,
                    c.from,
                    c.to,
                    esc(&who)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

fn write_list(incidents: &[IncidentRecord], out: &mut dyn Write) -> io::Result<()> {
    if incidents.is_empty() {
        return writeln!(out, "No incidents.");
    }
    for i in incidents {
        writeln!(
            out,
            "{}  {:<15} {:<6} {:<12} {}  {} occurrence(s) in {}  last seen {}",
            &i.fingerprint[..12.min(i.fingerprint.len())],
            i.status,
            i.confidence,
            i.verification.status,
            esc(&i.rule_id),
            i.occurrences,
            if i.repositories.is_empty() {
                i.sources.join(", ")
            } else {
                esc(&i.repositories.join(", "))
            },
            i.last_seen
        )?;
    }
    writeln!(out, "{} incident(s)", incidents.len())
}

fn write_one(
    i: &IncidentRecord,
    occurrences: &[OccurrenceRecord],
    history: &[HistoryRecord],
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "incident {}", i.fingerprint)?;
    writeln!(out, "  rule:         {}", esc(&i.rule_id))?;
    writeln!(out, "  secret:       {}", esc(&i.secret))?;
    if let Some(c) = &i.client_id {
        writeln!(out, "  client_id:    {}", esc(c))?;
    }
    writeln!(out, "  status:       {}", i.status)?;
    if !i.status_note.is_empty() {
        writeln!(out, "  note:         {}", esc(&i.status_note))?;
    }
    writeln!(out, "  confidence:   {}", i.confidence)?;
    let v = &i.verification;
    writeln!(
        out,
        "  verification: {}{}{}",
        v.status,
        v.environment
            .as_deref()
            .map(|e| format!(" in {}", esc(e)))
            .unwrap_or_default(),
        v.at.as_deref()
            .map(|a| format!(" at {a}"))
            .unwrap_or_default()
    )?;
    writeln!(out, "  first seen:   {}", i.first_seen)?;
    writeln!(out, "  last seen:    {}", i.last_seen)?;
    writeln!(out, "  occurrences ({}):", occurrences.len())?;
    for o in occurrences {
        let mut place = String::new();
        if !o.repository.is_empty() {
            place.push_str(&esc(&o.repository));
            place.push_str(": ");
        }
        place.push_str(&format!("{}:{}:{}", esc(&o.path), o.line, o.column));
        if !o.commit.is_empty() {
            place.push_str(&format!(" commit {}", &o.commit[..12.min(o.commit.len())]));
        }
        if !o.run.is_empty() {
            place.push_str(&format!(" run {} job {}", esc(&o.run), esc(&o.job)));
        }
        writeln!(out, "    [{}] {place}", o.source)?;
    }
    if !history.is_empty() {
        writeln!(out, "  history:")?;
        for h in history {
            writeln!(
                out,
                "    {} {} -> {} by {}: {}",
                h.at,
                h.from,
                h.to,
                esc(&h.who),
                esc(&h.note)
            )?;
        }
    }
    Ok(())
}
