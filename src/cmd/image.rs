//! `cybrid-scan image IMAGE...`: container images from `docker save`
//! archives and OCI layouts, one after another, each layer once per run.

use anyhow::Result;
use cybrid_scan::cli::ImageArgs;
use cybrid_scan::collect::Unit;
use cybrid_scan::exit::Outcome;
use cybrid_scan::source::image::{scan_image, ImageOptions, SeenLayers};

use super::pipeline::Pipeline;

/// Default for `--max-layer-size`.
const DEFAULT_MAX_LAYER: u64 = 8 << 30;

pub fn run(args: ImageArgs) -> Result<Outcome> {
    // Nothing in an image is trusted for settings: only --config counts.
    let mut pipeline = Pipeline::start(&args.common, None)?;
    let opts = ImageOptions {
        max_file_size: pipeline.settings.max_file_size,
        max_layer: args.max_layer_size.unwrap_or(DEFAULT_MAX_LAYER),
        platform: args.platform.clone(),
    };
    let mut seen = SeenLayers::default();
    for spec in &args.images {
        match scan_image(
            spec,
            &opts,
            &pipeline.engine,
            &pipeline.collector,
            &mut seen,
        ) {
            Ok(summary) => {
                if summary.shared > 0 {
                    pipeline.note(format!(
                        "{spec}: {} of its {} layer(s) were scanned already for an earlier image of this run",
                        summary.shared, summary.layers
                    ));
                }
            }
            Err(e) => pipeline.collector.input_failed(spec.clone(), e.to_string()),
        }
    }
    pipeline.finish(Unit::Files)
}
