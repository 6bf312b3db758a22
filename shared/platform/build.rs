//! `include_dir!` embeds `migrations/` at compile time but does not tell Cargo to watch it:
//! without this, an edited or added migration would not reach the binaries until some other
//! source file of this crate changed.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=src");
}
