use pyo3::prelude::*;

/// MY_FLAVOR as the build script saw it.
#[pyfunction]
fn flavor() -> &'static str {
    env!("FLAVOR")
}

/// The text of the (gitignored, generated) src/generated.txt.
#[pyfunction]
fn generated() -> &'static str {
    include_str!("generated.txt").trim_end()
}

/// The value of the path dependency outside the project.
#[pyfunction]
fn dep_value() -> &'static str {
    learned_dep::value()
}

#[pymodule]
fn maturin_learned(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(flavor, m)?)?;
    m.add_function(wrap_pyfunction!(generated, m)?)?;
    m.add_function(wrap_pyfunction!(dep_value, m)?)?;
    Ok(())
}
