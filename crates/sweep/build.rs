//! Links libtorch, with an rpath to it, through torch-build.
fn main() {
    torch_build::link_libtorch();
}
