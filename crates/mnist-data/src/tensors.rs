//! Tensor conversion: validated IDX images and labels into [`Split`]s of
//! `f32` images and `i64` labels, the validation hold-out, standardisation.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{DataError, Result};
use crate::idx::{IdxImages, IdxLabels};
use crate::split::Holdout;
use crate::Dataset;

/// The mean and standard deviation used by [`Normalize::Standardize`](crate::Normalize::Standardize).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// Mean pixel value (after scaling to `[0, 1]`) of the training split.
    pub mean: f64,
    /// Standard deviation of the same.
    pub std: f64,
}

/// One split as tensors: images `[N, rows, cols]` `f32`, labels `[N]` `i64`.
#[derive(Debug)]
pub struct Split {
    /// Pixel values, scaled to `[0, 1]` or standardised (see [`Normalize`](crate::Normalize)).
    pub images: Tensor,
    /// Class indices.
    pub labels: Tensor,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    /// Whether the split holds no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks that images and labels agree and that every label is below `classes`.
pub(crate) fn check_pair(images: &IdxImages, labels: &IdxLabels, classes: usize) -> Result<()> {
    if images.count != labels.labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images.path.clone(),
            labels_path: labels.path.clone(),
            images: images.count,
            labels: labels.labels.len(),
        });
    }
    if let Some((index, &label)) = labels.labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= classes) {
        return Err(DataError::LabelOutOfRange { path: labels.path.clone(), index, label, classes });
    }
    Ok(())
}

/// Turns IDX images and labels into tensors, pixels scaled to `[0, 1]`,
/// after checking that they agree and that every label is below `classes`.
/// With a `holdout` (indices into these examples), the second split holds
/// its validation examples and the first the others; without, the first
/// holds them all. [`load`](crate::load) converts both of its splits this way.
///
/// ```
/// use mnist_data::idx::{IdxImages, IdxLabels};
/// let images = IdxImages { path: "i".into(), count: 4, rows: 1, cols: 2, pixels: vec![0, 255, 51, 102, 0, 0, 9, 9] };
/// let labels = IdxLabels { path: "l".into(), labels: vec![0, 1, 0, 1] };
/// let holdout = mnist_data::split::stratified_holdout(&labels.labels, 2, 0);
/// let (train, validation) = mnist_data::to_splits(&images, &labels, 2, Some(&holdout))?;
/// assert_eq!((train.len(), validation.map(|v| v.len())), (2, Some(2)));
/// # Ok::<(), mnist_data::DataError>(())
/// ```
pub fn to_splits(
    images: &IdxImages,
    labels: &IdxLabels,
    classes: usize,
    holdout: Option<&Holdout>,
) -> Result<(Split, Option<Split>)> {
    check_pair(images, labels, classes)?;
    let (pixels, labels) = raw_tensors(images, labels)?;
    let Some(holdout) = holdout else {
        return Ok((Split { images: scale(&pixels)?, labels }, None));
    };
    let pick = |idx: &[i64]| -> Result<Split> {
        let idx = Tensor::f_from_slice(idx)?;
        Ok(Split { images: scale(&pixels.f_index_select(0, &idx)?)?, labels: labels.f_index_select(0, &idx)? })
    };
    Ok((pick(&holdout.train)?, Some(pick(&holdout.validation)?)))
}

/// Pixels as a `[N, rows, cols]` `u8` tensor and labels as `[N]` `i64`.
fn raw_tensors(images: &IdxImages, labels: &IdxLabels) -> Result<(Tensor, Tensor)> {
    let shape = [images.count as i64, images.rows as i64, images.cols as i64];
    let pixels = Tensor::f_from_slice(&images.pixels)?.f_reshape(shape)?;
    let labels = Tensor::f_from_slice(&labels.labels)?.f_to_kind(Kind::Int64)?;
    Ok((pixels, labels))
}

/// `u8` pixels to `f32` in `[0, 1]`.
fn scale(pixels: &Tensor) -> Result<Tensor> {
    Ok(pixels.f_to_kind(Kind::Float)?.f_div_scalar_(255.0)?)
}

/// Standardises every split with the training split's mean and standard
/// deviation (`data.normalize: "standardize"`); `train_path` names the file
/// when the training pixels are constant.
pub(crate) fn standardize(data: &mut Dataset, train_path: &Path) -> Result<()> {
    let mean = data.train.images.f_mean(Kind::Double)?.f_double_value(&[])?;
    let std = data.train.images.f_std(true)?.f_double_value(&[])?;
    if std.is_nan() || std <= 0.0 {
        return Err(DataError::BadSize {
            path: train_path.to_owned(),
            detail: "every training pixel has the same value, so it cannot be standardised".into(),
        });
    }
    for split in std::iter::once(&mut data.train).chain(data.validation.as_mut()).chain(std::iter::once(&mut data.test))
    {
        split.images = split.images.f_sub_scalar(mean)?.f_div_scalar_(std)?;
    }
    data.standardization = Some(Standardization { mean, std });
    Ok(())
}
