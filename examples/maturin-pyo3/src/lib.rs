//! Example extension module for the wheelmemo demo.
//!
//! A handful of hand-written functions plus 500 generated ones (see
//! build.rs) so that a cold build of this crate takes a few seconds.

use pyo3::prelude::*;

include!(concat!(env!("OUT_DIR"), "/generated.rs"));

/// Sum of the integers in `values`.
#[pyfunction]
fn total(values: Vec<i64>) -> i64 {
    values.iter().sum()
}

/// The first `n` prime numbers (simple trial division).
#[pyfunction]
fn primes(n: usize) -> Vec<u64> {
    let mut found: Vec<u64> = Vec::with_capacity(n);
    let mut candidate = 2u64;
    while found.len() < n {
        if found.iter().take_while(|p| *p * *p <= candidate).all(|p| candidate % p != 0) {
            found.push(candidate);
        }
        candidate += 1;
    }
    found
}

/// Count words separated by whitespace.
#[pyfunction]
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// A marker string; edit it to watch wheelmemo rebuild.
#[pyfunction]
fn greeting() -> &'static str {
    "hello from Rust v1"
}

/// How many generated functions this build contains.
#[pyfunction]
fn generated_count() -> usize {
    GENERATED_COUNT
}

#[pymodule]
fn maturin_pyo3_example(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(total, m)?)?;
    m.add_function(wrap_pyfunction!(primes, m)?)?;
    m.add_function(wrap_pyfunction!(word_count, m)?)?;
    m.add_function(wrap_pyfunction!(greeting, m)?)?;
    m.add_function(wrap_pyfunction!(generated_count, m)?)?;
    register_generated(m)?;
    Ok(())
}
