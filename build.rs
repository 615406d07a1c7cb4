fn main() {
    torch_build::link_libtorch();
    // For `lstm-mnist env --cargo-config`: the libtorch built against (`env` itself
    // reports the libtorch loaded at run time, and whether its CUDA library is).
    if let Some(dir) = torch_build::lib_dir() {
        println!("cargo:rustc-env=LSTM_MNIST_LIBTORCH_LIB={}", dir.display());
    }
    // Shared libraries (libgomp) must bind to the binary's `getenv` (src/main.rs).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=getenv");
    }
}
