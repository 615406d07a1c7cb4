// Links libtorch with an rpath to it: the binary runs without LD_LIBRARY_PATH.
fn main() {
    torch_build::link_libtorch();
}
