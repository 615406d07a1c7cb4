//! Tensor conversion: validated IDX images and labels into data-core
//! [`Split`]s of `f32` images `[N, rows, cols]` and `i64` labels, with the
//! validation hold-out.

use data_core::{Holdout, Split};
use tch::{Kind, Tensor};

use crate::error::{DataError, Result};
use crate::idx::{IdxImages, IdxLabels};

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
/// let holdout = data_core::stratified_holdout(&labels.labels, 2, 0);
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
        return Ok((Split::new(scale(&pixels)?, labels), None));
    };
    let pick = |idx: &[i64]| -> Result<Split> {
        let idx = Tensor::f_from_slice(idx)?;
        Ok(Split::new(scale(&pixels.f_index_select(0, &idx)?)?, labels.f_index_select(0, &idx)?))
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
