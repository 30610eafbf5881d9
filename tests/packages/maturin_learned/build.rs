// Passes MY_FLAVOR to the crate; cargo reruns this script when MY_FLAVOR changes.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MY_FLAVOR");
    let flavor = std::env::var("MY_FLAVOR").unwrap_or_else(|_| "unset".to_string());
    println!("cargo:rustc-env=FLAVOR={flavor}");
}
