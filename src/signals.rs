//! SIGINT and SIGTERM during training, handled the async-signal-safe way:
//! the handler only stores into atomics and writes a fixed message with
//! `write(2)`; the training loop polls the stop flag after each step,
//! checkpoints and returns. A second signal ends the process at once with
//! `_exit` (which, unlike `process::exit`, runs no destructors or atexit
//! handlers while libtorch's threads are still working).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by the first SIGINT or SIGTERM: the trainer stops after the current step.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The first signal received (0 for none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Whether training is over (the final evaluation and saving run): a first
/// signal then says so instead of promising a checkpoint.
static TRAINING_DONE: AtomicBool = AtomicBool::new(false);

/// Exit status after SIGINT (128 + 2).
pub const INTERRUPTED: u8 = 130;
/// Exit status after SIGTERM (128 + 15).
pub const TERMINATED: u8 = 143;

const DURING_TRAINING: &[u8] =
    b"\ninterrupt: stopping after this step and writing a checkpoint (signal again to quit at once, losing the steps since the last checkpoint)\n";
const AFTER_TRAINING: &[u8] =
    b"\ninterrupt: training is over; the test evaluation and saving of the run continue (signal again to quit at once without saving the model)\n";

extern "C" fn handle(signal: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        let code = if signal == libc::SIGTERM { TERMINATED } else { INTERRUPTED };
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(i32::from(code)) };
    }
    SIGNAL.store(signal, Ordering::SeqCst);
    let message = if TRAINING_DONE.load(Ordering::SeqCst) { AFTER_TRAINING } else { DURING_TRAINING };
    // SAFETY: write(2) is async-signal-safe; the buffer is a static.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler address and an empty mask
        // is valid; the handler only touches atomics and calls write/_exit.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handle as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                tracing::warn!(signal, "signal handler not installed: the signal will stop without a checkpoint");
            }
        }
    }
}

/// Marks training as over: a signal from now on says that evaluation and saving continue.
pub fn training_done() {
    TRAINING_DONE.store(true, Ordering::SeqCst);
}

/// The exit status for the signal that stopped training: 143 after SIGTERM, else 130.
pub fn exit_status() -> u8 {
    if SIGNAL.load(Ordering::SeqCst) == libc::SIGTERM {
        TERMINATED
    } else {
        INTERRUPTED
    }
}

/// The signal's name, for messages.
pub fn name() -> &'static str {
    if SIGNAL.load(Ordering::SeqCst) == libc::SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    }
}
