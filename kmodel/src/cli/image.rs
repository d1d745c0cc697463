//! `kmodel image show FILE`: a checkpoint image as JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::EXIT_BAD_INPUT;
use crate::container::Image;

/// What to do with an image.
#[derive(Debug, Subcommand)]
pub(super) enum ImageCommand {
    /// Print the image's header facts and every section's records as JSON
    /// (pages with bytes as runs like `'A'x4096`).
    ///
    /// Exit status: 0 ok, 2 the file cannot be read or is not a valid image.
    Show {
        /// The image file (written by `checkpoint FILE`).
        file: PathBuf,
    },
}

pub(super) fn cmd_image(cmd: &ImageCommand) -> ExitCode {
    match cmd {
        ImageCommand::Show { file } => show(file),
    }
}

fn show(file: &Path) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kmodel: {}: cannot read: {e}", file.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let image = match Image::decode(&bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("kmodel: {}: {e}", file.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let mut json = serde_json::json!({
        "file": file.display().to_string(),
        "bytes": bytes.len(),
        "format_version": u16::from_le_bytes([bytes[8], bytes[9]]),
    });
    if let (Some(obj), serde_json::Value::Object(rest)) = (json.as_object_mut(), image.to_json()) {
        obj.extend(rest);
    }
    outln!("{}", serde_json::to_string_pretty(&json).expect("JSON values print"));
    ExitCode::SUCCESS
}
