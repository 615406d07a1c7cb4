fn main() {
    torch_build::link_libtorch();
    // Shared libraries (libgomp) must bind to the binary's `getenv` (src/main.rs).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=getenv");
    }
}
