//! Writes an IDX dataset (the four MNIST-family files) as an image folder:
//! `OUT/train/<class>/<index>.png` and `OUT/test/<class>/<index>.png`.
//!
//! ```sh
//! cargo run --release -p mnist-data --example idx_to_folder -- IDX_DIR OUT_DIR \
//!     [--names zero,one,...] [--train N] [--test N] [--scale K] [--invert]
//! ```
//!
//! `--names` gives the class folder names (default `0`..`9`), `--train` and
//! `--test` keep only the first N images of each split, `--scale` enlarges
//! each image K times (nearest neighbour), `--invert` writes dark on light.

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, GrayImage};
use rayon::prelude::*;

struct Args {
    idx_dir: PathBuf,
    out: PathBuf,
    names: Vec<String>,
    limits: [Option<usize>; 2],
    scale: u32,
    invert: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut parsed = Args {
        idx_dir: PathBuf::new(),
        out: PathBuf::new(),
        names: (0..10).map(|d| d.to_string()).collect(),
        limits: [None, None],
        scale: 1,
        invert: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |text: String| text.parse::<usize>().map_err(|e| format!("{text}: {e}"));
        match arg.as_str() {
            "--names" => parsed.names = value("--names")?.split(',').map(str::to_owned).collect(),
            "--train" => parsed.limits[0] = Some(number(value("--train")?)?),
            "--test" => parsed.limits[1] = Some(number(value("--test")?)?),
            "--scale" => parsed.scale = number(value("--scale")?)?.clamp(1, 64) as u32,
            "--invert" => parsed.invert = true,
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [idx_dir, out] = <[PathBuf; 2]>::try_from(positional).map_err(|_| {
        "usage: idx_to_folder IDX_DIR OUT_DIR [--names a,b,..] [--train N] [--test N] [--scale K] [--invert]"
    })?;
    Ok(Args { idx_dir, out, ..parsed })
}

fn write_split(args: &Args, stem: &str, split: &str, limit: Option<usize>) -> Result<usize, String> {
    let (images, labels) = mnist_data::load_split(&args.idx_dir, stem).map_err(|e| e.to_string())?;
    let count = limit.map_or(images.count, |n| n.min(images.count));
    let size = images.rows * images.cols;
    for name in &args.names {
        let dir = args.out.join(split).join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    (0..count).into_par_iter().try_for_each(|i| {
        let label = usize::from(labels.labels[i]);
        let name = args.names.get(label).ok_or(format!("label {label} but only {} --names", args.names.len()))?;
        let mut pixels = images.pixels[i * size..(i + 1) * size].to_vec();
        if args.invert {
            pixels.iter_mut().for_each(|p| *p = 255 - *p);
        }
        let (w, h) = (images.cols as u32, images.rows as u32);
        let image = GrayImage::from_raw(w, h, pixels).ok_or("IDX image of rows x cols bytes")?;
        let image = image::imageops::resize(&image, w * args.scale, h * args.scale, FilterType::Nearest);
        let path: PathBuf = Path::new(&args.out).join(split).join(name).join(format!("{i:05}.png"));
        image.save(&path).map_err(|e| format!("{}: {e}", path.display()))
    })?;
    Ok(count)
}

fn main() {
    let run = || -> Result<(), String> {
        let args = parse()?;
        let train = write_split(&args, "train", "train", args.limits[0])?;
        let test = write_split(&args, "t10k", "test", args.limits[1])?;
        println!(
            "{}: {train} training and {test} test images in {} class folders",
            args.out.display(),
            args.names.len()
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
