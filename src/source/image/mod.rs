//! Container images from a registry (`REGISTRY/NAME:TAG|@DIGEST`, over the
//! distribution API v2) or local archives: `docker-archive:FILE` (what
//! `docker save` / `skopeo copy … docker-archive:` write) and
//! `oci:DIR[:TAG]` (an OCI image layout). Every layer is scanned, files a
//! later layer deletes or overwrites included (they are still in the image
//! anyone can pull), and the configuration: `Env`, `Labels`,
//! `Cmd`/`Entrypoint` and every `history` line. Each layer is read once as
//! a stream (gzip, zstd or plain tar); a layer shared by several images is
//! scanned once per run.

mod config;
mod credentials;
mod layer;
mod layout;
mod reference;
mod registry;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::collect::{to_findings, Collector};
use crate::detect::{Engine, Scratch};
use crate::finding::{Finding, Location, SourceKind};

pub use layout::LayoutError;
pub use reference::RegistryRef;

/// An image as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `docker-archive:FILE`
    DockerArchive(PathBuf),
    /// `oci:DIR[:TAG]`
    Oci { dir: PathBuf, tag: Option<String> },
    /// `REGISTRY/NAME:TAG` or `REGISTRY/NAME@DIGEST` (Docker Hub when no registry is named)
    Registry(RegistryRef),
}

impl ImageRef {
    pub fn parse(spec: &str) -> Result<Self, LayoutError> {
        if let Some(file) = spec.strip_prefix("docker-archive:") {
            return Ok(ImageRef::DockerArchive(PathBuf::from(file)));
        }
        if let Some(rest) = spec.strip_prefix("oci:") {
            // A tag follows the last ':' unless that ':' is part of the path.
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') && !d.is_empty() => (d, Some(t.to_string())),
                _ => (rest, None),
            };
            return Ok(ImageRef::Oci {
                dir: PathBuf::from(dir),
                tag,
            });
        }
        RegistryRef::parse(spec)
            .map(ImageRef::Registry)
            .ok_or_else(|| LayoutError::Unsupported(spec.to_string()))
    }
}

/// What one image's scan read.
#[derive(Debug, Default)]
pub struct ImageSummary {
    pub digest: String,
    pub layers: u64,
    /// Layers already scanned for an earlier image of this run.
    pub shared: u64,
    pub files: u64,
}

/// Settings of an image scan.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    pub max_file_size: u64,
    /// Bytes one layer may inflate to.
    pub max_layer: u64,
    /// `os/arch[/variant]` to pick from a multi-platform index.
    pub platform: Option<String>,
}

/// The paths a layer writes and deletes, kept per digest for the run: a
/// layer shared by several images is read once (from a registry, fetched
/// once), and the later images still know what it deletes or overwrites.
#[derive(Debug, Default)]
pub struct SeenLayers(HashMap<String, LayerPaths>);

#[derive(Debug, Clone, Default)]
struct LayerPaths {
    written: Vec<String>,
    deleted: Vec<String>,
}

/// Scan one image into `out`; `seen` holds the layers this run already
/// scanned (by digest).
pub fn scan_image(
    spec: &str,
    opts: &ImageOptions,
    engine: &Engine,
    out: &Collector,
    seen: &mut SeenLayers,
) -> Result<ImageSummary, LayoutError> {
    let image_ref = ImageRef::parse(spec)?;
    let mut image = layout::open(&image_ref, opts.platform.as_deref())?;
    // A registry reference named by digest shows the digest of what was read
    // (an index's digest becomes the chosen platform's manifest's).
    let named = match &image_ref {
        ImageRef::Registry(_) => spec.split('@').next().unwrap_or(spec),
        _ => spec,
    };
    let shown = format!("{named}@{}", image.digest);
    let mut summary = ImageSummary {
        digest: image.digest.clone(),
        ..ImageSummary::default()
    };
    let mut scratch = Scratch::default();
    let mut findings: Vec<Finding> = Vec::new();
    let base = Location {
        source: SourceKind::Image,
        image: Some(shown.clone()),
        ..Location::default()
    };

    // The configuration: what `docker inspect` and `docker history` show.
    let text = config::as_text(&image.config);
    out.scanned(text.len() as u64);
    let detections = engine.scan(text.as_bytes(), &mut scratch);
    if !detections.is_empty() {
        let mut at = base.clone();
        at.path = "config".to_string();
        at.layer = Some("config".to_string());
        findings.extend(to_findings(engine, text.as_bytes(), detections, &at));
    }

    // The layers, in order; what each deletes or overwrites, for the note.
    let mut last_writer: BTreeMap<String, usize> = BTreeMap::new();
    let mut removed: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for i in 0..image.layers.len() {
        let digest = image.layers[i].digest.clone();
        summary.layers += 1;
        let (written, deleted) = match seen.0.get(&digest) {
            Some(known) => {
                summary.shared += 1;
                (known.written.clone(), known.deleted.clone())
            }
            None => {
                let reader = match image.open_layer(i) {
                    Ok(r) => r,
                    Err(e) => {
                        out.error(format!("{shown}!/{digest}"), e.to_string());
                        continue;
                    }
                };
                let mut visit = layer::Visit {
                    engine,
                    out,
                    scratch: &mut scratch,
                    findings: &mut findings,
                    base: &base,
                    layer_index: i,
                    digest: &digest,
                    image: &shown,
                    max_file_size: opts.max_file_size,
                    files: 0,
                    written: Vec::new(),
                    deleted: Vec::new(),
                };
                let walked = layer::walk(reader, opts.max_layer, &mut visit);
                summary.files += visit.files;
                let paths = LayerPaths {
                    written: visit.written,
                    deleted: visit.deleted,
                };
                match walked {
                    // Only a layer read whole counts as scanned for later images.
                    Ok(()) => {
                        seen.0.insert(digest.clone(), paths.clone());
                    }
                    Err(e) => out.error(format!("{shown}!/{digest}"), e),
                }
                (paths.written, paths.deleted)
            }
        };
        for path in deleted {
            // Everything at or under `path` an earlier layer wrote.
            for (p, by) in last_writer.range(path.clone()..) {
                if p != &path && !p.starts_with(&format!("{path}/")) {
                    break;
                }
                removed.insert((p.clone(), *by), i);
            }
        }
        for path in written {
            if let Some(by) = last_writer.insert(path.clone(), i) {
                removed.entry((path, by)).or_insert(i);
            }
        }
    }
    // Say which findings are in files the final image no longer shows.
    for f in &mut findings {
        let Some(n) = f.location.layer_number else {
            continue;
        };
        let index = (n as usize).saturating_sub(1);
        if let Some(by) = removed.get(&(f.location.path.clone(), index)) {
            f.location.removed_by_layer = Some(*by as u64 + 1);
        }
    }
    out.findings(findings);
    Ok(summary)
}
