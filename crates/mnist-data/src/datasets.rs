//! The named datasets of the MNIST family: where they live, where they can be
//! downloaded from, the SHA-256 of each official file and the class names.

use std::path::{Path, PathBuf};

/// One of the four files of a dataset, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name on the mirrors, for example `train-images-idx3-ubyte.gz`.
    pub name: &'static str,
    /// SHA-256 of the published file, lower-case hex.
    pub sha256: &'static str,
    /// Size of the published file in bytes: a download stops there.
    pub size: u64,
}

/// A dataset known by name: `data.dataset = "mnist"` or `"fashion-mnist"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedDataset {
    /// The name used in configs.
    pub name: &'static str,
    /// Folders searched, in order, when `data.dir` is not given (before the
    /// application's cache folder, see [`NamedDataset::default_dir`]).
    pub system_dirs: &'static [&'static str],
    /// Default mirrors (base URLs; the file name is appended).
    pub mirrors: &'static [&'static str],
    /// The four files: train images, train labels, test images, test labels.
    pub files: [RemoteFile; 4],
    /// One name per class index.
    pub class_names: [&'static str; 10],
}

/// MNIST handwritten digits. Mirrors and checksums as torchvision uses them
/// (torchvision lists MD5 sums; these SHA-256 sums are those published by
/// TensorFlow Datasets for the same files).
pub const MNIST: NamedDataset = NamedDataset {
    name: "mnist",
    system_dirs: &[],
    mirrors: &["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"],
    files: [
        RemoteFile {
            name: "train-images-idx3-ubyte.gz",
            sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            size: 9912422,
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz",
            sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            size: 28881,
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz",
            sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            size: 1648877,
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz",
            sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            size: 4542,
        },
    ],
    class_names: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
};

/// Zalando's Fashion-MNIST. Checksums computed from the official files
/// (Debian's `dataset-fashion-mnist`, which match torchvision's MD5 sums).
pub const FASHION_MNIST: NamedDataset = NamedDataset {
    name: "fashion-mnist",
    system_dirs: &["/usr/share/datasets/fashion-mnist"],
    mirrors: &["https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    files: [
        RemoteFile {
            name: "train-images-idx3-ubyte.gz",
            sha256: "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            size: 26421856,
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz",
            sha256: "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            size: 29491,
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz",
            sha256: "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            size: 4422079,
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz",
            sha256: "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
            size: 5125,
        },
    ],
    class_names: [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
};

/// All named datasets.
pub const NAMED: [NamedDataset; 2] = [MNIST, FASHION_MNIST];

impl NamedDataset {
    /// The class names as owned strings.
    pub fn class_names(&self) -> Vec<String> {
        self.class_names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The folder used when `data.dir` is not given: the first system folder
    /// that exists (Fashion-MNIST: `/usr/share/datasets/fashion-mnist`), else
    /// `<cache_dir>/<name>`; `None` when neither is available.
    pub fn default_dir(&self, cache_dir: Option<&Path>) -> Option<PathBuf> {
        let system = self.system_dirs.iter().map(PathBuf::from).find(|d| d.is_dir());
        system.or_else(|| cache_dir.map(|cache| cache.join(self.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sums_and_classes_are_well_formed() {
        for d in NAMED {
            for f in d.files {
                assert_eq!(f.sha256.len(), 64, "{}", f.name);
                assert!(f.size > 1000, "{}", f.name);
                assert!(f.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            }
            assert!(d.mirrors.iter().all(|m| m.starts_with("https://") && m.ends_with('/')));
            let cache = Path::new("/cache");
            if d.system_dirs.iter().all(|s| !Path::new(s).is_dir()) {
                assert_eq!(d.default_dir(Some(cache)), Some(cache.join(d.name)));
                assert_eq!(d.default_dir(None), None);
            }
        }
        assert_eq!(FASHION_MNIST.class_names()[9], "Ankle boot");
    }

    /// The sizes are those of the files the checksums are of, where a copy is installed.
    #[test]
    fn sizes_match_the_installed_files() {
        for d in NAMED {
            for dir in d.system_dirs {
                for f in d.files {
                    if let Ok(meta) = std::fs::metadata(std::path::Path::new(dir).join(f.name)) {
                        assert_eq!(meta.len(), f.size, "{dir}/{}", f.name);
                    }
                }
            }
        }
    }
}
