//! Where an image's parts are: the configuration and the layers, in order,
//! from a `docker save` archive or an OCI image layout.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::reference::RegistryRef;
use super::registry::Registry;
use super::ImageRef;

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{0}: not an image reference (give REGISTRY/NAME:TAG, REGISTRY/NAME@DIGEST, docker-archive:FILE or oci:DIR[:TAG])")]
    Unsupported(String),
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
    /// A registry's refusal or fault, which names the image itself.
    #[error("{0}")]
    Registry(String),
}

fn unreadable(path: &Path, message: impl std::fmt::Display) -> LayoutError {
    LayoutError::Unreadable {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// One layer: its digest and where its bytes are.
#[derive(Debug, Clone)]
pub struct LayerRef {
    pub digest: String,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// `size` bytes at `offset` of a tar file.
    InTar {
        file: PathBuf,
        offset: u64,
        size: u64,
    },
    /// A blob file of an OCI layout.
    Blob(PathBuf),
    /// A blob of a registry's repository, fetched when read.
    Remote(Arc<Registry>),
}

/// An image's configuration and layers.
#[derive(Debug)]
pub struct Image {
    /// The manifest's digest (OCI), or the configuration's (docker-archive).
    pub digest: String,
    pub config: Vec<u8>,
    pub layers: Vec<LayerRef>,
}

impl Image {
    /// A reader over layer `i`'s (still compressed) bytes.
    pub fn open_layer(&mut self, i: usize) -> Result<Box<dyn Read>, LayoutError> {
        let Some(layer) = self.layers.get(i) else {
            return Err(LayoutError::Unsupported(format!("layer {i}")));
        };
        match &layer.source {
            Source::InTar { file, offset, size } => {
                let mut f = File::open(file).map_err(|e| unreadable(file, e))?;
                f.seek(SeekFrom::Start(*offset))
                    .map_err(|e| unreadable(file, e))?;
                Ok(Box::new(f.take(*size)))
            }
            Source::Blob(path) => Ok(Box::new(File::open(path).map_err(|e| unreadable(path, e))?)),
            Source::Remote(registry) => registry
                .blob(&layer.digest)
                .map(|r| r as Box<dyn Read>)
                .map_err(|e| LayoutError::Registry(e.to_string())),
        }
    }
}

/// Find the image `image_ref` names; `platform` picks from a multi-platform index.
pub fn open(image_ref: &ImageRef, platform: Option<&str>) -> Result<Image, LayoutError> {
    match image_ref {
        ImageRef::DockerArchive(file) => docker_archive(file),
        ImageRef::Oci { dir, tag } => oci(dir, tag.as_deref(), platform),
        ImageRef::Registry(r) => pull(r, platform),
    }
}

/// An image's manifest and configuration from its registry; the layers are
/// fetched as they are scanned.
fn pull(r: &RegistryRef, platform: Option<&str>) -> Result<Image, LayoutError> {
    let failed = |e: super::registry::RegistryError| LayoutError::Registry(e.to_string());
    let registry = Arc::new(Registry::connect(r).map_err(failed)?);
    let (mut manifest, mut digest) = registry.manifest(&r.reference).map_err(failed)?;
    for _ in 0..4 {
        let Some(list) = manifest["manifests"].as_array() else {
            break;
        };
        let chosen = pick_platform(list, platform).ok_or_else(|| LayoutError::Unreadable {
            path: registry.name.clone(),
            message: format!(
                "no image for platform {}",
                platform.unwrap_or(DEFAULT_PLATFORM)
            ),
        })?;
        let inner = chosen["digest"].as_str().unwrap_or_default().to_string();
        (manifest, digest) = registry.manifest(&inner).map_err(failed)?;
    }
    if manifest["schemaVersion"].as_u64() == Some(1) || manifest["fsLayers"].is_array() {
        return Err(LayoutError::Unreadable {
            path: registry.name.clone(),
            message: "a schema 1 manifest (deprecated since 2017): not supported".to_string(),
        });
    }
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let config = registry.small_blob(&config_digest).map_err(failed)?;
    let layers = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| LayerRef {
            digest: l["digest"].as_str().unwrap_or_default().to_string(),
            source: Source::Remote(Arc::clone(&registry)),
        })
        .collect();
    Ok(Image {
        digest,
        config,
        layers,
    })
}

/// What a multi-platform index is read for when `--platform` is not given.
const DEFAULT_PLATFORM: &str = "linux/amd64";

/// The entry of an index for `platform` (default linux/amd64, else the first).
fn pick_platform<'a>(list: &'a [Value], platform: Option<&str>) -> Option<&'a Value> {
    let want = platform.unwrap_or(DEFAULT_PLATFORM);
    list.iter()
        .find(|m| platform_of(m) == want || platform_of(m).starts_with(&format!("{want}/")))
        .or_else(|| platform.is_none().then(|| list.first()).flatten())
}

/// Bytes of JSON documents read whole (manifests, configurations) at most.
const MAX_JSON: u64 = 64 << 20;

fn docker_archive(file: &Path) -> Result<Image, LayoutError> {
    let f = File::open(file).map_err(|e| unreadable(file, e))?;
    let mut archive = tar::Archive::new(f);
    let mut entries: HashMap<String, (u64, u64)> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut manifest = None;
    for entry in archive.entries().map_err(|e| unreadable(file, e))? {
        let mut entry = entry.map_err(|e| unreadable(file, format!("damaged tar: {e}")))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().trim_start_matches("./").to_string())
            .unwrap_or_default();
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Ok(Some(target)) = entry.link_name() {
                let target = target.to_string_lossy().to_string();
                let resolved = match Path::new(&name).parent() {
                    Some(dir) if kind.is_symlink() => normalize(&dir.join(&target)),
                    _ => target,
                };
                links.insert(name, resolved);
            }
            continue;
        }
        entries.insert(name.clone(), (entry.raw_file_position(), entry.size()));
        if name == "manifest.json" {
            let mut text = Vec::new();
            (&mut entry)
                .take(MAX_JSON)
                .read_to_end(&mut text)
                .map_err(|e| unreadable(file, e))?;
            manifest = Some(text);
        }
    }
    let manifest =
        manifest.ok_or_else(|| unreadable(file, "no manifest.json: not a docker save archive"))?;
    let manifest: Value = serde_json::from_slice(&manifest)
        .map_err(|e| unreadable(file, format!("manifest.json: {e}")))?;
    let first = manifest
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| unreadable(file, "manifest.json names no image"))?;
    let locate = |name: &str| -> Option<(u64, u64)> {
        let name = links.get(name).map_or(name, String::as_str);
        entries.get(name).copied()
    };
    let config_name = first["Config"].as_str().unwrap_or_default();
    let (offset, size) = locate(config_name)
        .ok_or_else(|| unreadable(file, format!("configuration {config_name} missing")))?;
    let config = read_at(file, offset, size.min(MAX_JSON))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let diff_ids: Vec<String> = serde_json::from_slice::<Value>(&config)
        .ok()
        .and_then(|c| c["rootfs"]["diff_ids"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut layers = Vec::new();
    for (i, name) in first["Layers"].as_array().into_iter().flatten().enumerate() {
        let name = name.as_str().unwrap_or_default();
        let (offset, size) =
            locate(name).ok_or_else(|| unreadable(file, format!("layer {name} missing")))?;
        layers.push(LayerRef {
            digest: diff_ids.get(i).cloned().unwrap_or_else(|| name.to_string()),
            source: Source::InTar {
                file: file.to_path_buf(),
                offset,
                size,
            },
        });
    }
    Ok(Image {
        digest,
        config,
        layers,
    })
}

fn oci(dir: &Path, tag: Option<&str>, platform: Option<&str>) -> Result<Image, LayoutError> {
    let index_path = dir.join("index.json");
    let index = read_json(&index_path)?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let chosen = match tag {
        Some(t) => manifests
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str() == Some(t)),
        None => manifests.first(),
    }
    .ok_or_else(|| {
        unreadable(
            &index_path,
            match tag {
                Some(t) => format!("no image tagged {t}"),
                None => "no image".to_string(),
            },
        )
    })?;
    let mut descriptor = chosen.clone();
    // A multi-platform index: pick the platform asked for (default linux/amd64).
    for _ in 0..4 {
        let media = descriptor["mediaType"].as_str().unwrap_or_default();
        if !(media.contains("index") || media.contains("manifest.list")) {
            break;
        }
        let inner = read_json(&blob_path(dir, &descriptor)?)?;
        let list = inner["manifests"].as_array().cloned().unwrap_or_default();
        descriptor = pick_platform(&list, platform).cloned().ok_or_else(|| {
            unreadable(
                &index_path,
                format!(
                    "no image for platform {}",
                    platform.unwrap_or(DEFAULT_PLATFORM)
                ),
            )
        })?;
    }
    let digest = descriptor["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let manifest = read_json(&blob_path(dir, &descriptor)?)?;
    let config_path = blob_path(dir, &manifest["config"])?;
    let config = read_at(&config_path, 0, MAX_JSON)?;
    let mut layers = Vec::new();
    for l in manifest["layers"].as_array().into_iter().flatten() {
        layers.push(LayerRef {
            digest: l["digest"].as_str().unwrap_or_default().to_string(),
            source: Source::Blob(blob_path(dir, l)?),
        });
    }
    Ok(Image {
        digest,
        config,
        layers,
    })
}

fn platform_of(m: &Value) -> String {
    let p = &m["platform"];
    let mut s = format!(
        "{}/{}",
        p["os"].as_str().unwrap_or(""),
        p["architecture"].as_str().unwrap_or("")
    );
    if let Some(v) = p["variant"].as_str() {
        s.push('/');
        s.push_str(v);
    }
    s
}

/// `blobs/ALG/HEX` of a descriptor, refusing digests that would leave the layout.
fn blob_path(dir: &Path, descriptor: &Value) -> Result<PathBuf, LayoutError> {
    let digest = descriptor["digest"].as_str().unwrap_or_default();
    match digest.split_once(':') {
        Some((alg, hex))
            if !alg.is_empty()
                && alg.bytes().all(|b| b.is_ascii_alphanumeric())
                && !hex.is_empty()
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(dir.join("blobs").join(alg).join(hex))
        }
        _ => Err(unreadable(dir, format!("invalid digest {digest:?}"))),
    }
}

fn read_json(path: &Path) -> Result<Value, LayoutError> {
    let bytes = read_at(path, 0, MAX_JSON)?;
    serde_json::from_slice(&bytes).map_err(|e| unreadable(path, format!("not JSON: {e}")))
}

fn read_at(path: &Path, offset: u64, size: u64) -> Result<Vec<u8>, LayoutError> {
    let mut f = File::open(path).map_err(|e| unreadable(path, e))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| unreadable(path, e))?;
    let mut out = Vec::new();
    f.take(size)
        .read_to_end(&mut out)
        .map_err(|e| unreadable(path, e))?;
    Ok(out)
}

/// `a/./b/../c` -> `a/c` (tar symlink targets are relative).
fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().to_string()),
            _ => {}
        }
    }
    parts.join("/")
}
