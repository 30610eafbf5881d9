//! Generates many small `#[pyfunction]`s so that compiling this crate takes
//! a noticeable few seconds on its own (on top of pyo3), which is what the
//! wheelmemo demo wants to show being skipped on a cached build.
//!
//! Set WHEELMEMO_EXAMPLE_FUNCTIONS to change how many are generated.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=WHEELMEMO_EXAMPLE_FUNCTIONS");
    let count: usize = env::var("WHEELMEMO_EXAMPLE_FUNCTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);

    let mut code = String::new();
    for i in 0..count {
        // Each function does a little arithmetic so the optimiser has work.
        writeln!(
            code,
            "/// Generated function number {i}.\n\
             #[pyfunction]\n\
             fn gen_{i:04}(x: i64) -> i64 {{\n    \
                 let mut acc = x.wrapping_mul({m});\n    \
                 for k in 0..{r} {{ acc = acc.rotate_left(k) ^ {i}; }}\n    \
                 acc\n\
             }}\n",
            m = 2 * i + 1,
            r = i % 7 + 1,
        )
        .unwrap();
    }
    code.push_str("fn register_generated(m: &Bound<'_, PyModule>) -> PyResult<()> {\n");
    for i in 0..count {
        writeln!(code, "    m.add_function(wrap_pyfunction!(gen_{i:04}, m)?)?;").unwrap();
    }
    code.push_str("    Ok(())\n}\n\n");
    writeln!(code, "const GENERATED_COUNT: usize = {count};").unwrap();

    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("generated.rs");
    fs::write(out, code).unwrap();
}
