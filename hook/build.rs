// `cargo test -p speedbump-hook` links libpython (maturin builds the
// extension without it); the rpath lets those test binaries find it.
// The `Py_3_X` cfgs select the call mechanism per Python version (see
// src/mechanism.rs).
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    pyo3_build_config::add_libpython_rpath_link_args();
}
