// `cargo test -p speedbump-hook` links libpython (maturin builds the
// extension without it); the rpath lets those test binaries find it.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
