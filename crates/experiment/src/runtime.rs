//! What every command sets up the same way: libtorch's threads and the device.

use tch::Device;

use crate::config::DeviceChoice;
use crate::ExperimentError;

/// The device `choice` names; an error for `"cuda"` without a usable GPU.
pub fn choose_device(choice: DeviceChoice) -> Result<Device, ExperimentError> {
    let device = match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Auto => Device::cuda_if_available(),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
        DeviceChoice::Cuda => return Err(ExperimentError::NoCuda),
    };
    tracing::info!(?device, cuda_devices = tch::Cuda::device_count(), "device chosen");
    Ok(device)
}

/// Sets libtorch's CPU threads (default: the physical cores); returns the number.
pub fn set_threads(threads: Option<usize>) -> usize {
    let threads = threads.unwrap_or_else(num_cpus::get_physical);
    tch::set_num_threads(threads as i32);
    tracing::info!(threads, "libtorch threads");
    crate::openmp::log_settings();
    threads
}
