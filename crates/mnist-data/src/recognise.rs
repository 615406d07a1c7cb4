//! Recognises the files of a named dataset in any folder by their SHA-256, so
//! that `data.dir=/usr/share/datasets/fashion-mnist` gets Fashion-MNIST's
//! class names without `data.dataset`.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::datasets::{NamedDataset, NAMED};

/// SHA-256 of the decompressed label files (train, test) of the named
/// datasets, for folders whose files were unpacked; computed from the
/// official files. (Only the published, gzipped sums are known for MNIST,
/// whose class names are the digits anyway.)
const RAW_LABEL_SUMS: [(&str, &str, &str); 1] = [(
    "fashion-mnist",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
)];

/// SHA-256 of a file, lower-case hex, streamed; `None` when it cannot be read.
fn sha256_of(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf).ok()? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Some(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The named dataset whose official training and test label files these are
/// (gzipped as published, or unpacked), if any. Only the small label files
/// are hashed; a file that cannot be read is simply not recognised.
pub fn recognise(train_labels: &Path, test_labels: &Path) -> Option<NamedDataset> {
    identify(&sha256_of(train_labels)?, &sha256_of(test_labels)?)
}

/// The named dataset whose training and test label files have these SHA-256 sums.
fn identify(train: &str, test: &str) -> Option<NamedDataset> {
    NAMED.into_iter().find(|d| {
        let published = d.files[1].sha256 == train && d.files[3].sha256 == test;
        let raw = RAW_LABEL_SUMS.iter().any(|&(name, tr, te)| name == d.name && tr == train && te == test);
        published || raw
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::{FASHION_MNIST, MNIST};

    #[test]
    fn identifies_by_both_label_sums() {
        for d in NAMED {
            assert_eq!(identify(d.files[1].sha256, d.files[3].sha256), Some(d));
            assert_eq!(identify(d.files[3].sha256, d.files[1].sha256), None);
        }
        assert_eq!(identify(MNIST.files[1].sha256, FASHION_MNIST.files[3].sha256), None);
        assert_eq!(identify(RAW_LABEL_SUMS[0].1, RAW_LABEL_SUMS[0].2), Some(FASHION_MNIST));
    }

    #[test]
    #[ignore = "needs dataset-fashion-mnist"]
    fn recognises_fashion_mnist_gzipped_or_unpacked_and_nothing_else() {
        let dir = Path::new(FASHION_MNIST.system_dirs[0]);
        let train = dir.join("train-labels-idx1-ubyte.gz");
        let test = dir.join("t10k-labels-idx1-ubyte.gz");
        assert!(
            train.is_file(),
            "needs dataset-fashion-mnist: {} missing; install the test tools with scripts/setup-test-tools.sh",
            train.display()
        );
        assert_eq!(recognise(&train, &test), Some(FASHION_MNIST));
        // Unpacked copies are recognised too.
        let tmp = tempfile::tempdir().unwrap();
        let unpack = |from: &Path, name: &str| {
            let mut bytes = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(from).unwrap()).read_to_end(&mut bytes).unwrap();
            std::fs::write(tmp.path().join(name), bytes).unwrap();
            tmp.path().join(name)
        };
        let (raw_train, raw_test) = (unpack(&train, "train"), unpack(&test, "test"));
        assert_eq!(recognise(&raw_train, &raw_test), Some(FASHION_MNIST));
        // Swapped, or the shipped digit sample: not recognised.
        assert_eq!(recognise(&test, &train), None);
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-sample");
        let sample_sums = (sample.join("train-labels-idx1-ubyte.gz"), sample.join("t10k-labels-idx1-ubyte.gz"));
        assert_eq!(recognise(&sample_sums.0, &sample_sums.1), None);
        assert_eq!(recognise(&tmp.path().join("missing"), &raw_test), None);
    }
}
