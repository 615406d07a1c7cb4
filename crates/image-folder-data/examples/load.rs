//! Loads an image folder and reports how fast: images per second of reading,
//! decoding, resizing and inverting (the whole of `image_folder_data::load_with_report`).
//!
//! ```sh
//! cargo run --release -p image-folder-data --example load -- DIR [SIZE]
//! ```

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: load DIR [SIZE]");
        std::process::exit(2);
    };
    let mut config = image_folder_data::ImageFolderConfig::from_dir(dir);
    if let Some(side) = args.next().and_then(|s| s.parse().ok()) {
        config.size = image_folder_data::ImageSize { height: side, width: side };
    }
    let start = Instant::now();
    match image_folder_data::load_with_report(&config) {
        Ok((data, r)) => {
            let total = start.elapsed().as_secs_f64();
            println!(
                "{} images ({} inverted) of {} classes in {:.2} s reading ({:.0} images/s), {:.2} s in all; {} rayon threads",
                r.images,
                r.inverted,
                data.class_names.len(),
                r.seconds,
                r.images as f64 / r.seconds,
                total,
                rayon::current_num_threads()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
