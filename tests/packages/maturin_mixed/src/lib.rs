use pyo3::prelude::*;

/// Add two integers.
#[pyfunction]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// A marker string; tests edit "v1" to check that rebuilds pick up changes.
#[pyfunction]
fn greeting() -> &'static str {
    "hello v1"
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(greeting, m)?)?;
    Ok(())
}
