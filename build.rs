fn main() {
    torch_build::link_libtorch();
    // For `lstm-mnist env`: the libtorch built against, and whether the build is CPU-only.
    if let Some(dir) = torch_build::lib_dir() {
        println!("cargo:rustc-env=LSTM_MNIST_LIBTORCH_LIB={}", dir.display());
    }
    let cpu_only = torch_build::LinkOptions::from_env().cpu_only;
    println!("cargo:rustc-env=LSTM_MNIST_CPU_ONLY_BUILD={}", u8::from(cpu_only));
    // Shared libraries (libgomp) must bind to the binary's `getenv` (src/main.rs).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=getenv");
    }
}
